"""Geometry figures against a synthetic root's truth: registration, landmark QC, AMs."""
from __future__ import annotations

import numpy as np
import pandas as pd
import trimesh

from ..parallel import map_with_state
from .rigid import invert, transform


def qc_scores(flagged: np.ndarray, mislabelled: np.ndarray) -> dict[str, float]:
    """Recall of true mislabels and the share of correct landmarks flagged (both [N, L] bool)."""
    flagged, mislabelled = np.asarray(flagged, bool), np.asarray(mislabelled, bool)
    n_bad, n_good = int(mislabelled.sum()), int((~mislabelled).sum())
    return {
        "mislabel_recall": float((flagged & mislabelled).sum() / n_bad) if n_bad else float("nan"),
        "false_flag_rate": float((flagged & ~mislabelled).sum() / n_good) if n_good else float("nan"),
        "n_mislabelled": n_bad,
        "n_flagged": int(flagged.sum()),
    }


def in_true_frame(registered: np.ndarray, to_scan: np.ndarray, poses: np.ndarray) -> np.ndarray:
    """Registered faces [N, T, 3] mapped through their scan into the true shapes' frame.

    The true pose of each scan is known (poses [N, 4, 4], true -> scan), so this mapping
    adds no alignment of its own: any pose error of the registration stays in the figures.
    """
    return np.stack([transform(v, invert(pose) @ m) for v, m, pose in zip(registered, to_scan, poses)])


def surface_distances(points: np.ndarray, true_shapes: np.ndarray, faces: np.ndarray,
                      workers: int | None = None) -> np.ndarray:
    """Distance [N, T] from each point [N, T, 3] to the true surface (true_shapes with `faces`)."""
    jobs = list(zip(points, true_shapes))
    return np.stack(list(map_with_state(_distance_to_surface, jobs, _faces_state, (faces,), workers)))


def _faces_state(faces: np.ndarray) -> np.ndarray:
    return faces


def _distance_to_surface(faces: np.ndarray, job: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    points, true_vertices = job
    _, distance, _ = trimesh.proximity.closest_point(trimesh.Trimesh(true_vertices, faces, process=False), points)
    return distance


def am_summary(measured: pd.DataFrame, kinds: dict[str, str], labels: dict[str, str],
               truth: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per AM column: the registered faces' mean and SD, and, when the true AMs are known,
    their agreement (r, mae, truth_sd; empty otherwise), so the table has one schema on every
    root."""
    summary = pd.DataFrame({"am": measured.columns, "kind": [kinds[c] for c in measured.columns],
                            "label": [labels[c] for c in measured.columns],
                            "mean": measured.mean().to_numpy(), "sd": measured.std(ddof=1).to_numpy()})
    if truth is None:
        return summary.assign(r=np.nan, mae=np.nan, truth_sd=np.nan)
    return summary.merge(am_agreement(measured, truth, kinds, labels), on=["am", "kind", "label"])


def am_agreement(measured: pd.DataFrame, truth: pd.DataFrame, kinds: dict[str, str],
                 labels: dict[str, str]) -> pd.DataFrame:
    """Per AM column: Pearson r and mean absolute error of measured vs true values, and the
    true spread (sd) to read the error against. Both frames are indexed by speaker_id."""
    truth = truth.loc[measured.index]
    rows = []
    for column in measured.columns:
        m, t = measured[column].to_numpy(float), truth[column].to_numpy(float)
        r = float(np.corrcoef(m, t)[0, 1]) if len(m) > 2 and m.std() > 0 and t.std() > 0 else float("nan")
        rows.append((column, kinds[column], labels[column], r, float(np.abs(m - t).mean()), float(t.std(ddof=1))))
    return pd.DataFrame(rows, columns=["am", "kind", "label", "r", "mae", "truth_sd"])
