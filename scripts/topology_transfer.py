"""The landmark transfer to another topology (docs/geometry.md, "Registered-face CSV"), measured.

The small synthetic cohort of tests/test_geometry_stages.py (10 faces, a 3,000-vertex template),
its true faces resampled to another template's 2,400-vertex topology and given as a faces.csv
root with no landmark file: the landmarks, register and ams stages find the 65 landmark
vertices by registering the template to the mean face. Writes
reports/experiments/topology_transfer.json (docs/geometry.md quotes it) with the share of
landmarks on their exact vertex (the 2,400-vertex template has one at every landmark), the
largest distance from a landmark's registered position to the mean face's surface, the
distance to the chosen vertex, the median absolute error of the distance AMs against the true
AMs, and the commit and settings it ran with.

    PYTHONPATH=tests python scripts/topology_transfer.py
"""
from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from presets import run
from test_geometry_stages import SMALL, _geometry, _params, _resampled

from pipeline.face.ams import default_am_table
from pipeline.face.io import write_faces_csv
from pipeline.face.template import build_template
from pipeline.provenance import run_record

OUT = Path(__file__).resolve().parents[1] / "reports" / "experiments" / "topology_transfer.json"
OTHER_VERTICES = 2400  # the faces' topology: another template of the same face domain


def main() -> None:
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as scratch:
        tmp = Path(scratch)
        truth = run("synth", _params(tmp, tmp), tmp).synthetic / "truth"
        speakers = pd.read_csv(truth / "speakers.csv")
        other = build_template(OTHER_VERTICES)
        faces = _resampled(np.load(truth / "shapes.npy").astype(np.float64),
                           build_template(SMALL["face"]["template_vertices"]), other)
        root = tmp / "root"
        root.mkdir()
        write_faces_csv(root / "faces.csv", speakers.speaker_id.tolist(), faces)
        speakers.assign(audio="", scan="", landmarks="").to_csv(root / "manifest.csv", index=False)
        work = _geometry(_params(tmp, root), tmp / "work")
        transfer = pd.read_csv(work.landmark_transfer)
        ams = pd.read_csv(work.ams).iloc[:, 2:].to_numpy()
        true = pd.read_csv(truth / "ams.csv").iloc[:, 2:].to_numpy()
    distances = [i for i, kind in enumerate(default_am_table().kind) if kind == "distance"]
    result = {
        "faces": len(speakers), "landmarks": len(transfer),
        "exact_vertex_share": float((transfer["vertex_index"].to_numpy() == other.landmark_idx).mean()),
        "surface_max_mm": float(transfer["surface_mm"].max()),
        "vertex_median_mm": float(transfer["vertex_mm"].median()),
        "vertex_max_mm": float(transfer["vertex_mm"].max()),
        "distance_am_median_abs_error_mm": float(np.median(np.abs(ams - true)[:, distances])),
        "flagged": int(transfer["flagged"].sum()),
    }
    settings = {"params": SMALL, "faces_vertices": OTHER_VERTICES}
    OUT.write_text(json.dumps({**result, "run": run_record(settings, time.perf_counter() - started)}, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
