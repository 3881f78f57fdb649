"""The landmark transfer to another topology (docs/geometry.md, "Registered-face CSV"), measured.

The small synthetic cohort of tests/test_geometry_stages.py (10 faces, a 3,000-vertex template),
its true faces resampled to another template's 2,400-vertex topology and given as a faces.csv
root with no landmark file: the landmarks, register and ams stages find the 65 landmark
vertices by registering the template to the mean face. Prints the share of landmarks on their
exact vertex (the 2,400-vertex template has one at every landmark), the largest distance from
a landmark's registered position to the mean face's surface, the distance to the chosen vertex,
and the median absolute error of the distance AMs against the true AMs.

    PYTHONPATH=tests python scripts/topology_transfer.py
"""
from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from presets import run
from test_geometry_stages import _geometry, _params, _resampled

from pipeline.face.ams import default_am_table
from pipeline.face.io import write_faces_csv
from pipeline.face.template import build_template


def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        tmp = Path(scratch)
        truth = run("synth", _params(tmp, tmp), tmp).synthetic / "truth"
        speakers = pd.read_csv(truth / "speakers.csv")
        other = build_template(2400)
        faces = _resampled(np.load(truth / "shapes.npy").astype(np.float64), build_template(3000), other)
        root = tmp / "root"
        root.mkdir()
        write_faces_csv(root / "faces.csv", speakers.speaker_id.tolist(), faces)
        speakers.assign(audio="", scan="", landmarks="").to_csv(root / "manifest.csv", index=False)
        work = _geometry(_params(tmp, root), tmp / "work")
        transfer = pd.read_csv(work.landmark_transfer)
        ams = pd.read_csv(work.ams).iloc[:, 2:].to_numpy()
        true = pd.read_csv(truth / "ams.csv").iloc[:, 2:].to_numpy()
    distances = [i for i, kind in enumerate(default_am_table().kind) if kind == "distance"]
    print(f"exact vertex: {(transfer['vertex_index'].to_numpy() == other.landmark_idx).mean():.1%}; "
          f"to the surface: max {transfer['surface_mm'].max():.2f} mm; to the chosen vertex: median "
          f"{transfer['vertex_mm'].median():.2f}, max {transfer['vertex_mm'].max():.2f} mm; distance AMs: median "
          f"absolute error {np.median(np.abs(ams - true)[:, distances]):.3f} mm")


if __name__ == "__main__":
    main()
