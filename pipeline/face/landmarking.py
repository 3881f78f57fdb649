"""Landmarks for every face: from faces.csv rows, from checked annotations, or automatic.

An annotation is any set of named points (landmark_files.py: sfv1..sfv65, ibug1..ibug68, in
four file formats), read in the scan's unit and brought to millimetres with it. The faces that
share a set of names pass a statistical shape check together (LandmarkQC): a gross mislabel is
replaced by the model's prediction, and a face with too many flagged points, or none
annotated, is landmarked automatically: the template is registered to its scan without guides
and its sfv points are taken. The result is a long table (speaker_id, landmark, x, y, z) of
the points that will guide each face's registration, in scan coordinates (mm).
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from ..config import FaceParams
from ..dataset import Speaker, skip_reason
from ..errors import DatasetError
from .batch import ScanJob, register_scans
from .io import read_faces_csv_mm, read_landmark_vertices, read_scan_mm
from .landmark_files import read_landmark_file, read_named_vertices
from .landmark_names import VOCABULARY, landmark_name
from .landmark_qc import LandmarkQC
from .plausibility import plausibility
from .register import RegistrationSettings
from .rigid import align_to_mean, transform
from .template import Template, build_template
from .transfer import transfer_landmarks
from .units import MM_PER_UNIT

QC_COLUMNS = ["speaker_id", "gender", "source", "unit", "points", "flagged", "flagged_landmarks", "max_residual_mm"]
LANDMARK_COLUMNS = ["speaker_id", "landmark", "x", "y", "z"]
TRANSFER_COLUMNS = ["landmark", "vertex_index", "source", "surface_mm", "vertex_mm", "flagged"]
SOURCE_VERTICES = 6790  # the source's released topology, whose landmark vertices sfv ships
MIN_GROUP = 3  # faces sharing a set of names that the shape check needs
SFV = tuple(landmark_name("sfv", k) for k in range(1, 66))


@dataclass(frozen=True)
class Landmarked:
    """The landmarks stage's result: a QC row per face, its guiding points, and the skipped."""

    rows: list[tuple]  # QC_COLUMNS
    points: list[tuple]  # LANDMARK_COLUMNS, mm, scan coordinates
    skipped: list[tuple]  # dataset.SKIPPED_COLUMNS
    units: dict[str, str]  # speaker_id -> the unit its scan was found in


def landmarks_from_faces_csv(root: Path, speakers: list[Speaker], face: FaceParams, on_error: str
                             ) -> tuple[Landmarked, pd.DataFrame]:
    """The sfv landmarks of each face of a root's faces.csv (one topology), and where they are in
    that topology (TRANSFER_COLUMNS): face.landmark_vertices when given, the source's shipped
    indices for its 6,790-vertex topology, and otherwise found by `transfer_landmarks`."""
    ids, vertices, unit = read_faces_csv_mm(root / "faces.csv")
    landmark_vertices = faces_csv_landmark_vertices(vertices, face, root / "faces.csv")
    if landmark_vertices["flagged"].any() and on_error == "fail":
        off = landmark_vertices[landmark_vertices["flagged"]]
        raise DatasetError(
            f"{root / 'faces.csv'}: transferring the landmarks to its {vertices.shape[1]}-vertex topology put "
            f"{', '.join(off['landmark'])} farther than {face.max_transfer_mm} mm from the mean face's surface "
            f"(up to {off['surface_mm'].max():.1f} mm). Give face.transfer_guides (e.g. your model's iBUG-68 "
            f"vertices) or face.landmark_vertices, or set data.on_error: skip to go on with them.")
    landmark_idx = landmark_vertices["vertex_index"].to_numpy(np.int64)
    row_of = {sid: i for i, sid in enumerate(ids)}
    rows, points, skipped = [], [], []
    for speaker in speakers:
        if speaker.speaker_id not in row_of:
            err = DatasetError(f"speaker {speaker.speaker_id}: no row in {root / 'faces.csv'}.")
            if on_error == "fail":
                raise err
            skipped.append((speaker.speaker_id, "landmarks", skip_reason(err)))
            continue
        found = vertices[row_of[speaker.speaker_id], landmark_idx]
        points += [(speaker.speaker_id, name, *p) for name, p in zip(SFV, found)]
        rows.append((speaker.speaker_id, speaker.gender, "faces_csv", unit, len(SFV), 0, "", np.nan))
    return Landmarked(rows, points, skipped, {s: unit for s in row_of}), landmark_vertices


