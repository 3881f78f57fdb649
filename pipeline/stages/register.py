"""register stage: every face in the template's topology, rigidly aligned to the template frame."""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from ..artifacts import read_table, save_npy, write_csv
from ..config import load_params
from ..dataset import read_manifest
from ..face.io import write_mesh
from ..face.registration import register_faces_csv, register_scan_files
from . import run


def main(params_path: Path, faces_dir: Path) -> None:
    params = load_params(params_path)
    root, face = Path(params.data.root), params.face
    qc = read_table(faces_dir / "landmarks_qc.csv")
    landmarks = np.load(faces_dir / "landmarks.npy")
    speakers = qc[["speaker_id", "gender"]]

    if (root / "faces.csv").is_file():
        cohort = register_faces_csv(root / "faces.csv", speakers,
                                    Path(face.landmark_vertices) if face.landmark_vertices else None)
    else:
        scans = {s.speaker_id: s.scan for s in read_manifest(root)}
        cohort = register_scan_files(root, scans, speakers, landmarks, face, params.data.on_error)
    save_npy(cohort.registered.astype(np.float32), faces_dir / "registered.npy")
    save_npy(cohort.to_scan, faces_dir / "to_scan.npy")
    write_csv(cohort.speakers, faces_dir / "speakers.csv", None)
    write_mesh(faces_dir / "template.ply", cohort.template_vertices, cohort.template_faces)
    write_csv(pd.DataFrame({"landmark": np.arange(1, len(cohort.landmark_idx) + 1), "vertex_index": cohort.landmark_idx}),
              faces_dir / "landmark_vertices.csv", None)
    write_csv(pd.DataFrame({"vertex_index": np.arange(len(cohort.template_vertices)), "region": cohort.region_names}),
              faces_dir / "template_regions.csv", None)
    write_csv(cohort.qc, faces_dir / "register_qc.csv", "%.4f")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--faces", type=Path, default=Path("data/faces"))
    args = parser.parse_args()
    run(main, args.params, args.faces)
