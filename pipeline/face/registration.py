"""Every face of a cohort in one topology: faces.csv rows rigidly aligned, or raw scans
registered onto the template and checked, with a QC row per face."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from ..config import FaceParams
from ..errors import DatasetError
from .batch import ScanJob, register_scans
from .io import read_faces_csv, read_landmark_vertices
from .register import RegistrationSettings
from .rigid import align_to_mean
from .template import REGIONS, build_template
from .topology import triangulate_frontal

QC_COLUMNS = ["speaker_id", "source", "surface_distance_mm", "coverage", "landmark_fit_mm", "flagged"]


@dataclass(frozen=True)
class RegisteredCohort:
    speakers: pd.DataFrame  # speaker_id, gender of the faces kept, in `registered` order
    registered: np.ndarray  # [S, T, 3] in the template frame
    to_scan: np.ndarray  # [S, 4, 4] template frame -> each scan's frame
    template_vertices: np.ndarray  # [T, 3]
    template_faces: np.ndarray  # [F, 3]
    landmark_idx: np.ndarray  # [65]
    region_names: np.ndarray  # [T] region of each template vertex ("" when unknown)
    qc: pd.DataFrame  # QC_COLUMNS, one row per face tried (failed ones included, flagged)


def register_faces_csv(path: Path, speakers: pd.DataFrame, landmark_vertices: Path | None) -> RegisteredCohort:
    """Faces already in one topology: aligned rigidly to their mean, which becomes the template."""
    ids, vertices = read_faces_csv(path)
    row_of = {sid: i for i, sid in enumerate(ids)}
    faces_in = vertices[[row_of[sid] for sid in speakers.speaker_id]]
    registered, _ = align_to_mean(faces_in, reference=faces_in[0])
    template_vertices = registered.mean(axis=0)
    qc = pd.DataFrame([(sid, "faces_csv", np.nan, 1.0, np.nan, False) for sid in speakers.speaker_id],
                      columns=QC_COLUMNS)
    return RegisteredCohort(speakers, registered, np.repeat(np.eye(4)[None], len(speakers), axis=0),
                            template_vertices, triangulate_frontal(template_vertices),
                            read_landmark_vertices(landmark_vertices), np.full(len(template_vertices), ""), qc)


def register_scan_files(root: Path, scans: dict[str, str], speakers: pd.DataFrame, landmarks: np.ndarray,
                        face: FaceParams, on_error: str) -> RegisteredCohort:
    """Raw scans (scans: speaker_id -> path under root) registered onto the template with their
    landmarks [S, 65, 3]. A face failing QC (coverage, mean distance) is an error in `fail` mode;
    in `skip` mode it stays in the QC table, flagged, and goes no further."""
    template = build_template(face.template_vertices)
    jobs = [ScanJob(sid, root / scans[sid], scans[sid], landmarks[i]) for i, sid in enumerate(speakers.speaker_id)]
    fits = list(tqdm(register_scans(template.vertices, template.faces, template.landmark_idx,
                                    RegistrationSettings.from_params(face), jobs),
                     total=len(jobs), desc="register", unit="scan"))
    flagged = np.array([f.coverage < face.min_coverage or f.surface_distance_mm > face.max_surface_mm for f in fits],
                       dtype=bool)
    qc = pd.DataFrame([(sid, "scan", f.surface_distance_mm, f.coverage, f.landmark_fit_mm, bool(bad))
                       for sid, f, bad in zip(speakers.speaker_id, fits, flagged)], columns=QC_COLUMNS)
    if flagged.any() and on_error == "fail":
        i = int(np.flatnonzero(flagged)[0])
        sid, f = speakers.speaker_id.iloc[i], fits[i]
        raise DatasetError(
            f"speaker {sid}: {scans[sid]} failed registration QC (coverage {f.coverage:.2f}, needed >= "
            f"{face.min_coverage}; mean distance to the scan {f.surface_distance_mm:.2f} mm, allowed <= "
            f"{face.max_surface_mm} mm; {int(flagged.sum())} face(s) failed in all). Is the scan a face in millimetres "
            f"with its landmarks? Fix it, or set data.on_error: skip to leave such faces out.")
    keep = ~flagged
    return RegisteredCohort(speakers[keep], np.stack([f.vertices for f in fits])[keep],
                            np.stack([f.to_scan for f in fits])[keep], template.vertices, template.faces,
                            template.landmark_idx, np.asarray(REGIONS)[template.region], qc)
