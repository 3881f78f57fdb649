"""landmarks stage: checked landmarks for every face (annotated + QC, automatic, or from faces.csv)."""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from ..artifacts import save_npy, write_csv
from ..config import load_params
from ..dataset import SKIPPED_COLUMNS, DatasetError, read_manifest
from ..face.landmarking import QC_COLUMNS, landmarks_from_faces_csv, landmarks_from_scans
from . import run


def main(params_path: Path, out: Path, skipped_path: Path) -> None:
    params = load_params(params_path)
    root, face = Path(params.data.root), params.face
    speakers = read_manifest(root)
    if (root / "faces.csv").is_file():
        rows, points, skipped = landmarks_from_faces_csv(root, speakers, face, params.data.on_error)
    else:
        rows, points, skipped = landmarks_from_scans(root, speakers, face, params.data.on_error)
    if not rows:
        raise DatasetError(f"{root}: no speaker has a usable face (see {skipped_path}).")
    # Written only now, so a failed run leaves no partial output.
    save_npy(np.asarray(points, dtype=np.float64), out / "landmarks.npy")
    write_csv(pd.DataFrame(rows, columns=QC_COLUMNS), out / "landmarks_qc.csv", "%.3f")
    write_csv(pd.DataFrame(skipped, columns=SKIPPED_COLUMNS), skipped_path, None)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--out", type=Path, default=Path("data/faces"))
    parser.add_argument("--skipped", type=Path, default=Path("reports/skipped_faces.csv"))
    args = parser.parse_args()
    run(main, args.params, args.out, args.skipped)
