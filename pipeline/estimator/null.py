"""The permutation null of the selection statistic, for the estimators cheap enough to refit.

Under "the voice says nothing about AM k", the AMs can be shuffled across the speakers of a
gender without changing the distribution of anything the protocol computes. Re-running the
whole protocol (the same splits, fit on D_t, choice on D_v1, D_v2 ratio, mean over the N
repeats) on B shufflings gives B draws of the statistic under that null; ranking the
observed one among them is an exact one-sided test for any N, with no assumption about how
the repeats depend on each other. Shufflings are drawn per AM only while they decide something
(Besag & Clifford's sequential Monte Carlo p-value), so a lone strong AM can reach p below the
α/m that Benjamini-Hochberg asks of a single discovery. Only the ridge can be refitted B x N times in seconds; for
the CNN the table is empty and `sfv.test: permutation` is refused (base.VoiceEstimator.check).
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import pandas as pd
from tqdm import tqdm

from .ridge import RepeatRows, sequential_ratios
from .statistics import speaker_statistics

COLUMNS = ["permutation", "am_id", "mean_ratio"]


def empty_null() -> pd.DataFrame:
    """The table of an estimator without a permutation null, or of B = 0."""
    return pd.DataFrame(columns=COLUMNS)


def permutation_table(splits: pd.DataFrame, features: dict[str, list[np.ndarray]], targets: pd.DataFrame,
                      permutations: int, exceedances: int, seed: int, desc: str,
                      vector: Callable[[list[np.ndarray]], np.ndarray] = speaker_statistics,
                      clip: bool = False) -> pd.DataFrame:
    """Rows (permutation, am_id, mean_ratio): permutation 0 is the observed AM, 1..n_k shuffled,
    drawn per AM until `exceedances` shufflings reach it or `permutations` are drawn
    (ridge.sequential_ratios).

    `splits` has the train stage's layout (repeat, speaker_id, split); `targets` (raw AMs,
    columns am_<id>) is indexed by speaker_id; `vector` makes a speaker's input row of the ridge
    from their recordings; `clip` as StatsRidge's. D_e speakers take no part.
    """
    if permutations == 0:
        return empty_null()
    pool = sorted(set(splits.loc[splits["split"] != "e", "speaker_id"]))
    row = {s: i for i, s in enumerate(pool)}
    repeats = []
    for _, part in splits.groupby("repeat"):
        rows = {name: np.array([row[s] for s in part.loc[part["split"] == name, "speaker_id"]])
                for name in ("t", "v1", "v2")}
        repeats.append(RepeatRows(rows["t"], rows["v1"], rows["v2"]))
    x = np.stack([vector(features[s]) for s in pool])
    y = targets.loc[pool].to_numpy(np.float64)
    with tqdm(total=permutations, desc=desc, unit="shuffle") as bar:
        statistic = sequential_ratios(x, y, repeats, permutations, exceedances, seed, progress=bar.update,
                                      clip=clip)
    am_ids = [int(str(c).removeprefix("am_")) for c in targets.columns]
    return pd.DataFrame({"permutation": np.concatenate([np.arange(len(s)) for s in statistic]),
                         "am_id": np.repeat(am_ids, [len(s) for s in statistic]),
                         "mean_ratio": np.concatenate(statistic)})
