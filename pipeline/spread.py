"""The spread of a run's metrics over world seeds: how far a metric moves when only the seed does.

A run's metrics come as `dvc metrics show` gives them: metric file -> nested dict. They are
flattened to dotted keys (`female.nmse.all_100`), numbers kept, booleans and text set apart;
across seeds every number gets its mean, its SD (ddof = 1), its range and its values in seed
order. `dvc metrics diff` moves smaller than `NOISE_SDS` seed SDs are within what the seed alone
does (docs/reproducibility.md).
"""
from __future__ import annotations

import fnmatch
import math
from typing import Any, Mapping

import numpy as np
import pandas as pd

NOISE_SDS = 2.0

# The metrics the issue calls headline, per gender (fnmatch patterns over the flattened keys of
# a metric file, `{g}` the gender). Patterns, not a key list: a new nmse.* key joins by itself.
HEADLINE = {
    "reports/metrics.json": ("{g}.truth.precision", "{g}.truth.recall", "{g}.truth.fpr", "{g}.selection.n_predictable*",
                             "{g}.nmse.*", "{g}.reconstruction.vertex_error_mm*", "{g}.baseline.*",
                             "{g}.reconstruction.gap_closed", "{g}.reconstruction.gain_over_mean_face_mm",
                             "{g}.matching_1v2"),
    "reports/evaluation.json": ("{g}.matching_1v2.*",),  # 1:2 matching of SfV, mean face, regression, oracle
    "reports/phonemes/{g}.json": ("{g}.phonemes.truth.nose_from_*",),
    "derived": ("{g}.phonemes.nose_nasal_minus_plosive", "{g}.phonemes.nose_nasal_above_plosive"),
}


