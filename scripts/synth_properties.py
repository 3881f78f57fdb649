"""Measure what docs/synthetic-cohort.md says the shape model and the raw scans do.

The page describes drawn faces (how often a draw folds and is drawn again, how exactly the
measured distances are met, the eigenfaces' tail, the sex differences and correlations of the
AMs, what synth.mean_shift moves) and drawn scans (vertex count and size with each
synth.scan.head, the vertices clutter adds). The tests only bound these; this measures them,
with the default params, and writes reports/experiments/synth_properties/properties.json and
scans.csv with the params and the commit.

    python scripts/synth_properties.py                   # about 5 min on 2 busy cores
    python scripts/synth_properties.py --scan-people 5   # quicker, noisier
"""
from __future__ import annotations

import argparse
import json
import subprocess
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from pipeline.config import default_params
from pipeline.face.ams import default_am_table, measure
from pipeline.face.template import build_template
from pipeline.synth.cohort import ScanSettings, VoiceSettings, simulate_person
from pipeline.synth.scans import true_frame
from pipeline.synth.shape_model import FACTOR_NAMES, FACTORS, MEAN_SHIFT_MM, ShapeModel, build_shape_model

ROOT = Path(__file__).resolve().parents[1]
SEX_AMS = ("32-38", "39-45", "57-63", "56-64", "60-54")  # alar, mouth, bizygomatic, bigonial width, face height
NOSE_AMS, EYE_AMS = ("32-38", "33-37"), ("11-15", "15-19", "13-17")
# Distances a mean shift names beyond its factors' own (1-based landmarks).
EXTRA_DISTANCES = {"n-sn": (28, 35), "ex-ex": (11, 23)}
# The scans drawn: (sex, synth.scan.head, synth.scan.clutter).
SCANS = (("F", "none", 0.0), ("F", "front", 0.0), ("F", "whole", 0.0), ("M", "front", 0.0), ("F", "none", 1.0))


