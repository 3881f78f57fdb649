"""report stage: reports/index.html, one self-contained page of the whole run.

Dataset, registration QC, selection (with the predictable AMs on the face), phonemes, reconstruction against baselines, error maps, a 3D
viewer of D_e reconstructions beside their true faces, and the parameters and revision the
page was made from. It reads only its declared deps (studies such as `sfv power` and the
synthetic cohort's sheets are in the README and docs/, not here).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile
import yaml

from ..artifacts import read_json, read_table, write_text
from ..config import load_params
from ..dataset import read_manifest
from ..face.io import read_mesh, read_triangles
from ..report.page import Page, esc, image, paragraph, revision_note
from ..report.sections import (dataset_section, phonemes_section, reconstruction_section, registration_section,
                               selection_section)
from ..report.viewer import viewer_html
from . import run


def main(params_path: Path, faces_dir: Path, segments_path: Path, features_dir: Path, reports_dir: Path,
         reconstructions_dir: Path, out_path: Path) -> None:
    params = load_params(params_path)
    genders = list(params.sfv.genders)
    root = Path(params.data.root)
    manifest = read_manifest(root)
    table = pd.DataFrame([{"speaker_id": s.speaker_id, "gender": s.gender} for s in manifest])
    durations = pd.Series({s.speaker_id: sum(soundfile.info(root / rel).duration for rel in s.audio)
                           for s in manifest})
    segments = read_table(segments_path)
    speech = (segments["end_s"] - segments["start_s"]).groupby(segments["speaker_id"]).sum()
    features = read_table(features_dir / "index.csv")
    faces = read_table(faces_dir / "speakers.csv")
    evaluated = {s for g in genders for s in read_table(reconstructions_dir / g / "speakers.csv")["speaker_id"]}
    used = {"with speech": set(speech.index), "with features": set(features["speaker_id"]),
            "with a registered face": set(faces["speaker_id"]), "in D_e": evaluated}
    skipped = pd.concat([pd.read_csv(reports_dir / name, dtype=str) for name in ("skipped.csv", "skipped_faces.csv")
                         if (reports_dir / name).is_file()], ignore_index=True)
    metrics = json.loads((reports_dir / "metrics.json").read_text())
    detail = json.loads((reports_dir / "evaluation.json").read_text())
    geometry_path = reports_dir / "geometry.json"
    geometry = json.loads(geometry_path.read_text()) if geometry_path.is_file() else None
    plots = reports_dir / "plots"

    page = Page("sfv report: shape from voice", revision_note(params_path.resolve().parent))
    page.add("dataset", "Dataset", dataset_section(table, durations, speech, used, skipped))
    page.add("registration", "Registration QC",
             registration_section(read_table(faces_dir / "register_qc.csv"),
                                  read_table(faces_dir / "landmarks_qc.csv"),
                                  geometry if geometry and "surface_distance_mm" in geometry.get("register", {}) else None),
             *_images(plots, ["registration_error.png"], "registration error"))
    page.add("selection", "Predictable AMs (select)",
             *[selection_section(g, pd.read_csv(reports_dir / "selection" / f"{g}.csv"), metrics.get(g, {}))
               + "".join(_images(plots, [f"selection_{g}.png", f"predictable_ams_{g}.png"], f"{g} selection"))
               for g in genders])
    page.add("phonemes", "Phonemes: which sounds carry which AMs",
             *[phonemes_section(g, read_table(reports_dir / "phonemes" / f"{g}.csv"),
                                read_json(reports_dir / "phonemes" / f"{g}.json", "phonemes")[g]["phonemes"])
               + "".join(_images(plots, [f"phonemes_{g}.png", f"phoneme_am_{g}.png"], f"{g} phonemes"))
               for g in genders])
    curves = {g: pd.read_csv(reports_dir / "evaluation" / f"{g}.csv") for g in genders}
    page.add("reconstruction", "Reconstruction against baselines (evaluate)",
             reconstruction_section(metrics, detail, curves),
             *_images(plots, [f"error_map_{g}.png" for g in genders], "error map"))
    page.add("viewer", "3D viewer: D_e reconstructions and true faces",
             _viewer(faces, faces_dir, reconstructions_dir, genders, params.report.viewer_speakers))
    page.add("parameters", "Parameters", f"<pre>{esc(yaml.safe_dump(params.model_dump(by_alias=True), sort_keys=False))}</pre>")
    html = page.render()
    write_text(html, out_path)


def _images(plots: Path, names: list[str], alt: str) -> list[str]:
    return [image((plots / n).read_bytes(), f"{alt}: {n}") for n in names if (plots / n).is_file()]


def _viewer(speakers: pd.DataFrame, faces_dir: Path, reconstructions_dir: Path, genders: list[str],
            per_gender: int) -> str:
    """The `per_gender` most certain D_e speakers of each gender (speakers: data/faces/speakers.csv)."""
    row_of = {s: i for i, s in enumerate(speakers["speaker_id"])}
    registered = np.load(faces_dir / "registered.npy", mmap_mode="r")
    triangles = read_triangles(faces_dir / "template.ply")
    shown = []
    for g in genders:
        folder = reconstructions_dir / g
        info = read_table(folder / "speakers.csv")
        errors = np.load(folder / "errors.npy")
        order = np.argsort(info["uncertainty"].to_numpy(), kind="stable")
        for rank, i in enumerate(order[:per_gender], start=1):
            sid = info["speaker_id"].iloc[i]
            shown.append({"label": f"{g} {sid}", "reconstruction": read_mesh(folder / f"{sid}.ply")[0],
                          "truth": np.asarray(registered[row_of[sid]], np.float64), "errors": errors[i],
                          "caption": f"mean per-vertex error {errors[i].mean():.2f} mm; uncertainty rank {rank} "
                                     f"of {len(info)} in D_e (1 = most certain)"})
    if not shown:
        return paragraph("No reconstruction to show.")
    vmax = float(np.ceil(2 * np.percentile(np.concatenate([f["errors"] for f in shown]), 98)) / 2)
    return viewer_html(triangles, shown, max(vmax, 0.5))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--faces", type=Path, default=Path("data/faces"))
    parser.add_argument("--segments", type=Path, default=Path("data/vad/segments.csv"))
    parser.add_argument("--features", type=Path, default=Path("data/features"))
    parser.add_argument("--reports", type=Path, default=Path("reports"))
    parser.add_argument("--reconstructions", type=Path, default=Path("data/reconstructions"))
    parser.add_argument("--out", type=Path, default=Path("reports/index.html"))
    args = parser.parse_args()
    run(main, args.params, args.faces, args.segments, args.features, args.reports, args.reconstructions, args.out)