def flatten(tree: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Leaves of a nested dict by dotted key: {'a': {'b': 1}} -> {'a.b': 1}. Lists are leaves."""
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, name + "."))
        else:
            flat[name] = value
    return flat


def is_number(value: Any) -> bool:
    """A finite or infinite int/float, not a bool and not None."""
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))


def planted_link_checks(phonemes: Mapping[str, Any], gender: str) -> dict[str, float]:
    """The phoneme stage's planted-link check of one gender's `reports/phonemes/<g>.json`:
    nose AMs read from nasals minus from plosives (mean 1 - CI_u), and 1.0 when nasals win, 0.0
    when not. Empty when the file has no such check (no alignments, not a synthetic root)."""
    truth = flatten(phonemes).get  # keys like female.phonemes.truth.nose_from_nasal
    nasal, plosive = truth(f"{gender}.phonemes.truth.nose_from_nasal"), truth(f"{gender}.phonemes.truth.nose_from_plosive")
    if not (is_number(nasal) and is_number(plosive)):
        return {}
    return {f"{gender}.phonemes.nose_nasal_minus_plosive": float(nasal) - float(plosive),
            f"{gender}.phonemes.nose_nasal_above_plosive": float(nasal > plosive)}


def long_table(per_seed: Mapping[int, Mapping[str, Mapping[str, Any]]]) -> pd.DataFrame:
    """(seed, file, key, value) rows of every numeric leaf, seeds ascending, then file and key."""
    rows = [(seed, file, key, float(value))
            for seed in sorted(per_seed)
            for file in sorted(per_seed[seed])
            for key, value in sorted(flatten(per_seed[seed][file]).items()) if is_number(value)]
    return pd.DataFrame(rows, columns=["seed", "file", "key", "value"])


def spread(values: list[float]) -> dict[str, Any]:
    """n, mean, SD (ddof = 1; None for one value) and range of `values`, and the values."""
    array = np.asarray(values, dtype=float)
    sd = float(array.std(ddof=1)) if len(array) > 1 else None
    return {"n": len(array), "mean": float(array.mean()), "sd": sd,
            "min": float(array.min()), "max": float(array.max()), "values": [float(v) for v in array]}


def summarise(per_seed: Mapping[int, Mapping[str, Mapping[str, Any]]]) -> dict[str, dict[str, dict[str, Any]]]:
    """file -> key -> spread over the seeds (ascending) for every numeric leaf; a key some seeds
    lack is summarised over the seeds that have it (its `n` says how many). Text leaves (a best
    phone class, say) become counts per value, under `counts`."""
    summary: dict[str, dict[str, dict[str, Any]]] = {}
    table = long_table(per_seed)
    for (file, key), rows in table.groupby(["file", "key"], sort=True):
        summary.setdefault(file, {})[key] = {"seeds": [int(s) for s in rows["seed"]], **spread(list(rows["value"]))}
    for seed in sorted(per_seed):
        for file, tree in per_seed[seed].items():
            for key, value in flatten(tree).items():
                if isinstance(value, str):
                    counts = summary.setdefault(file, {}).setdefault(key, {}).setdefault("counts", {})
                    counts[value] = counts.get(value, 0) + 1
    return {file: dict(sorted(keys.items())) for file, keys in sorted(summary.items())}


def headline(summary: Mapping[str, Mapping[str, Mapping[str, Any]]], genders: list[str]) -> dict[str, dict[str, Any]]:
    """The HEADLINE metrics of `summary` (as `summarise` gives), by `file:key`, genders in order."""
    picked: dict[str, dict[str, Any]] = {}
    for gender in genders:
        for file_pattern, patterns in HEADLINE.items():
            file = file_pattern.format(g=gender)
            keys = summary.get(file, {})
            for pattern in patterns:
                for key in sorted(fnmatch.filter(keys, pattern.format(g=gender))):
                    if "mean" in keys[key]:
                        picked[f"{file}:{key}"] = dict(keys[key])
    return picked


def noise_threshold(stats: Mapping[str, Any], sds: float = NOISE_SDS) -> float | None:
    """The smallest `dvc metrics diff` change of this metric that exceeds `sds` seed SDs."""
    sd = stats.get("sd")
    return None if sd is None or math.isnan(sd) else sds * sd


def with_derived(per_seed: Mapping[int, Mapping[str, Any]], genders: list[str]) -> dict[int, dict[str, Any]]:
    """Each seed's metrics with a `derived` file: the phoneme planted-link check per gender."""
    return {seed: {**runs, "derived": {key: value for g in genders for key, value in
                                       planted_link_checks(runs.get(f"reports/phonemes/{g}.json", {}), g).items()}}
            for seed, runs in sorted(per_seed.items())}


def seed_record(per_seed: Mapping[int, Mapping[str, Mapping[str, Any]]], params: Mapping[int, Mapping[str, Any]],
                commit: str, uncommitted: bool) -> dict[str, Any]:
    """reports/experiments/seeds/summary.json: every metric's spread over the seeds, the
    headline subset with its noise threshold, and what was run (the params the seeds share,
    the seeds, the commit). `per_seed` is each seed's metrics (`with_derived`); `params` each
    seed's reports/params.json, which must differ in `seed` alone."""
    seeds = sorted(per_seed)
    shared = {seed: {k: v for k, v in params[seed].items() if k != "seed"} for seed in seeds}
    if any(p != shared[seeds[0]] for p in shared.values()):
        raise ValueError("the seeds' reports/params.json differ in more than `seed`")
    summary = summarise(per_seed)
    top = headline(summary, list(shared[seeds[0]]["sfv"]["genders"]))
    for stats in top.values():
        stats["noise_threshold"] = noise_threshold(stats)
    return {"what": "every metric of `dvc metrics show` over world seeds (scripts/seed_spread.py); sd has ddof = 1; "
                    "noise_threshold = noise_sds x sd",
            "k": len(seeds), "seeds": seeds, "commit": commit, "uncommitted_changes": uncommitted,
            "noise_sds": NOISE_SDS, "params": {**shared[seeds[0]], "seed": seeds},
            "derived": {"<g>.phonemes.nose_nasal_minus_plosive": "nose_from_nasal - nose_from_plosive of "
                                                                 "reports/phonemes/<g>.json",
                        "<g>.phonemes.nose_nasal_above_plosive": "1 when nose_from_nasal > nose_from_plosive, else 0"},
            "headline": top, "metrics": summary}
