"""A registration run against a synthetic root's truth/: landmark QC, landmark error,
per-vertex correspondence and distance to the true surface, by region."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..artifacts import read_table
from .evaluation import in_true_frame, qc_scores, surface_distances
from .io import read_triangles
from .landmark_names import scheme_and_number
from .units import MM_PER_UNIT
from .rigid import transform


@dataclass(frozen=True)
class RegisteredRun:
    """What the landmarks and register stages made of a root's scans."""

    landmarks: np.ndarray  # [S, 65, 3] the sfv guiding points in scan coordinates (NaN where a face has none)
    landmark_qc: pd.DataFrame  # landmarks_qc.csv
    registered: np.ndarray  # [N, T, 3] the QC-passed faces in the template frame
    speakers: list[str]  # their speaker_ids, in row order
    to_scan: np.ndarray  # [N, 4, 4] template frame -> each scan's frame
    regions: np.ndarray  # [T] region of each template vertex


def against_truth(report: dict, truth: Path, run: RegisteredRun) -> tuple[np.ndarray, np.ndarray] | None:
    """Landmark and registration errors against a root's truth/ into `report` (its
    "landmarks" and "register" parts); the per-vertex correspondence and surface errors
    [N, T] when the topologies match, else None."""
    landmark_qc = run.landmark_qc
    true_ids = read_table(truth / "speakers.csv")["speaker_id"].tolist()
    rows = [true_ids.index(sid) for sid in landmark_qc["speaker_id"]]
    poses = in_mm(np.load(truth / "poses.npy")[rows], landmark_qc["unit"])
    true_landmarks = np.load(truth / "landmarks.npy").astype(np.float64)[rows]

    # Landmarks: QC against the planted mislabels; final landmarks against the true ones.
    annotations = read_table(truth / "annotations.csv")
    n_landmarks = true_landmarks.shape[1]
    mislabelled = annotations.pivot(index="speaker_id", columns="landmark", values="mislabelled").loc[landmark_qc["speaker_id"]]
    annotated_error = annotations.pivot(index="speaker_id", columns="landmark", values="error_mm").loc[landmark_qc["speaker_id"]]
    flagged = np.zeros((len(landmark_qc), n_landmarks), dtype=bool)
    for i, names in enumerate(landmark_qc["flagged_landmarks"].fillna("").astype(str)):
        for name in filter(None, names.split(";")):
            scheme, number = scheme_and_number(name)
            flagged[i, number - 1] |= scheme == "sfv"  # the synthetic annotations are the sfv scheme
    is_annotated = landmark_qc["source"].eq("annotated").to_numpy()
    final = run.landmarks
    final_error = np.linalg.norm(final - np.stack([transform(p, m) for p, m in zip(true_landmarks, poses)]), axis=2)
    report["landmarks"].update(qc_scores(flagged[is_annotated], mislabelled.to_numpy(bool)[is_annotated]))
    final_error = final_error[np.isfinite(final_error)]
    report["landmarks"].update({
        "error_mm": float(final_error.mean()),
        "error_p95_mm": float(np.percentile(final_error, 95)),
        "error_mm_annotated": float(annotated_error.to_numpy()[is_annotated].mean()) if is_annotated.any() else None,
    })

    # Registration: per-vertex correspondence error and distance to the true surface.
    registered = run.registered.astype(np.float64)
    rows = [true_ids.index(sid) for sid in run.speakers]  # QC-passed faces
    units = dict(zip(landmark_qc["speaker_id"], landmark_qc["unit"]))
    poses = in_mm(np.load(truth / "poses.npy")[rows], [units[s] for s in run.speakers])
    true_shapes = np.load(truth / "shapes.npy").astype(np.float64)[rows]
    if registered.shape[1] != true_shapes.shape[1]:
        report["register"]["note"] = "template and true topology differ: per-vertex errors not computed"
        return None
    mapped = in_true_frame(registered, run.to_scan, poses)
    vertex_error = np.linalg.norm(mapped - true_shapes, axis=2)
    true_faces = read_triangles(truth / "template.ply")
    surface = surface_distances(mapped, true_shapes, true_faces)
    regions = run.regions
    report["register"].update(distribution("vertex_error", vertex_error))
    report["register"].update(distribution("surface_distance", surface))
    report["register"]["by_region"] = {
        name: {"vertex_error_mm": float(vertex_error[:, regions == name].mean()),
               "surface_distance_mm": float(surface[:, regions == name].mean())}
        for name in dict.fromkeys(regions) if name}
    return vertex_error, surface


def in_mm(poses: np.ndarray, units) -> np.ndarray:
    """Truth poses [N, 4, 4] (mm truth -> each scan file's coordinates, in its unit) as rigid
    poses onto the scans read in mm (the unit each scan was found in)."""
    scale = np.array([MM_PER_UNIT[u] for u in units])
    out = poses.copy()
    out[:, :3, :] *= scale[:, None, None]
    return out


def distribution(name: str, values: np.ndarray) -> dict[str, float]:
    """Mean, 95th percentile and worst face's mean of per-vertex values [N, T]."""
    per_face = values.mean(axis=1)
    return {f"{name}_mm": float(values.mean()), f"{name}_p95_mm": float(np.percentile(values, 95)),
            f"{name}_worst_face_mm": float(per_face.max())}

