"""Error ratios of the estimators against a chance predictor, per repeat and AM, on D_v2.

In the z-scale of a repeat's D_t, the chance predictor (the D_t mean) predicts 0, so its
error on a speaker is target_z^2. The ratio eps_k / eps_k^C is below 1 when the voice
predicts AM k better than knowing nothing about the speaker.
"""
from __future__ import annotations

import numpy as np
import pandas as pd


def error_ratios(predictions: pd.DataFrame, keep_share: float = 1.0) -> pd.DataFrame:
    """Per (repeat, am_id): eps (MSE of the fused predictions), eps_chance and their ratio on
    the D_v2 speakers, keeping per AM and repeat only the `keep_share` of speakers with the
    lowest uncertainty var_z for that AM (at least one speaker).

    `predictions` has the train stage's columns (repeat, split, speaker_id, am_id, mean_z,
    var_z, target_z, ...). Returns columns repeat, am_id, n, eps, eps_chance, ratio.
    """
    if not 0 < keep_share <= 1:
        raise ValueError(f"keep_share must be in (0, 1], got {keep_share}")
    v2 = predictions.loc[predictions["split"] == "v2", ["repeat", "am_id", "var_z", "mean_z", "target_z"]]
    if v2.empty:
        raise ValueError("no D_v2 predictions to score")
    v2 = most_certain(v2.assign(error=(v2["mean_z"] - v2["target_z"]) ** 2, chance=v2["target_z"] ** 2), keep_share)
    grouped = v2.groupby(["repeat", "am_id"])
    out = grouped.agg(n=("error", "size"), eps=("error", "mean"), eps_chance=("chance", "mean")).reset_index()
    out["ratio"] = out["eps"] / out["eps_chance"]
    return out


def most_certain(v2: pd.DataFrame, keep_share: float) -> pd.DataFrame:
    """The rows of `v2` (columns repeat, am_id, var_z, ...) with the lowest var_z: per repeat
    and AM the ceil(keep_share * n) most certain speakers, at least one; ties keep their row
    order, so a variance that does not vary keeps the first speakers of the table."""
    if keep_share == 1:
        return v2
    ranked = v2.sort_values(["repeat", "am_id", "var_z"], kind="stable")
    rank = ranked.groupby(["repeat", "am_id"]).cumcount()
    size = ranked.groupby(["repeat", "am_id"])["var_z"].transform("size")
    return ranked[rank < np.maximum(1, np.ceil(keep_share * size - 1e-9))]
