"""geometry stage: reports/geometry.json, the per-AM table and the registration plot.

On every root: the QC summary, the registered AMs' spread and the fit to the scans. Where
<root>/truth exists (synthetic roots), also the errors against the true landmarks, surfaces
and AMs. Only this report reads <root>/truth; nothing it writes flows into another stage.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import trimesh

from ..artifacts import read_table
from ..config import load_params
from ..face.ams import read_am_table
from ..face.evaluation import am_summary, in_true_frame, qc_scores, surface_distances
from ..face.rigid import transform
from ..plots.render import render_mesh, save_figure
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
        vertex_errors = _against_truth(report, truth, faces_dir, landmark_qc)
        true_ams = read_table(truth / "ams.csv").set_index("speaker_id")[columns]
    summary = am_summary(measured, dict(zip(columns, table.kind)), dict(zip(columns, table.label)), true_ams)
    if true_ams is not None:
        report["ams"] = {kind: {"r_median": float(group["r"].median()), "r_min": float(group["r"].min()),
                                "mae_median": float(group["mae"].median()),
                                "truth_sd_median": float(group["truth_sd"].median())}
                         for kind, group in summary.groupby("kind")}
    template = trimesh.load(faces_dir / "template.ply", process=False)
    figure = (_error_figure(np.asarray(template.vertices), np.asarray(template.faces), *vertex_errors)
              if vertex_errors else _fit_figure(register_qc))
    for path in (out, am_table_out, plot):
        path.parent.mkdir(parents=True, exist_ok=True)
    summary.to_csv(am_table_out, index=False, float_format="%.4f")
    save_figure(figure, plot)
    out.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")


def _against_truth(report: dict, truth: Path, faces_dir: Path,
                   landmark_qc: pd.DataFrame) -> tuple[np.ndarray, np.ndarray] | None:
    """Landmark and registration errors against the truth into `report`; the per-vertex
    correspondence and surface errors when the topologies match."""
    true_ids = read_table(truth / "speakers.csv")["speaker_id"].tolist()
    rows = [true_ids.index(sid) for sid in landmark_qc["speaker_id"]]
    poses = np.load(truth / "poses.npy")[rows]
    true_landmarks = np.load(truth / "landmarks.npy").astype(np.float64)[rows]

    # Landmarks: QC against the planted mislabels; final landmarks against the true ones.
    annotations = read_table(truth / "annotations.csv")
    n_landmarks = true_landmarks.shape[1]
    mislabelled = annotations.pivot(index="speaker_id", columns="landmark", values="mislabelled").loc[landmark_qc["speaker_id"]]
    annotated_error = annotations.pivot(index="speaker_id", columns="landmark", values="error_mm").loc[landmark_qc["speaker_id"]]
    flagged = np.zeros((len(landmark_qc), n_landmarks), dtype=bool)
    for i, numbers in enumerate(landmark_qc["flagged_landmarks"].fillna("").astype(str)):
        for number in filter(None, numbers.split(";")):
            flagged[i, int(number) - 1] = True
    is_annotated = landmark_qc["source"].eq("annotated").to_numpy()
    final = np.load(faces_dir / "landmarks.npy")
    final_error = np.linalg.norm(final - np.stack([transform(p, m) for p, m in zip(true_landmarks, poses)]), axis=2)
    report["landmarks"].update(qc_scores(flagged[is_annotated], mislabelled.to_numpy(bool)[is_annotated]))
    report["landmarks"].update({
        "error_mm": float(final_error.mean()),
        "error_p95_mm": float(np.percentile(final_error, 95)),
        "error_mm_annotated": float(annotated_error.to_numpy()[is_annotated].mean()) if is_annotated.any() else None,
    })

    # Registration: per-vertex correspondence error and distance to the true surface.
    registered = np.load(faces_dir / "registered.npy").astype(np.float64)
    rows = [true_ids.index(sid) for sid in read_table(faces_dir / "speakers.csv")["speaker_id"]]  # QC-passed faces
    poses = np.load(truth / "poses.npy")[rows]
    true_shapes = np.load(truth / "shapes.npy").astype(np.float64)[rows]
    if registered.shape[1] != true_shapes.shape[1]:
        report["register"]["note"] = "template and true topology differ: per-vertex errors not computed"
        return None
    mapped = in_true_frame(registered, np.load(faces_dir / "to_scan.npy"), poses)
    vertex_error = np.linalg.norm(mapped - true_shapes, axis=2)
    true_faces = _read_faces(truth / "template.ply")
    surface = surface_distances(mapped, true_shapes, true_faces)
    regions = pd.read_csv(faces_dir / "template_regions.csv")["region"].to_numpy(str)
    report["register"].update(_distribution("vertex_error", vertex_error))
    report["register"].update(_distribution("surface_distance", surface))
    report["register"]["by_region"] = {
        name: {"vertex_error_mm": float(vertex_error[:, regions == name].mean()),
               "surface_distance_mm": float(surface[:, regions == name].mean())}
        for name in dict.fromkeys(regions) if name}
    return vertex_error, surface


def _distribution(name: str, values: np.ndarray) -> dict[str, float]:
    per_face = values.mean(axis=1)
    return {f"{name}_mm": float(values.mean()), f"{name}_p95_mm": float(np.percentile(values, 95)),
            f"{name}_worst_face_mm": float(per_face.max())}


def _mean(values: pd.Series) -> float | None:
    finite = values.dropna()
    return float(finite.mean()) if len(finite) else None


def _read_faces(path: Path) -> np.ndarray:
    return np.asarray(trimesh.load(path, process=False).faces)


def _fit_figure(register_qc: pd.DataFrame) -> plt.Figure:
    """Without ground truth: how closely the registered faces follow their scans, and how much
    of the template found scan surface."""
    figure, axes = plt.subplots(1, 2, figsize=(10, 4.2))
    for ax, column, label in zip(axes, ("surface_distance_mm", "coverage"),
                                 ("mean distance to the scan (mm)", "share of template vertices matched")):
        ax.hist(register_qc[column].dropna(), bins=20)
        ax.set_xlabel(label)
        ax.set_ylabel("faces")
    figure.suptitle("Registration against the scans (no ground truth on this root)")
    return figure


def _error_figure(vertices: np.ndarray, faces: np.ndarray, vertex_error: np.ndarray, surface: np.ndarray) -> plt.Figure:
    """Mean correspondence error per vertex on the template (front, profile) and per-face histograms."""
    figure, axes = plt.subplots(1, 3, figsize=(13, 4.6), gridspec_kw={"width_ratios": [1, 1, 1.2]})
    mean_error = vertex_error.mean(axis=0)
    top = float(np.percentile(mean_error, 99))
    for ax, view in zip(axes[:2], ("front", "profile")):
        collection = render_mesh(ax, vertices, faces, view=view, vertex_values=mean_error, cmap="magma", vmin=0, vmax=top)
        ax.set_title(f"mean vertex error, {view}")
    figure.colorbar(collection, ax=axes[:2], shrink=0.8, label="mm")
    axes[2].hist([vertex_error.mean(axis=1), surface.mean(axis=1)], bins=20,
                 label=["correspondence error", "distance to true surface"])
    axes[2].set_xlabel("mean per face (mm)")
    axes[2].set_ylabel("faces")
    axes[2].legend()
    return figure


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