def faces_csv_landmark_vertices(vertices: np.ndarray, face: FaceParams, shown_as: Path) -> pd.DataFrame:
    """TRANSFER_COLUMNS for a faces.csv cohort [N, V, 3] (mm), checked on the cohort's mean face:
    indices in range, and a configuration a face in the sfv scheme can have (plausibility.py).
    Shipped indices that fail the check mean 6,790 vertices of another topology: the landmarks
    are then transferred, as for any other topology."""
    n_vertices = vertices.shape[1]
    template = build_template(face.template_vertices)
    mean_face = align_to_mean(vertices, reference=vertices[0])[0].mean(axis=0)
    if face.landmark_vertices or n_vertices == SOURCE_VERTICES:
        idx = read_landmark_vertices(Path(face.landmark_vertices) if face.landmark_vertices else None)
        bad = (idx < 0) | (idx >= n_vertices)
        if bad.any():
            raise DatasetError(f"{shown_as}: index check: faces have {n_vertices} vertices (0-{n_vertices - 1}), but "
                               f"landmark vertex {int(idx[bad][0])} (for {SFV[int(np.flatnonzero(bad)[0])]}) is "
                               f"asked for; set face.landmark_vertices to the indices of your topology, or leave it "
                               f"empty to have them found (docs/own-data.md, 'Registered faces').")
        problem = _implausible(mean_face[idx], template)
        if problem is None:
            source = "face.landmark_vertices" if face.landmark_vertices else "shipped (the source's topology)"
            return pd.DataFrame({"landmark": SFV, "vertex_index": idx, "source": source, "surface_mm": np.nan,
                                 "vertex_mm": np.nan, "flagged": False})
        if face.landmark_vertices:
            raise DatasetError(f"{shown_as}: face.landmark_vertices ({face.landmark_vertices}) fails the {problem}. "
                               f"Are they the indices of another topology? Leave face.landmark_vertices empty to "
                               f"have the landmarks found by the automatic landmark transfer (docs/own-data.md, "
                               f"'Registered faces').")
        tqdm.write(f"warning: {shown_as}: the shipped landmark vertices of the source's {SOURCE_VERTICES}-vertex "
                   f"topology fail the {problem}; these faces are another topology, so the landmarks are "
                   f"transferred instead (docs/own-data.md, 'Registered faces').", file=sys.stderr)
    guides = read_named_vertices(Path(face.transfer_guides), n_vertices) if face.transfer_guides else {}
    found = transfer_landmarks(mean_face, template, RegistrationSettings.from_params(face), guides,
                               face.max_transfer_mm)
    problem = _implausible(mean_face[found.vertex], template)
    if problem is not None:
        raise DatasetError(f"{shown_as}: the landmarks transferred to its {n_vertices}-vertex topology fail the "
                           f"{problem}. Give face.transfer_guides (e.g. your model's iBUG-68 vertices) or "
                           f"face.landmark_vertices (docs/own-data.md, 'Registered faces').")
    return pd.DataFrame({"landmark": SFV, "vertex_index": found.vertex, "source": "transfer",
                         "surface_mm": found.surface_mm, "vertex_mm": found.vertex_mm, "flagged": found.flagged})


def _implausible(points: np.ndarray, template: Template, names: tuple[str, ...] = SFV) -> str | None:
    """The failed check (size or placement) of one configuration against the template, or None."""
    judged = plausibility(list(names), points, template)
    return None if judged is None else judged.problem()


def template_landmark_vertices(template: Template) -> pd.DataFrame:
    """TRANSFER_COLUMNS of a scan root: the landmarks are the template's own vertices."""
    return pd.DataFrame({"landmark": SFV, "vertex_index": template.landmark_idx, "source": "template",
                         "surface_mm": 0.0, "vertex_mm": 0.0, "flagged": False})