def commit() -> str:
    """HEAD, marked when tracked files differ from it."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    return git("rev-parse", "HEAD") + (" (with uncommitted changes)" if git("status", "--porcelain", "-uno") else "")


def fold_share(model: ShapeModel, draws: int, seed: int) -> dict[str, float]:
    """Share of single draws whose mesh folds, per sex: what `sample_face` draws again."""
    out = {}
    for sex in ("M", "F"):
        rng = np.random.default_rng([seed, 1, "MF".index(sex)])
        folded = [model.folds(model.face(model.sample_factors(rng, sex, 1)[0], model.residual(rng)))
                  for _ in tqdm(range(draws), desc=f"fold draws {sex}")]
        out[sex] = float(np.mean(folded))
    return out


def faces(model: ShapeModel, per_sex: int, seed: int) -> dict:
    """Newton accuracy, eigenface tail, sex differences and AM correlations of drawn faces."""
    drawn = {}
    for sex in ("M", "F"):
        rng = np.random.default_rng([seed, 2, "MF".index(sex)])
        values, shapes = zip(*(model.sample_face(rng, sex) for _ in tqdm(range(per_sex), desc=f"faces {sex}")))
        drawn[sex] = (np.stack(values), np.stack(shapes))
    idx = model.template.landmark_idx
    error = max(float(np.abs(np.linalg.norm(s[:, idx][:, model.measure_pairs[:, 0]] - s[:, idx][:, model.measure_pairs[:, 1]],
                                            axis=-1) - v[:, model.measured]).max()) for v, s in drawn.values())
    every = np.concatenate([drawn["M"][1], drawn["F"][1]]).reshape(2 * per_sex, -1)
    sv = np.linalg.svd(every - every.mean(0), compute_uv=False)
    share = np.cumsum(sv ** 2) / np.sum(sv ** 2)
    table = default_am_table()
    column = {label: list(table.label).index(label) for label in SEX_AMS + NOSE_AMS + EYE_AMS}
    with torch.no_grad():
        ams = {sex: measure(torch.from_numpy(s), torch.from_numpy(idx), table).numpy() for sex, (_, s) in drawn.items()}
    sex_z = {}
    for label in SEX_AMS:
        male, female = ams["M"][:, column[label]], ams["F"][:, column[label]]
        se = np.sqrt(male.var(ddof=1) / len(male) + female.var(ddof=1) / len(female))
        sex_z[label] = float((male.mean() - female.mean()) / se)
    r = {sex: np.corrcoef(a, rowvar=False) for sex, a in ams.items()}
    return {
        "faces_per_sex": per_sex,
        "measured_distance_error_max_mm": error,
        "eigenfaces": {"factors": len(FACTORS), "share_in_first_factors": float(share[len(FACTORS) - 1]),
                       "target_share": 0.999, "components_for_target": int(np.searchsorted(share, 0.999) + 1)},
        "sex_difference_z": sex_z | {"min": min(sex_z.values())},
        "am_correlation": {sex: {"nose_eye_max_abs": float(max(abs(m[column[n], column[e]]) for n in NOSE_AMS
                                                               for e in EYE_AMS)),
                                 "zy_go": float(m[column["57-63"], column["56-64"]])} for sex, m in r.items()},
    }


def mean_shift(model: ShapeModel, people: int, seed: int) -> dict:
    """The same people drawn with synth.mean_shift 0 and 1: how each distance moves."""
    shifted = model.shifted(1.0)
    pairs = {f.name: f.measure for f in FACTORS if f.measure is not None} | EXTRA_DISTANCES
    idx = model.template.landmark_idx

    def draw(m: ShapeModel) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        drawn = [m.sample_face(np.random.default_rng([seed, 3, i]), "MF"[i % 2]) for i in tqdm(range(people), desc="mean shift")]
        marks = np.stack([f for _, f in drawn])[:, idx]
        return np.stack([v for v, _ in drawn]), {k: np.linalg.norm(marks[:, a - 1] - marks[:, b - 1], axis=1)
                                                for k, (a, b) in pairs.items()}
    (before_values, before), (after_values, after) = draw(model), draw(shifted)
    same = np.all(np.isclose(after_values - before_values, shifted.mean_offset, atol=1e-9), axis=1)
    out = {"people": people, "same_person": int(same.sum()), "distances": {}}
    for name in pairs:
        change = after[name][same] - before[name][same]
        out["distances"][name] = {"shift_mm": MEAN_SHIFT_MM.get(name, 0.0), "mean_change_mm": float(after[name].mean() - before[name].mean()),
                                  "same_person_min_mm": float(change.min()), "same_person_max_mm": float(change.max())}
    factor_names = [n for n in pairs if n in FACTOR_NAMES]
    out["factor_distance_max_error_mm"] = max(
        max(abs(d["same_person_min_mm"] - d["shift_mm"]), abs(d["same_person_max_mm"] - d["shift_mm"]))
        for n, d in out["distances"].items() if n in factor_names)
    return out


def scans(model: ShapeModel, people: int, seed: int, settings: ScanSettings, voice: VoiceSettings) -> pd.DataFrame:
    """Vertex count and size (true frame: breadth x, height y with the neck, depth z) of the
    same people's scans for each row of SCANS, and the head's vertex-to-menton height."""
    menton = model.template.landmark_idx[53]
    rows = []
    for sex, head, clutter in SCANS:
        drawn = [simulate_person(model, f"{sex}{i:04d}", sex, i, seed, replace(settings, head=head, clutter=clutter), voice)
                 for i in tqdm(range(people), desc=f"scans {sex} {head} clutter {clutter:g}")]
        frames = [true_frame(p.scan) for p in drawn]
        size = np.mean([np.ptp(f, axis=0) for f in frames], axis=0)
        rows.append({"sex": sex, "head": head, "clutter": clutter, "people": people,
                     "vertices": float(np.mean([len(p.scan.vertices) for p in drawn])),
                     "breadth_mm": size[0], "height_mm": size[1], "depth_mm": size[2],
                     "vertex_to_menton_mm": float(np.mean([f[:, 1].max() - p.vertices[menton, 1]
                                                           for f, p in zip(frames, drawn)]))})
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fold-draws", type=int, default=1000, help="single draws per sex for the fold share")
    parser.add_argument("--faces", type=int, default=300, help="faces per sex for the face statistics")
    parser.add_argument("--shift-people", type=int, default=200)
    parser.add_argument("--scan-people", type=int, default=20, help="people per row of scans.csv")
    parser.add_argument("--out", type=Path, default=ROOT / "reports/experiments/synth_properties")
    args = parser.parse_args()
    params = default_params()
    synth = params.synth
    model = build_shape_model(build_template(synth.vertices), synth.residual_mm)
    table = scans(model, args.scan_people, params.seed, ScanSettings.from_params(synth), VoiceSettings.from_params(synth))
    document = {"commit": commit(), "seed": params.seed, "params": synth.model_dump(mode="json"),
                "fold_share": fold_share(model, args.fold_draws, params.seed) | {"draws_per_sex": args.fold_draws},
                **faces(model, args.faces, params.seed), "mean_shift": mean_shift(model, args.shift_people, params.seed)}
    args.out.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out / "scans.csv", index=False, float_format="%.6g")
    (args.out / "properties.json").write_text(json.dumps(document, indent=2) + "\n")
    print(table.to_string(index=False))
    print(json.dumps({k: v for k, v in document.items() if k != "params"}, indent=1))


if __name__ == "__main__":
    main()
