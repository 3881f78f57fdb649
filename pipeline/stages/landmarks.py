"""landmarks stage: the guiding points of every face (annotated + QC, automatic, or from faces.csv)."""
from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

from ..artifacts import write_csv
from ..config import Params
from ..dataset import SKIPPED_COLUMNS, read_manifest
from ..errors import DatasetError
from ..face.landmarking import (LANDMARK_COLUMNS, QC_COLUMNS, landmarks_from_faces_csv, landmarks_from_scans,
                                template_landmark_vertices)
from ..face.template import build_template
from . import Paths


def main(params: Params, paths: Paths) -> None:
    root, face = Path(params.data.root), params.face
    speakers = read_manifest(root)
    if (root / "faces.csv").is_file():
        found, landmark_vertices = landmarks_from_faces_csv(root, speakers, face, params.data.on_error)
        for row in landmark_vertices[landmark_vertices["flagged"]].itertuples():
            print(f"warning: {row.landmark} lands {row.surface_mm:.1f} mm off the mean face (data.on_error: skip "
                  f"goes on with it)", file=sys.stderr)
    else:
        found = landmarks_from_scans(root, speakers, face, params.data.on_error)
        landmark_vertices = template_landmark_vertices(build_template(face.template_vertices))
    if not found.rows:
        raise DatasetError(f"{root}: no speaker has a usable face (see {paths.skipped_faces}).")
    for speaker_id, unit in found.units.items():
        if unit != "mm":
            print(f"warning: speaker {speaker_id}: the coordinates are in {unit} (from the face's size); "
                  f"they are read in mm", file=sys.stderr)
    # Written only now, so a failed run leaves no partial output.
    write_csv(pd.DataFrame(found.points, columns=LANDMARK_COLUMNS), paths.landmarks, None)  # exact: they guide
    write_csv(pd.DataFrame(found.rows, columns=QC_COLUMNS), paths.landmarks_qc, "%.3f")
    write_csv(pd.DataFrame(found.skipped, columns=SKIPPED_COLUMNS), paths.skipped_faces, None)
    write_csv(landmark_vertices, paths.landmark_transfer, "%.3f")
