"""The menpo3d standard face (tests/data/, micrometres, iBUG-68) through sfv, as docs/geometry.md
reports it.

1. Guided by its iBUG points: the issue's twelve held-out points (nose tip, subnasale, nasion,
   mouth corners, lip midpoints, chin and eye corners: ibug31, 34, 28, 49, 55, 52, 58, 9, 37, 40,
   43, 46), six per fold, the other non-contour iBUG points guiding; each held-out point's error.
2. The landmarks and register stages on a root that holds the face in each unit (m, cm, mm, µm)
   twice, with its iBUG landmarks and without any: the unit found, whether the register QC kept
   the face (or its reason), its register QC figures, and the median error of the template's iBUG
   points (ibug18-68, the jaw contour aside) against the annotation.
Writes reports/experiments/real_face.json (with the commit and settings; docs/geometry.md quotes
it) and prints both tables.

    python scripts/real_face.py
"""
from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import trimesh

from pipeline.config import default_params, with_values
from pipeline.face.io import read_scan_mm
from pipeline.face.landmark_files import read_landmark_file
from pipeline.face.landmark_names import CONTOUR, template_vertices
from pipeline.face.register import Guides, RegistrationSettings, TemplateFitter
from pipeline.face.rigid import transform
from pipeline.face.template import build_template
from pipeline.face.units import MM_PER_UNIT
from pipeline.provenance import run_record
from pipeline.stages import Paths, run_stage

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"
HELD_OUT = ("ibug31", "ibug34", "ibug28", "ibug49", "ibug55", "ibug52", "ibug58", "ibug9", "ibug37", "ibug40",
            "ibug43", "ibug46")


def held_out_errors(template, settings) -> dict[str, float]:
    vertices, faces, unit = read_scan_mm(DATA / "standard_face.ply", "standard")
    annotated = read_landmark_file(DATA / "standard_face.ljson", "standard")
    points = dict(zip(annotated.names, annotated.points * MM_PER_UNIT[unit]))
    where = template_vertices(points, template)
    fitter = TemplateFitter(template, settings)
    errors = {}
    for fold in (HELD_OUT[0::2], HELD_OUT[1::2]):
        guides = [n for n in where if n not in CONTOUR and n not in fold]
        fit = fitter.register(vertices, faces, Guides(np.array([where[n] for n in guides]),
                                                      np.array([points[n] for n in guides])))
        for name in fold:
            errors[name] = float(np.linalg.norm(transform(fit.vertices[[where[name]]], fit.to_scan)[0] - points[name]))
    return errors


def through_the_stages(template, scratch: Path) -> list[dict]:
    """One root, the face in every unit, with and without its landmarks; on_error: skip."""
    root = scratch / "root"
    (root / "scans").mkdir(parents=True)
    mesh = trimesh.load(DATA / "standard_face.ply", process=False)
    annotation = json.loads((DATA / "standard_face.ljson").read_text())
    microns = np.asarray(mesh.vertices)
    rows = []
    for unit, mm in MM_PER_UNIT.items():
        scaled = trimesh.Trimesh(microns * MM_PER_UNIT["um"] / mm, mesh.faces, process=False)
        scaled.export(root / "scans" / f"face_{unit}.ply")
        points = annotation["groups"]["LJSON"]["landmarks"]["points"]
        scaled_points = [[c * MM_PER_UNIT["um"] / mm for c in p] for p in points]
        document = json.loads(json.dumps(annotation))
        document["groups"]["LJSON"]["landmarks"]["points"] = scaled_points
        (root / "scans" / f"face_{unit}.ljson").write_text(json.dumps(document))
        for guided in (True, False):
            rows.append({"speaker_id": f"{unit}_{'ibug' if guided else 'none'}", "gender": "F", "audio": "",
                         "scan": f"scans/face_{unit}.ply", "landmarks": f"scans/face_{unit}.ljson" if guided else ""})
    pd.DataFrame(rows).to_csv(root / "manifest.csv", index=False)
    params = with_values(default_params(), "data", {"root": str(root), "on_error": "skip"}, "real_face.py")
    paths = Paths.from_dvc_yaml(ROOT / "dvc.yaml", scratch / "work")
    run_stage("landmarks", None, params, paths)
    run_stage("register", None, params, paths)
    units = pd.read_csv(paths.landmarks_qc).set_index("speaker_id")["unit"]
    qc = pd.read_csv(paths.register_qc).set_index("speaker_id")
    kept = list(pd.read_csv(paths.face_speakers)["speaker_id"])
    registered, to_scan = np.load(paths.registered), np.load(paths.to_scan)
    annotated = read_landmark_file(DATA / "standard_face.ljson", "standard")
    truth = dict(zip(annotated.names, annotated.points * MM_PER_UNIT["um"]))
    where = template_vertices([n for n in truth if n not in CONTOUR], template)
    out = []
    for row in rows:
        sid = row["speaker_id"]
        error = None
        if sid in kept:
            i = kept.index(sid)
            landed = transform(registered[i][[where[n] for n in where]], to_scan[i])  # the scan in mm
            error = float(np.median(np.linalg.norm(landed - np.array([truth[n] for n in where]), axis=1)))
        out.append({"speaker_id": sid, "unit found": units[sid], "guides": int(qc.loc[sid, "guides"]),
                    "kept": sid in kept, "reason": "" if sid in kept else qc.loc[sid, "reason"],
                    "start_mm": qc.loc[sid, "start_mm"], "surface_distance_mm": qc.loc[sid, "surface_distance_mm"],
                    "coverage": qc.loc[sid, "coverage"], "landmark_fit_mm": qc.loc[sid, "landmark_fit_mm"],
                    "asymmetry_mm": qc.loc[sid, "asymmetry_mm"], "median_error_mm": error})
    return out


def main() -> None:
    started = time.perf_counter()
    params = default_params()
    template = build_template(params.face.template_vertices)
    errors = held_out_errors(template, RegistrationSettings.from_params(params.face))
    with tempfile.TemporaryDirectory() as scratch:
        stages = through_the_stages(template, Path(scratch))
    out = ROOT / "reports" / "experiments" / "real_face.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    ranked = sorted(errors.items(), key=lambda item: -item[1])
    settings = {"held_out": list(HELD_OUT), "folds": 2, "face": params.face.model_dump(mode="json")}
    out.write_text(json.dumps({"held_out": errors, "held_out_median_mm": float(np.median(list(errors.values()))),
                               "held_out_worst_first": [{"landmark": n, "mm": e} for n, e in ranked],
                               "stages": stages, "run": run_record(settings, time.perf_counter() - started)},
                              indent=2, default=float) + "\n")
    print(pd.Series(errors, name="error (mm)").to_frame().T.to_markdown(floatfmt=".1f"))
    print(f"median {np.median(list(errors.values())):.2f} mm\n")
    print(pd.DataFrame(stages).to_markdown(index=False, floatfmt=".2f"))


if __name__ == "__main__":
    main()
