"""register stage: every face in the template's topology, rigidly aligned to the template frame."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..artifacts import read_table, save_npy, write_csv
from ..config import Params
from ..dataset import read_manifest
from ..face.io import write_mesh
from ..face.registration import register_faces_csv, register_scan_files
from . import Paths


def main(params: Params, paths: Paths) -> None:
    root, face = Path(params.data.root), params.face
    speakers = read_table(paths.landmarks_qc)[["speaker_id", "gender", "source"]]

    if (root / "faces.csv").is_file():
        landmark_idx = read_table(paths.landmark_transfer)["vertex_index"].to_numpy(np.int64)
        cohort = register_faces_csv(root / "faces.csv", speakers[["speaker_id", "gender"]], landmark_idx)
    else:
        scans = {s.speaker_id: s.scan for s in read_manifest(root)}
        cohort = register_scan_files(root, scans, speakers, read_table(paths.landmarks), face, params.data.on_error)
    save_npy(cohort.registered.astype(np.float32), paths.registered)
    save_npy(cohort.to_scan, paths.to_scan)
    write_csv(cohort.speakers, paths.face_speakers, None)
    write_mesh(paths.template, cohort.template_vertices, cohort.template_faces)
    write_csv(pd.DataFrame({"landmark": np.arange(1, len(cohort.landmark_idx) + 1), "vertex_index": cohort.landmark_idx}),
              paths.landmark_vertices, None)
    write_csv(pd.DataFrame({"vertex_index": np.arange(len(cohort.template_vertices)), "region": cohort.region_names}),
              paths.template_regions, None)
    write_csv(cohort.qc, paths.register_qc, "%.4f")
