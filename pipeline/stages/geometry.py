"""geometry stage: reports/geometry.json, the per-AM table and the registration plot.

On every root: the QC summary, the registered AMs' spread and the fit to the scans. Where
<root>/truth exists (synthetic roots), also the errors against the true landmarks, surfaces
and AMs. Only this report reads <root>/truth; nothing it writes flows into another stage.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..artifacts import read_table, write_csv, write_json
from ..config import Params
from ..face.ams import read_am_table
from ..face.evaluation import am_summary
from ..face.io import read_mesh
from ..face.landmarking import sfv_points
from ..face.truth_report import RegisteredRun, against_truth
from ..plots.registration import error_figure, fit_figure
from ..plots.render import save_figure
from . import Paths


def main(params: Params, paths: Paths) -> None:
    root = Path(params.data.root)
    landmark_qc = read_table(paths.landmarks_qc)
    register_qc = read_table(paths.register_qc)
    report: dict = {
        "n_faces": len(landmark_qc),
        "landmarks": {"sources": landmark_qc["source"].value_counts().sort_index().to_dict(),
                      "speakers_flagged": int((landmark_qc["flagged"] > 0).sum())},
        "register": {"qc_flagged": int(register_qc["flagged"].sum()),
                     "scan_fit_mm": _mean(register_qc["surface_distance_mm"]),
                     "coverage": _mean(register_qc["coverage"])},
    }
    truth = root / "truth"
    report["ground_truth"] = truth.is_dir()
    table = read_am_table(Path(params.face.ams))
    columns = [f"am_{i}" for i in table.am_id]
    measured = read_table(paths.ams).set_index("speaker_id")[columns]
    true_ams = None
    vertex_errors = None
    if truth.is_dir():
        run = RegisteredRun(sfv_points(read_table(paths.landmarks), list(landmark_qc["speaker_id"])), landmark_qc,
                            np.load(paths.registered),
                            list(read_table(paths.face_speakers)["speaker_id"]), np.load(paths.to_scan),
                            pd.read_csv(paths.template_regions)["region"].to_numpy(str))
        vertex_errors = against_truth(report, truth, run)
        true_ams = read_table(truth / "ams.csv").set_index("speaker_id")[columns]
    summary = am_summary(measured, dict(zip(columns, table.kind)), dict(zip(columns, table.label)), true_ams)
    if true_ams is not None:
        report["ams"] = {kind: {"r_median": float(group["r"].median()), "r_min": float(group["r"].min()),
                                "mae_median": float(group["mae"].median()),
                                "truth_sd_median": float(group["truth_sd"].median())}
                         for kind, group in summary.groupby("kind")}
    figure = (error_figure(*read_mesh(paths.template), *vertex_errors)
              if vertex_errors else fit_figure(register_qc))
    write_csv(summary, paths.geometry_ams, "%.4f")
    save_figure(figure, paths.registration_plot)
    write_json(report, paths.geometry)


def _mean(values: pd.Series) -> float | None:
    finite = values.dropna()
    return float(finite.mean()) if len(finite) else None
