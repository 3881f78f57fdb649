"""Which phones carry which AMs (the source's §4.5, Fig. 7): the repeated-split protocol with
one phone's (or phone class's) frames as the only input.

Per unit, each speaker's instances of it are summarised by the same statistics the
stats_ridge estimator uses (each instance apart, so no frame-to-frame term crosses a join),
and the ridge is fitted on D_t, its penalties chosen on D_v1, and scored on D_v2 of the train
stage's own splits. Speakers without enough instances of a unit leave that unit's analysis
only. The error ratio against the chance predictor per repeat and AM then gives CI_u as in
the select stage, and 1 - CI_u averaged over the AMs ranks the units.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd

from ..audio.phones import Pooled
from ..estimator.data import standardiser
from ..estimator.ridge import StatsRidge
from ..estimator.statistics import speaker_statistics
from ..face.ams import AmTable
from .significance import corrected_test, paper_test

AM_GROUPS = ("nose", "mouth", "jaw", "eyes_brows", "outline")
# 1-based landmark numbers of each group (../reference/landmarks_65.md): the chin (53, 54) and
# the lower contour (55, 56, 64, 65) are the jaw; the rest of the contour and the forehead top
# are the outline.
_GROUP_OF_LANDMARK = {
    **{n: "eyes_brows" for n in range(1, 27)}, **{n: "nose" for n in range(27, 39)},
    **{n: "mouth" for n in range(39, 53)}, **{n: "jaw" for n in (53, 54, 55, 56, 64, 65)},
    **{n: "outline" for n in range(57, 64)},
}
MIN_SPEAKERS = {"t": 10, "v1": 2, "v2": 2}  # a repeat needs these many speakers with the unit


def am_groups(table: AmTable) -> np.ndarray:
    """The face part of each AM [K]: the group most of its landmarks lie in, a proportion judged
    by its numerator (its denominator is a normaliser such as 28-31 or 60-54); ties go to
    the earlier group of AM_GROUPS."""
    groups = []
    for kind, landmarks in zip(table.kind, table.landmarks):
        numbers = [int(n) + 1 for n in landmarks if n >= 0]
        if kind == "proportion":
            numbers = numbers[:2]
        votes = [_GROUP_OF_LANDMARK[n] for n in numbers]
        groups.append(max(AM_GROUPS, key=lambda g: (votes.count(g), -AM_GROUPS.index(g))))
    return np.array(groups)


@dataclass(frozen=True)
class UnitRatios:
    """One unit's error ratios on D_v2, per repeat [R] and AM [K]."""

    ratios: np.ndarray  # [R, K]
    n_train: float  # mean D_t size over the repeats
    n_test: float  # mean D_v2 size


def unit_ratios(statistics: dict[str, np.ndarray], splits: pd.DataFrame, targets: pd.DataFrame) -> UnitRatios | None:
    """The ridge protocol on the speakers that have the unit (statistics: speaker -> [P]);
    targets: raw AMs indexed by speaker_id. None when no repeat keeps enough speakers."""
    ratios, sizes = [], []
    for _, rows in splits.groupby("repeat", sort=True):
        rows = rows[rows["speaker_id"].isin(statistics.keys())]
        ids = {part: list(rows.loc[rows["split"] == part, "speaker_id"]) for part in MIN_SPEAKERS}
        if any(len(ids[part]) < n for part, n in MIN_SPEAKERS.items()):
            continue
        x = {part: np.stack([statistics[s] for s in members]) for part, members in ids.items()}
        mean, sd = standardiser(targets.loc[ids["t"]].to_numpy(np.float64))
        y = {part: (targets.loc[members].to_numpy(np.float64) - mean) / sd for part, members in ids.items()}
        model = StatsRidge().fit(x["t"], y["t"], x["v1"], y["v1"])
        predicted, _ = model.predict(x["v2"])
        chance = (y["v2"] ** 2).mean(axis=0)
        ratios.append(((predicted - y["v2"]) ** 2).mean(axis=0) / np.where(chance > 0, chance, np.nan))
        sizes.append((len(ids["t"]), len(ids["v2"])))
    if len(ratios) < 2:
        return None
    return UnitRatios(np.stack(ratios), float(np.mean([t for t, _ in sizes])), float(np.mean([v for _, v in sizes])))


def unit_summary(result: UnitRatios, alpha: float) -> pd.DataFrame:
    """Per AM: mean ratio, the source's CI_u and the corrected CI_u (select stage's tests)."""
    paper = paper_test(result.ratios.T, alpha)
    corrected = corrected_test(result.ratios.T, alpha, round(result.n_test), round(result.n_train))
    return pd.DataFrame({"mean_ratio": paper.mean, "ci_u": paper.ci_u, "ci_u_corrected": corrected.ci_u})


COLUMNS = ["phoneme", "n_speakers", "n_instances", "seconds", "mean_1_minus_ci_u", "mean_1_minus_ci_u_corrected",
           "am_id", "label", "group", "mean_ratio", "ci_u", "ci_u_corrected"]


