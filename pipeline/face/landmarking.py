"""Landmarks for every face: from faces.csv rows, from checked annotations, or automatic.

Annotated landmarks pass a statistical shape check (LandmarkQC); a face with too many flagged
landmarks, or none annotated, is landmarked by registering the template to its scan.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from tqdm import tqdm

from ..config import FaceParams
from ..dataset import Speaker, skip_reason
from ..errors import DatasetError
from .batch import ScanJob, register_scans
from .io import read_faces_csv, read_landmark_vertices, read_landmarks, read_scan
from .landmark_qc import LandmarkQC
from .register import RegistrationSettings
from .rigid import transform
from .template import build_template

QC_COLUMNS = ["speaker_id", "gender", "source", "flagged", "flagged_landmarks", "max_residual_mm"]


def landmarks_from_faces_csv(root: Path, speakers: list[Speaker], face: FaceParams, on_error: str):
    """(QC rows, landmarks [65, 3] per face, skipped rows) from a root's faces.csv (one topology)."""
    ids, vertices = read_faces_csv(root / "faces.csv")
    landmark_idx = read_landmark_vertices(Path(face.landmark_vertices) if face.landmark_vertices else None)
    if landmark_idx.max() >= vertices.shape[1]:
        raise DatasetError(f"{root / 'faces.csv'} has {vertices.shape[1]} vertices per face, but landmark "
                           f"vertex {int(landmark_idx.max())} is asked for; set face.landmark_vertices "
                           "to the indices of your topology.")
    row_of = {sid: i for i, sid in enumerate(ids)}
    rows, points, skipped = [], [], []
    for speaker in speakers:
        if speaker.speaker_id not in row_of:
            err = DatasetError(f"speaker {speaker.speaker_id}: no row in {root / 'faces.csv'}.")
            if on_error == "fail":
                raise err
            skipped.append((speaker.speaker_id, "landmarks", skip_reason(err)))
            continue
        points.append(vertices[row_of[speaker.speaker_id], landmark_idx])
        rows.append((speaker.speaker_id, speaker.gender, "faces_csv", 0, "", np.nan))
    return rows, points, skipped


def landmarks_from_scans(root: Path, speakers: list[Speaker], face: FaceParams, on_error: str):
    """(QC rows, landmarks [65, 3] per face, skipped rows) from the scans and their annotations."""
    usable: list[tuple[Speaker, np.ndarray | None]] = []
    skipped = []
    for speaker in tqdm(speakers, desc="landmarks: check", unit="face"):
        try:
            if not speaker.scan:
                raise DatasetError(f"speaker {speaker.speaker_id}: no scan in the manifest and no faces.csv in {root}.")
            read_scan(root / speaker.scan, speaker.speaker_id, speaker.scan)
            annotated = (read_landmarks(root / speaker.landmarks, speaker.speaker_id, speaker.landmarks)
                         if speaker.landmarks else None)
            usable.append((speaker, annotated))
        except DatasetError as err:
            if on_error == "fail":
                raise
            skipped.append((speaker.speaker_id, "landmarks", skip_reason(err)))

    points: list[np.ndarray | None] = [lm for _, lm in usable]
    source = ["annotated" if lm is not None else "automatic" for lm in points]
    flagged = [np.zeros(0, dtype=int)] * len(usable)
    residual = [np.nan] * len(usable)
    annotated = [i for i, lm in enumerate(points) if lm is not None]
    if len(annotated) >= 3:
        qc = LandmarkQC.from_params(face).fit(np.stack([points[i] for i in annotated]))
        check = qc.check(np.stack([points[i] for i in annotated]))
        for k, i in enumerate(annotated):
            flagged[i] = np.flatnonzero(check.flagged[k]) + 1
            residual[i] = float(check.residual_mm[k].max())
            if check.flagged[k].mean() > face.qc_max_flagged:
                points[i], source[i] = None, "automatic (annotation rejected)"
            else:
                points[i] = check.cleaned[k]

    automatic = [i for i, lm in enumerate(points) if lm is None]
    if automatic:
        template = build_template(face.template_vertices)
        jobs = [ScanJob(usable[i][0].speaker_id, root / usable[i][0].scan, usable[i][0].scan, None) for i in automatic]
        fits = register_scans(template.vertices, template.faces, template.landmark_idx,
                              RegistrationSettings.from_params(face), jobs)
        for i, fit in zip(automatic, tqdm(fits, total=len(jobs), desc="landmarks: automatic", unit="scan")):
            points[i] = transform(fit.vertices[template.landmark_idx], fit.to_scan)

    rows = [(speaker.speaker_id, speaker.gender, source[i], len(flagged[i]), ";".join(map(str, flagged[i])), residual[i])
            for i, (speaker, _) in enumerate(usable)]
    return rows, points, skipped
