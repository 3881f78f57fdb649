"""What guides a reconstruction: each D_e speaker's AMs fused over the estimators of all
repeats, and the AMs the selection allows."""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..cohort import Gender
from ..estimator.fusion import fuse


def ensemble_predictions(predictions: pd.DataFrame, split: str = "e") -> pd.DataFrame:
    """Per (speaker_id, am_id): the repeats' raw-scale predictions fused by inverse variance
    (the source's Eq. 3 across estimators): mean, and uncertainty (R * w) with R the repeats."""
    rows = predictions[predictions["split"] == split]
    if rows.empty:
        raise ValueError(f"no predictions for split {split!r}")
    out = []
    for (speaker, am), group in rows.groupby(["speaker_id", "am_id"], sort=True):
        mean, _, calibrated = fuse(group["mean"].to_numpy()[:, None], group["var"].to_numpy()[:, None])
        out.append((speaker, am, float(mean[0]), float(calibrated[0]), len(group)))
    return pd.DataFrame(out, columns=["speaker_id", "am_id", "mean", "uncertainty", "repeats"])


def guiding_ams(selection: pd.DataFrame, top_k: int) -> np.ndarray:
    """am_ids of the top_k AMs by 1 - CI_u (lowest CI_u first) among those with z = 1."""
    chosen = selection[selection["z"] == 1].sort_values(["ci_u", "am_id"])
    return chosen["am_id"].to_numpy()[:top_k]


def am_scale(ams: pd.DataFrame, gender: Gender, held_out: list[str], columns: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """The z-scale the fit compares AMs in: mean and SD (ddof 1) over the speakers of this
    gender outside D_e (`ams` indexed by speaker_id, with a gender column)."""
    reference = ams[(ams["gender"] == gender.code) & ~ams.index.isin(held_out)][columns]
    return reference.mean().to_numpy(), reference.std(ddof=1).to_numpy()
