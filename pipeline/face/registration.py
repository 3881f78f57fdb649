"""Every face of a cohort in one topology: faces.csv rows rigidly aligned, or raw scans
registered onto the template and checked, with a QC row per face.

Raw scans are registered in rounds: the first onto the template, each later one onto the
mean of the faces the round before registered and kept (same topology, same landmark
vertices), so a cohort whose proportions differ from the template's is registered to its own
mean face rather than pulled towards the template's (face.template_rounds).
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from ..config import FaceParams
from ..errors import DatasetError
from .batch import ScanJob, register_scans
from .io import read_faces_csv_mm
from .landmark_names import CONTOUR, template_vertices
from .register import Guides, Registration, RegistrationSettings
from .registration_qc import QC_COLUMNS, QcLimits, assess
from .rigid import align_to_mean
from .template import REGIONS, Template, build_template
from .topology import triangulate_frontal


@dataclass(frozen=True)
class RegisteredCohort:
    speakers: pd.DataFrame  # speaker_id, gender of the faces kept, in `registered` order
    registered: np.ndarray  # [S, T, 3] in the template frame
    to_scan: np.ndarray  # [S, 4, 4] template frame -> each scan's frame (mm)
    template_vertices: np.ndarray  # [T, 3] the template of the last round
    template_faces: np.ndarray  # [F, 3]
    landmark_idx: np.ndarray  # [65]
    region_names: np.ndarray  # [T] region of each template vertex ("" when unknown)
    qc: pd.DataFrame  # QC_COLUMNS, one row per face tried (failed ones included, flagged)


def register_faces_csv(path: Path, speakers: pd.DataFrame, landmark_idx: np.ndarray) -> RegisteredCohort:
    """Faces already in one topology (in mm), its landmark vertices found by the landmarks stage:
    aligned rigidly to their mean, which becomes the template."""
    ids, vertices, _ = read_faces_csv_mm(path)
    row_of = {sid: i for i, sid in enumerate(ids)}
    faces_in = vertices[[row_of[sid] for sid in speakers.speaker_id]]
    registered, _ = align_to_mean(faces_in, reference=faces_in[0])
    template_vertices = registered.mean(axis=0)
    qc = pd.DataFrame([(sid, "faces_csv", 0, np.nan, 1.0, np.nan, np.nan, np.nan, np.nan, False, "")
                       for sid in speakers.speaker_id], columns=QC_COLUMNS)
    return RegisteredCohort(speakers, registered, np.repeat(np.eye(4)[None], len(speakers), axis=0),
                            template_vertices, triangulate_frontal(template_vertices),
                            landmark_idx, np.full(len(template_vertices), ""), qc)


def scan_guides(points: pd.DataFrame, template: Template) -> Guides:
    """A face's guiding points (landmark, x, y, z rows) at the template vertices their names
    have; iBUG's jaw contour (not anatomical: it slides as the head turns) guides nothing."""
    placed = template_vertices([n for n in points["landmark"] if n not in CONTOUR], template)
    rows = points[points["landmark"].isin(list(placed))]
    return Guides(np.array([placed[n] for n in rows["landmark"]], dtype=np.int64),
                  rows[["x", "y", "z"]].to_numpy(np.float64))


def register_scan_files(root: Path, scans: dict[str, str], speakers: pd.DataFrame, points: pd.DataFrame,
                        face: FaceParams, on_error: str) -> RegisteredCohort:
    """Raw scans (scans: speaker_id -> path under root; speakers: speaker_id, gender, source)
    registered with their guiding points (`points`: speaker_id, landmark, x, y, z, scan mm) over
    1 + face.template_rounds rounds. A face failing QC is an error in `fail` mode; in `skip`
    mode it stays in the QC table, flagged with its reason, and goes no further."""
    template = build_template(face.template_vertices)
    by_speaker = {sid: rows for sid, rows in points.groupby("speaker_id", sort=False)}
    # An automatic face's points come from a fit without guides; it is fitted without them again,
    # so its QC judges the search for the face, not a fit to its own output.
    jobs = [ScanJob(sid, root / scans[sid], scans[sid],
                    None if source.startswith("automatic") else scan_guides(by_speaker[sid], template))
            for sid, source in zip(speakers.speaker_id, speakers.source)]
    settings, limits = RegistrationSettings.from_params(face), QcLimits.from_params(face)
    fits: list[Registration] = []
    qc = pd.DataFrame(columns=QC_COLUMNS)
    for round_ in range(face.template_rounds + 1):
        kept = [f.vertices for f, bad in zip(fits, qc["flagged"]) if not bad]
        if kept:  # a later round: the mean of the faces the last one kept is the template
            template = replace(template, vertices=np.mean(kept, axis=0))
        desc = "register" if face.template_rounds == 0 else f"register, round {round_ + 1}"
        fits = list(tqdm(register_scans(template, settings, jobs), total=len(jobs), desc=desc, unit="scan"))
        qc = assess(list(speakers.speaker_id), list(speakers.source), fits, template.vertices, template.landmark_idx,
                    limits)
    flagged = qc["flagged"].to_numpy(bool)
    if flagged.any() and on_error == "fail":
        row = qc[flagged].iloc[0]
        raise DatasetError(
            f"speaker {row.speaker_id}: {scans[row.speaker_id]} failed registration QC: {row.reason} "
            f"({int(flagged.sum())} face(s) failed in all; docs/geometry.md, 'Registration QC'). Is the scan a "
            f"face with its landmarks? Fix it, or set data.on_error: skip to leave such faces out.")
    keep = ~flagged
    return RegisteredCohort(speakers[["speaker_id", "gender"]][keep], np.stack([f.vertices for f in fits])[keep],
                            np.stack([f.to_scan for f in fits])[keep], template.vertices, template.faces,
                            template.landmark_idx, np.asarray(REGIONS)[template.region], qc)
