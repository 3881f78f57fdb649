"""How far the landmark plausibility check's bounds are from real configurations and from broken ones.

Every annotation of a dataset root (default: the default world's data/synthetic), the menpo3d
real face's iBUG-68 annotation, and broken versions (rows scrambled, random vertices of the
template) are judged by pipeline/face/plausibility.py; their size ratios and shape distances go
to reports/experiments/plausibility/margins.json with the bounds, the commit and the settings.

    PYTHONPATH=. python scripts/plausibility_margins.py [--root data/synthetic] [--broken 20]
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from pipeline.artifacts import write_json
from pipeline.dataset import read_manifest
from pipeline.face.io import read_scan_mm
from pipeline.face.landmark_files import read_landmark_file
from pipeline.face.landmark_names import VOCABULARY
from pipeline.face.plausibility import MAX_SHAPE_DISTANCE, SIZE_RANGE, Plausibility, plausibility
from pipeline.face.template import Template, build_template
from pipeline.face.units import MM_PER_UNIT
from pipeline.provenance import ROOT, run_record

REAL_FACE = ROOT / "tests" / "data" / "standard_face.ljson"
MICROMETRES_TO_MM = 0.001
OUT = ROOT / "reports" / "experiments" / "plausibility" / "margins.json"


def _summary(judged: list[Plausibility]) -> dict:
    size = np.array([j.size_ratio for j in judged])
    shape = np.array([j.shape_distance for j in judged])
    return {"n": len(judged), "size_ratio_min": float(size.min()), "size_ratio_max": float(size.max()),
            "shape_distance_min": float(shape.min()), "shape_distance_median": float(np.median(shape)),
            "shape_distance_max": float(shape.max()), "failing": int(sum(j.problem() is not None for j in judged))}


def _annotations(root: Path) -> list[tuple[list[str], np.ndarray]]:
    """Each speaker's annotation in mm, names in vocabulary order (as the landmarks stage reads them)."""
    out = []
    for speaker in tqdm(read_manifest(root), desc="annotations", unit="face"):
        if not (speaker.scan and speaker.landmarks):
            continue
        _, _, unit = read_scan_mm(root / speaker.scan, speaker.speaker_id, speaker.scan)
        read = read_landmark_file(root / speaker.landmarks, speaker.speaker_id, speaker.landmarks)
        order = np.argsort([VOCABULARY.index(n) for n in read.names], kind="stable")
        out.append(([read.names[i] for i in order], read.points[order] * MM_PER_UNIT[unit]))
    return out


def _broken(names: list[str], points: np.ndarray, template: Template, rng: np.random.Generator,
            n: int) -> dict[str, list[Plausibility]]:
    mesh = template.vertices
    return {"scrambled": [plausibility(names, points[rng.permutation(len(points))], template) for _ in range(n)],
            "random_vertices": [plausibility(names, mesh[rng.choice(len(mesh), len(names), replace=False)], template)
                                for _ in range(n)]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default="data/synthetic")
    parser.add_argument("--broken", type=int, default=20, help="broken configurations of each kind")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    started = time.time()
    template = build_template(6790)
    rng = np.random.default_rng(args.seed)
    annotations = _annotations(Path(args.root))
    real = read_landmark_file(REAL_FACE, "standard_face")
    real_points = real.points * MICROMETRES_TO_MM
    result = {
        "bounds": {"size_range": list(SIZE_RANGE), "max_shape_distance": MAX_SHAPE_DISTANCE},
        "root_annotations": _summary([plausibility(n, p, template) for n, p in annotations]),
        "real_face": _summary([plausibility(list(real.names), real_points, template)]),
    }
    for kind, judged in _broken(list(real.names), real_points, template, rng, args.broken).items():
        result[f"real_face_{kind}"] = _summary(judged)
    if annotations:
        for kind, judged in _broken(*annotations[0], template, rng, args.broken).items():
            result[f"root_{kind}"] = _summary(judged)
    result["run"] = run_record({"root": str(args.root), "broken": args.broken, "seed": args.seed},
                               time.time() - started)
    write_json(result, OUT)
    print(f"{OUT}: written")


if __name__ == "__main__":
    main()
