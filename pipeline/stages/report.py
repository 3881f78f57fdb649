"""report stage: reports/index.html, one self-contained page of the whole run.

Dataset, registration QC, selection (with the predictable AMs on the face), phonemes, reconstruction against baselines, error maps, a 3D
viewer of D_e reconstructions beside their true faces, and the parameters and revision the
page was made from. It reads only its declared deps (studies such as `sfv power` and the
synthetic cohort's sheets are in docs/, not here).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile
import yaml

from ..artifacts import read_json, read_table, speaker_file, write_text
from ..cohort import Gender
from ..config import Params
from ..dataset import read_manifest
from ..face.io import read_mesh, read_triangles
from ..face.registered import RegisteredFaces
from ..report.page import Page, esc, image, paragraph, revision_note
from ..report.sections import (dataset_section, phonemes_section, reconstruction_section, registration_section,
                               selection_section)
from ..report.viewer import viewer_html
from . import DVC_YAML, Paths


def main(params: Params, paths: Paths) -> None:
    genders = [Gender(g) for g in params.sfv.genders]
    root = Path(params.data.root)
    manifest = read_manifest(root)
    table = pd.DataFrame([{"speaker_id": s.speaker_id, "gender": s.gender} for s in manifest])
    durations = pd.Series({s.speaker_id: sum(soundfile.info(root / rel).duration for rel in s.audio)
                           for s in manifest})
    segments = read_table(paths.segments)
    speech = (segments["end_s"] - segments["start_s"]).groupby(segments["speaker_id"]).sum()
    features = read_table(paths.features / "index.csv")
    faces = RegisteredFaces.load(paths.registered, paths.face_speakers)
    evaluated = {s for g in genders for s in read_table(paths.reconstructions / str(g) / "speakers.csv")["speaker_id"]}
    used = {"with speech": set(speech.index), "with features": set(features["speaker_id"]),
            "with a registered face": set(faces.speakers["speaker_id"]), "in D_e": evaluated}
    skipped = pd.concat([pd.read_csv(path, dtype=str) for path in (paths.skipped_voices, paths.skipped_faces)
                         if path.is_file()], ignore_index=True)
    metrics = json.loads(paths.metrics.read_text())
    detail = json.loads(paths.evaluation.read_text())
    geometry = json.loads(paths.geometry.read_text()) if paths.geometry.is_file() else None
    plots = paths.plots

    page = Page("sfv report: shape from voice", revision_note(DVC_YAML.resolve().parent))
    page.add("dataset", "Dataset", dataset_section(table, durations, speech, used, skipped))
    page.add("registration", "Registration QC",
             registration_section(read_table(paths.register_qc), read_table(paths.landmarks_qc),
                                  geometry if geometry and "surface_distance_mm" in geometry.get("register", {}) else None),
             *_images([paths.registration_plot], "registration error"))
    page.add("selection", "Predictable AMs (select)",
             *[selection_section(str(g), pd.read_csv(paths.selection / f"{g}.csv"), metrics.get(str(g), {}))
               + "".join(_images([plots / f"selection_{g}.png", plots / f"predictable_ams_{g}.png"], f"{g} selection"))
               for g in genders])
    page.add("phonemes", "Phonemes: which sounds carry which AMs",
             *[phonemes_section(str(g), read_table(paths.phonemes / f"{g}.csv"),
                                read_json(paths.phonemes / f"{g}.json", "phonemes")[str(g)]["phonemes"])
               + "".join(_images([plots / f"phonemes_{g}.png", plots / f"phoneme_am_{g}.png"], f"{g} phonemes"))
               for g in genders])
    curves = {str(g): pd.read_csv(paths.evaluation_curves / f"{g}.csv") for g in genders}
    page.add("reconstruction", "Reconstruction against baselines (evaluate)",
             reconstruction_section(metrics, detail, curves),
             *_images([plots / f"error_map_{g}.png" for g in genders], "error map"))
    page.add("viewer", "3D viewer: D_e reconstructions and true faces",
             _viewer(faces, paths.template, paths.reconstructions, genders, params.report.viewer_speakers))
    page.add("parameters", "Parameters", f"<pre>{esc(yaml.safe_dump(params.model_dump(by_alias=True), sort_keys=False))}</pre>")
    html = page.render()
    write_text(html, paths.report)


def _images(files: list[Path], alt: str) -> list[str]:
    return [image(f.read_bytes(), f"{alt}: {f.name}") for f in files if f.is_file()]


def _viewer(registered: RegisteredFaces, template: Path, reconstructions_dir: Path, genders: list[Gender],
            per_gender: int) -> str:
    """The `per_gender` most certain D_e speakers of each gender."""
    triangles = read_triangles(template)
    shown = []
    for g in genders:
        folder = reconstructions_dir / str(g)
        info = read_table(folder / "speakers.csv")
        errors = np.load(folder / "errors.npy")
        order = np.argsort(info["uncertainty"].to_numpy(), kind="stable")
        for rank, i in enumerate(order[:per_gender], start=1):
            sid = info["speaker_id"].iloc[i]
            shown.append({"label": f"{g} {sid}", "reconstruction": read_mesh(speaker_file(folder, sid, ".ply"))[0],
                          "truth": registered.of([sid])[0], "errors": errors[i],
                          "caption": f"mean per-vertex error {errors[i].mean():.2f} mm; uncertainty rank {rank} "
                                     f"of {len(info)} in D_e (1 = most certain)"})
    if not shown:
        return paragraph("No reconstruction to show.")
    vmax = float(np.ceil(2 * np.percentile(np.concatenate([f["errors"] for f in shown]), 98)) / 2)
    return viewer_html(triangles, shown, max(vmax, 0.5))

