"""The seed-spread summary (pipeline/spread.py) on hand-made metrics of three seeds."""
from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from pipeline.spread import flatten, headline, long_table, noise_threshold, planted_link_checks, summarise


def _metrics(n: int, nmse: float, nasal: float, best: str, extra: bool = False) -> dict:
    female = {"selection": {"n_predictable": n}, "nmse": {"all_100": nmse}, "truth": {"precision": 1.0},
              "reconstruction": {"vertex_error_mm": 2.0, "vertex_error_mm_50": 2.5, "speakers": 15}}
    if extra:
        female["nmse"]["error_100"] = 0.5
    return {"reports/metrics.json": {"female": female, "ground_truth": True},
            "reports/phonemes/female.json": {"female": {"phonemes": {
                "best": best, "truth": {"nose_from_nasal": nasal, "nose_from_plosive": 0.05}}}}}


SEEDS = {2: _metrics(60, 0.80, 0.10, "nasal"), 0: _metrics(52, 0.90, 0.01, "front_vowel"),
         1: _metrics(56, 0.85, 0.07, "nasal", extra=True)}


def test_flatten_gives_dotted_leaves():
    assert flatten({"a": {"b": 1, "c": {"d": [1, 2]}}, "e": "x"}) == {"a.b": 1, "a.c.d": [1, 2], "e": "x"}


def test_summarise_hand_values():
    summary = summarise(SEEDS)
    n = summary["reports/metrics.json"]["female.selection.n_predictable"]
    assert n["seeds"] == [0, 1, 2] and n["values"] == [52.0, 56.0, 60.0]
    assert n["mean"] == 56.0 and n["sd"] == pytest.approx(4.0)  # ddof = 1: sqrt((16 + 0 + 16) / 2)
    assert (n["min"], n["max"], n["n"]) == (52.0, 60.0, 3)
    nmse = summary["reports/metrics.json"]["female.nmse.all_100"]
    assert nmse["mean"] == pytest.approx(0.85) and nmse["sd"] == pytest.approx(0.05)
    # a key only one seed has: summarised over that seed, no SD
    lone = summary["reports/metrics.json"]["female.nmse.error_100"]
    assert lone["seeds"] == [1] and lone["sd"] is None and lone["n"] == 1
    # booleans are not numbers; text is counted
    assert "ground_truth" not in summary["reports/metrics.json"]
    assert summary["reports/phonemes/female.json"]["female.phonemes.best"] == {"counts": {"front_vowel": 1, "nasal": 2}}


def test_planted_link_check_and_headline():
    checks = {s: planted_link_checks(m["reports/phonemes/female.json"], "female") for s, m in SEEDS.items()}
    assert checks[0]["female.phonemes.nose_nasal_above_plosive"] == 0.0
    assert checks[2]["female.phonemes.nose_nasal_minus_plosive"] == pytest.approx(0.05)
    assert planted_link_checks({"female": {"phonemes": {"n_phonemes": 0}}}, "female") == {}
    with_derived = {s: {**m, "derived": checks[s]} for s, m in SEEDS.items()}
    top = headline(summarise(with_derived), ["female"])
    assert "derived:female.phonemes.nose_nasal_above_plosive" in top
    assert top["derived:female.phonemes.nose_nasal_above_plosive"]["mean"] == pytest.approx(2 / 3)
    # every nmse key joins by its pattern; counts that are not headline (speakers) stay out
    assert {"reports/metrics.json:female.nmse.all_100", "reports/metrics.json:female.nmse.error_100",
            "reports/metrics.json:female.reconstruction.vertex_error_mm_50",
            "reports/phonemes/female.json:female.phonemes.truth.nose_from_nasal"} <= set(top)
    assert "reports/metrics.json:female.reconstruction.speakers" not in top
    assert "reports/phonemes/female.json:female.phonemes.best" not in top


def test_long_table_is_sorted_and_numeric():
    table = long_table(SEEDS)
    assert list(table["seed"].unique()) == [0, 1, 2]
    assert table["value"].dtype == float and not table["key"].str.contains("best").any()
    assert len(table) == 3 * 8 + 1  # 8 numbers per seed, error_100 once


def test_noise_threshold():
    assert noise_threshold({"sd": 0.05}) == pytest.approx(0.1)
    assert noise_threshold({"sd": None}) is None
    assert noise_threshold({"sd": math.nan}) is None


def test_headline_of_the_committed_run_covers_the_issues_metrics():
    """On the default run's own metric files (as `dvc metrics show` reads them), the headline
    holds every metric issue 30 names: precision/recall vs the oracle, declared counts, NMSE,
    the SfV / mean-face / regression / oracle errors, gap closed, matching."""
    root = Path(__file__).resolve().parents[1]
    files = ["reports/metrics.json", "reports/evaluation.json", "reports/phonemes/male.json"]
    run = {file: json.loads((root / file).read_text()) for file in files}
    top = headline(summarise({0: run, 1: run}), ["male"])
    wanted = ["truth.precision", "truth.recall", "selection.n_predictable", "selection.n_predictable_permutation",
              "nmse.all_100", "nmse.predictable", "reconstruction.vertex_error_mm", "baseline.mean_face_mm",
              "baseline.regression_mm", "baseline.oracle_ams_mm", "reconstruction.gap_closed", "matching_1v2"]
    assert {f"reports/metrics.json:male.{key}" for key in wanted} <= set(top)
    assert {"reports/evaluation.json:male.matching_1v2.regression",
            "reports/evaluation.json:male.matching_1v2.oracle_ams"} <= set(top)
    assert not any(key.startswith("reports/evaluation.json:male.region_mm") for key in top)
    assert all(stats["sd"] == 0.0 for stats in top.values())  # the same run twice
