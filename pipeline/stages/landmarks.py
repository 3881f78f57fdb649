"""landmarks stage: checked landmarks for every face (annotated + QC, automatic, or from faces.csv)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..artifacts import save_npy, write_csv
from ..config import Params
from ..dataset import SKIPPED_COLUMNS, read_manifest
from ..errors import DatasetError
from ..face.landmarking import QC_COLUMNS, landmarks_from_faces_csv, landmarks_from_scans
from . import Paths


def main(params: Params, paths: Paths) -> None:
    root, face = Path(params.data.root), params.face
    speakers = read_manifest(root)
    if (root / "faces.csv").is_file():
        rows, points, skipped = landmarks_from_faces_csv(root, speakers, face, params.data.on_error)
    else:
        rows, points, skipped = landmarks_from_scans(root, speakers, face, params.data.on_error)
    if not rows:
        raise DatasetError(f"{root}: no speaker has a usable face (see {paths.skipped_faces}).")
    # Written only now, so a failed run leaves no partial output.
    save_npy(np.asarray(points, dtype=np.float64), paths.landmarks)
    write_csv(pd.DataFrame(rows, columns=QC_COLUMNS), paths.landmarks_qc, "%.3f")
    write_csv(pd.DataFrame(skipped, columns=SKIPPED_COLUMNS), paths.skipped_faces, None)
