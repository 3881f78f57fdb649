"""geometry stage: reports/geometry.json, the per-AM table and the registration plot.

On every root: the QC summary, the registered AMs' spread and the fit to the scans. Where
<root>/truth exists (synthetic roots), also the errors against the true landmarks, surfaces
and AMs. Only this report reads <root>/truth; nothing it writes flows into another stage.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from ..artifacts import read_table, write_csv, write_json
from ..config import load_params
from ..face.ams import read_am_table
from ..face.evaluation import am_summary
from ..face.io import read_mesh
from ..face.truth_report import against_truth
from ..plots.registration import error_figure, fit_figure
from ..plots.render import save_figure
from . import run


def main(params_path: Path, faces_dir: Path, ams_path: Path, out: Path, am_table_out: Path, plot: Path) -> None:
    params = load_params(params_path)
    root = Path(params.data.root)
    landmark_qc = read_table(faces_dir / "landmarks_qc.csv")
    register_qc = read_table(faces_dir / "register_qc.csv")
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
    measured = read_table(ams_path).set_index("speaker_id")[columns]
    true_ams = None
    vertex_errors = None
    if truth.is_dir():
        vertex_errors = against_truth(report, truth, faces_dir, landmark_qc)
        true_ams = read_table(truth / "ams.csv").set_index("speaker_id")[columns]
    summary = am_summary(measured, dict(zip(columns, table.kind)), dict(zip(columns, table.label)), true_ams)
    if true_ams is not None:
        report["ams"] = {kind: {"r_median": float(group["r"].median()), "r_min": float(group["r"].min()),
                                "mae_median": float(group["mae"].median()),
                                "truth_sd_median": float(group["truth_sd"].median())}
                         for kind, group in summary.groupby("kind")}
    figure = (error_figure(*read_mesh(faces_dir / "template.ply"), *vertex_errors)
              if vertex_errors else fit_figure(register_qc))
    write_csv(summary, am_table_out, "%.4f")
    save_figure(figure, plot)
    write_json(report, out)


def _mean(values: pd.Series) -> float | None:
    finite = values.dropna()
    return float(finite.mean()) if len(finite) else None


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--faces", type=Path, default=Path("data/faces"))
    parser.add_argument("--ams", type=Path, default=Path("data/ams/ams.csv"))
    parser.add_argument("--out", type=Path, default=Path("reports/geometry.json"))
    parser.add_argument("--am-table", type=Path, default=Path("reports/geometry_ams.csv"))
    parser.add_argument("--plot", type=Path, default=Path("reports/plots/registration_error.png"))
    args = parser.parse_args()
    run(main, args.params, args.faces, args.ams, args.out, args.am_table, args.plot)