def landmarks_from_scans(root: Path, speakers: list[Speaker], face: FaceParams, on_error: str) -> Landmarked:
    """Each scan's guiding points: its annotation after the shape check, or automatic ones."""
    usable: list[tuple[Speaker, str, tuple[str, ...] | None, np.ndarray | None]] = []
    skipped = []
    template = build_template(face.template_vertices)
    for speaker in tqdm(speakers, desc="landmarks: check", unit="face"):
        try:
            if not speaker.scan:
                raise DatasetError(f"speaker {speaker.speaker_id}: no scan in the manifest and no faces.csv in {root}.")
            _, _, unit = read_scan_mm(root / speaker.scan, speaker.speaker_id, speaker.scan)
            names, points = None, None
            if speaker.landmarks:
                annotated = read_landmark_file(root / speaker.landmarks, speaker.speaker_id, speaker.landmarks)
                order = np.argsort([VOCABULARY.index(n) for n in annotated.names], kind="stable")
                names = tuple(annotated.names[i] for i in order)
                points = annotated.points[order] * MM_PER_UNIT[unit]  # annotations are in the scan's unit
                problem = _implausible(points, template, names)
                if problem:
                    raise DatasetError(f"speaker {speaker.speaker_id}: {speaker.landmarks} fails the {problem}. Are "
                                       f"its points named or ordered as its scheme says (docs/landmark-formats.md)? "
                                       f"Fix the file, or leave the manifest's landmarks empty to have the face "
                                       f"landmarked automatically.")
            usable.append((speaker, unit, names, points))
        except DatasetError as err:
            if on_error == "fail":
                raise
            skipped.append((speaker.speaker_id, "landmarks", skip_reason(err)))

    names = [n for _, _, n, _ in usable]
    points: list[np.ndarray | None] = [p for _, _, _, p in usable]
    source = ["annotated" if p is not None else "automatic" for p in points]
    flagged: list[list[str]] = [[] for _ in usable]
    residual = [np.nan] * len(usable)
    groups: dict[tuple[str, ...], list[int]] = {}
    for i, face_names in enumerate(names):
        if face_names is not None:
            groups.setdefault(face_names, []).append(i)
    for group_names, members in groups.items():
        if len(members) < MIN_GROUP:
            continue
        stacked = np.stack([points[i] for i in members])
        check = LandmarkQC.from_params(face).fit(stacked).check(stacked)
        for k, i in enumerate(members):
            flagged[i] = [group_names[j] for j in np.flatnonzero(check.flagged[k])]
            residual[i] = float(check.residual_mm[k].max())
            if check.flagged[k].mean() > face.qc_max_flagged:
                names[i], points[i], source[i] = None, None, "automatic (annotation rejected)"
            else:
                points[i] = check.cleaned[k]

    automatic = [i for i, p in enumerate(points) if p is None]
    if automatic:
        jobs = [ScanJob(usable[i][0].speaker_id, root / usable[i][0].scan, usable[i][0].scan, None) for i in automatic]
        fits = register_scans(template, RegistrationSettings.from_params(face), jobs)
        for i, fit in zip(automatic, tqdm(fits, total=len(jobs), desc="landmarks: automatic", unit="scan")):
            names[i], points[i] = SFV, transform(fit.vertices[template.landmark_idx], fit.to_scan)

    rows = [(speaker.speaker_id, speaker.gender, source[i], unit, len(names[i]), len(flagged[i]), ";".join(flagged[i]),
             residual[i]) for i, (speaker, unit, _, _) in enumerate(usable)]
    table = [(speaker.speaker_id, name, *p) for (speaker, _, _, _), face_names, face_points in zip(usable, names, points)
             for name, p in zip(face_names, face_points)]
    return Landmarked(rows, table, skipped, {speaker.speaker_id: unit for speaker, unit, _, _ in usable})


def sfv_points(table: pd.DataFrame, speakers: list[str]) -> np.ndarray:
    """The sfv1..sfv65 points [S, 65, 3] of each speaker of a LANDMARK_COLUMNS table, NaN where missing."""
    out = np.full((len(speakers), len(SFV), 3), np.nan)
    row = {s: i for i, s in enumerate(speakers)}
    column = {name: k for k, name in enumerate(SFV)}
    mine = table[table["speaker_id"].isin(row) & table["landmark"].isin(column)]
    out[mine["speaker_id"].map(row).to_numpy(), mine["landmark"].map(column).to_numpy()] = mine[["x", "y", "z"]]
    return out
