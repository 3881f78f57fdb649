"""The seed-spread summary (pipeline/spread.py) on hand-made metrics of three seeds."""
from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from pipeline.pages.markers import MARKER, Quote, quotes
from pipeline.spread import (NOISE_SDS, flatten, headline, long_table, noise_threshold, planted_link_checks,
                             seed_record, summarise, with_derived)


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


ROOT = Path(__file__).resolve().parents[1]
RUN_FILES = ["reports/metrics.json", "reports/evaluation.json", "reports/phonemes/male.json",
             "reports/phonemes/female.json"]


def _committed_run() -> tuple[dict, dict]:
    """The default run's metric files (as `dvc metrics show` reads them) and its params."""
    run = {file: json.loads((ROOT / file).read_text()) for file in RUN_FILES}
    return run, json.loads((ROOT / "reports/params.json").read_text())


def _shifted(tree, by: float):
    """`tree` with every float moved by `by` (a second seed's metrics, say)."""
    if isinstance(tree, dict):
        return {k: _shifted(v, by) for k, v in tree.items()}
    return tree + by if isinstance(tree, float) else tree


def test_headline_of_the_committed_run_covers_the_issues_metrics():
    """On the default run's own metric files the headline holds every metric issue 30 names:
    precision/recall vs the oracle, declared counts, NMSE, the SfV / mean-face / regression /
    oracle errors, gap closed, matching."""
    run, _ = _committed_run()
    top = headline(summarise({0: run, 1: run}), ["male"])
    wanted = ["truth.precision", "truth.recall", "selection.n_predictable", "selection.n_predictable_permutation",
              "nmse.all_100", "nmse.predictable", "reconstruction.vertex_error_mm", "baseline.mean_face_mm",
              "baseline.regression_mm", "baseline.oracle_ams_mm", "reconstruction.gap_closed", "matching_1v2"]
    assert {f"reports/metrics.json:male.{key}" for key in wanted} <= set(top)
    assert {"reports/evaluation.json:male.matching_1v2.regression",
            "reports/evaluation.json:male.matching_1v2.oracle_ams"} <= set(top)
    assert not any(key.startswith("reports/evaluation.json:male.region_mm") for key in top)
    assert all(stats["sd"] == 0.0 for stats in top.values())  # the same run twice


def test_seed_record_of_two_seeds():
    run, params = _committed_run()
    runs = with_derived({1: _shifted(run, 0.01), 0: run}, ["male", "female"])
    assert list(runs) == [0, 1] and "male.phonemes.nose_nasal_minus_plosive" in runs[0]["derived"]
    record = seed_record(runs, {0: params, 1: {**params, "seed": 1}}, "abc", False)
    assert (record["k"], record["seeds"], record["params"]["seed"], record["commit"]) == (2, [0, 1], [0, 1], "abc")
    precision = record["headline"]["reports/metrics.json:female.truth.precision"]
    assert precision["sd"] == pytest.approx(0.01 / math.sqrt(2))
    assert precision["noise_threshold"] == pytest.approx(NOISE_SDS * precision["sd"])
    assert record["metrics"]["reports/metrics.json"]["female.truth.precision"]["values"][0] == \
        run["reports/metrics.json"]["female"]["truth"]["precision"]
    with pytest.raises(ValueError, match="more than `seed`"):
        seed_record(runs, {0: params, 1: {**params, "seed": 1, "sfv": {**params["sfv"], "repeats": 3}}}, "abc", False)


def test_the_pages_seed_quotes_resolve_on_a_record_of_this_shape(tmp_path):
    """docs/reproducibility.md quotes summary.json, which the lead's K = 5 run writes: every
    quote must resolve on a record of the shape seed_record writes."""
    run, params = _committed_run()
    runs = with_derived({0: run, 1: _shifted(run, 0.01)}, ["male", "female"])
    out = tmp_path / "reports/experiments/seeds/summary.json"
    out.parent.mkdir(parents=True)
    out.write_text(json.dumps({**seed_record(runs, {0: params, 1: {**params, "seed": 1}}, "abc", False),
                               "wall_s": 3600, "stages_run": {"0": 22, "1": 22}}))
    page = (ROOT / "docs/reproducibility.md").read_text()
    specs = [m["spec"] for m in quotes(MARKER, page) if m["spec"].startswith("reports/experiments/seeds/")]
    assert len(specs) >= 20
    for spec in specs:
        Quote.parse(spec).render(tmp_path)  # raises on a key or expression that does not resolve