def phoneme_table(pools: dict[str, dict[str, Pooled]], splits: pd.DataFrame, targets: pd.DataFrame, table: AmTable,
                  min_instances: int, min_speakers: float, alpha: float,
                  progress: Callable[[int], None] | None = None) -> pd.DataFrame:
    """The long phoneme table (COLUMNS): every unit that at least `min_speakers` speakers have
    `min_instances` times, with its per-AM ratio and CI_u. pools: speaker -> unit -> Pooled."""
    groups = am_groups(table)
    rows = []
    for unit in sorted({u for pooled in pools.values() for u in pooled}):
        having = {sid: pooled[unit] for sid, pooled in pools.items()
                  if unit in pooled and pooled[unit].instances >= min_instances}
        result = None
        if len(having) >= min_speakers:
            result = unit_ratios({sid: speaker_statistics(p.pieces()) for sid, p in having.items()}, splits, targets)
        if result is not None:
            summary = unit_summary(result, alpha)
            rows.append(pd.DataFrame({
                "phoneme": unit, "n_speakers": len(having),
                "n_instances": sum(p.instances for p in having.values()),
                "seconds": sum(p.seconds for p in having.values()),
                "mean_1_minus_ci_u": float((1.0 - summary["ci_u"]).mean()),
                "mean_1_minus_ci_u_corrected": float((1.0 - summary["ci_u_corrected"]).mean()),
                "am_id": table.am_id, "label": list(table.label), "group": groups, **summary}))
        if progress:
            progress(1)
    return pd.concat(rows, ignore_index=True)[COLUMNS] if rows else pd.DataFrame(columns=COLUMNS)


def unit_ranking(table: pd.DataFrame) -> pd.DataFrame:
    """One row per unit of the long phoneme table, best (highest mean 1 - CI_u) first."""
    columns = ["phoneme", "n_speakers", "n_instances", "seconds", "mean_1_minus_ci_u", "mean_1_minus_ci_u_corrected"]
    return table[columns].drop_duplicates("phoneme").sort_values("mean_1_minus_ci_u", ascending=False,
                                                                 kind="stable").reset_index(drop=True)


def group_matrix(table: pd.DataFrame) -> pd.DataFrame:
    """Mean 1 - CI_u per unit (rows, ranked as unit_ranking) and AM group (columns)."""
    matrix = (1.0 - table["ci_u"]).groupby([table["phoneme"], table["group"]]).mean().unstack("group")
    order = unit_ranking(table)["phoneme"]
    return matrix.reindex(index=order, columns=[g for g in AM_GROUPS if g in matrix.columns])


def planted_check(table: pd.DataFrame, planted: pd.Series, families: pd.Series) -> dict:
    """On a synthetic root, the analysis against what was planted: mean 1 - CI_u over the
    planted nose AMs from nasal units and from plosives, and the best unit's mean on the eye
    and brow AMs (none of which the synthetic link plants). planted: 0/1 by am_id;
    families: family by unit (nasal | plosive | ...)."""
    score = table.assign(score=1.0 - table["ci_u"], family=table["phoneme"].map(families),
                         planted=table["am_id"].map(planted).fillna(0).astype(int))
    nose = score[(score["group"] == "nose") & (score["planted"] == 1)]
    eyes = score[score["group"] == "eyes_brows"].groupby("phoneme")["score"].mean()
    by_family = nose.groupby("family")["score"].mean()
    return {"nose_planted_ams": int(nose["am_id"].nunique()),
            "nose_from_nasal": _float(by_family.get("nasal")), "nose_from_plosive": _float(by_family.get("plosive")),
            "eyes_brows_best_unit": _float(eyes.max() if len(eyes) else None)}


def _float(value) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


def phoneme_metrics(long: pd.DataFrame, n_units_seen: int, n_aligned: int, n_speakers: int, min_share: float) -> dict:
    """Best and worst unit by mean 1 - CI_u, or a note saying why there is none."""
    if long.empty:
        why = ("no speaker has an alignment file (<root>/alignments/<speaker_id>.csv; docs/phonemes.md)"
               if n_aligned == 0 else
               f"no phone reaches the minimum number of instances in {min_share:.0%} of the speakers")
        return {"n_phonemes": 0, "speakers_aligned": n_aligned, "speakers": n_speakers, "note": why}
    ranking = unit_ranking(long)
    return {"n_phonemes": len(ranking), "units_seen": n_units_seen, "speakers_aligned": n_aligned,
            "speakers": n_speakers,
            "best": str(ranking["phoneme"].iloc[0]), "best_1_minus_ci_u": float(ranking["mean_1_minus_ci_u"].iloc[0]),
            "worst": str(ranking["phoneme"].iloc[-1]),
            "worst_1_minus_ci_u": float(ranking["mean_1_minus_ci_u"].iloc[-1])}
