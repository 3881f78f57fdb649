"""Rigid starts without landmarks on scans in any orientation and unit: today's
`register.coarse_alignment` against `coarse.find_face`, each followed by the registration.

    python scripts/rigid_start.py   # from the repository root; 7-15 minutes on one core

Cases, each posed by a uniformly random rotation (upside down and facing away included) and a
shift of up to 200 mm:

- standard face: the menpo3d face of tests/data (micrometres), stored in m, cm, mm and µm in
  turn; error over its annotated ibug18..ibug68 (the jaw contour ibug1..17 is no anatomical
  point, docs/landmark-formats.md), none of which guides anything;
- standard face on a head: the same face on a whole head (`head_scan`: cranium with hair-like
  bumps and noise, ears, neck, shoulders, blobs; ~400 mm tall, the face a fraction of it);
- standard face cropped to 100 mm around its most anterior point;
- synthetic scan: a face of the synthetic shape model, scanned by synth.scans.simulate_scan with
  params.yaml's scan settings; error over its 65 true landmarks;
- synthetic face on a head: such a scan on a head;
- coarse synthetic head: a face scanned with 1,500 vertices on a head meshed 14 mm apart
  (~5,000 vertices in all, as coarse as some scanners' exports).

Every case is stored in m, cm, mm and µm in turn. Per case and method: the unit found, the
landmark error of the rigid start alone and after registering (TemplateFitter, params.yaml's
face: settings, no landmarks), the register QC figures, the face score, and seconds for the
start and for the registration. Today's method is given the scan in mm (it has no unit
detection); `find_face` gets the scan as stored and finds the unit itself. Last, the face
score of shapes that are no face (`not_faces`).

Writes reports/experiments/rigid_start/ (docs/geometry.md quotes it): `scans.csv` (one row per
scan and method), `summary.csv` (per case and method), `landmarks.csv` (per case, method and
landmark: median and worst error over the scans), `not_faces.csv` (the shapes' scores) and
`run.json` (the commit, the settings and the wall time).
"""
from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

import numpy as np
import pandas as pd
import trimesh
from scipy.spatial import Delaunay
from scipy.spatial.transform import Rotation

from pipeline.config import default_params
from pipeline.face import register
from pipeline.face.coarse import FaceFit, find_face
from pipeline.face.io import read_scan
from pipeline.face.landmark_files import read_landmark_file
from pipeline.face.landmark_names import CONTOUR, read_ibug_vertices
from pipeline.face.register import RegistrationSettings, TemplateFitter
from pipeline.face.rigid import invert, transform
from pipeline.face.template import Template, build_template
from pipeline.synth.cohort import ScanSettings
from pipeline.synth.scans import simulate_scan
from pipeline.synth.shape_model import build_shape_model
from pipeline.face.units import MM_PER_UNIT, scan_size, scan_unit
from pipeline.provenance import run_record

MICROMETRES_TO_MM = 0.001
UNIT_CYCLE = (("m", 1000.0), ("cm", 10.0), ("mm", 1.0), ("µm", 0.001))
MAX_SHIFT_MM = 200.0
HEAD_SPACING_MM = 3.0  # vertex spacing of the head's parts (a scanner's mesh is about this fine)
COARSE_HEAD_SPACING_MM = 14.0  # and of a coarse scan's, with COARSE_FACE_VERTICES on the face (~5,000 in all)
COARSE_FACE_VERTICES = 1500
CROP_RADIUS_MM = 100.0  # a face cropped to this distance from its most anterior point
GOOD_MM = 5.0  # a registration whose median landmark error is at most this found the face
OUT = Path(__file__).resolve().parents[1] / "reports" / "experiments" / "rigid_start"


@dataclass(frozen=True)
class Case:
    """A scan as stored (its own unit) with the true positions of some template vertices on it."""

    name: str
    vertices: np.ndarray  # [S, 3], in `unit`
    faces: np.ndarray
    unit: str
    mm_per_unit: float
    truth: np.ndarray  # [L, 3], mm, scan frame (vertices * mm_per_unit)
    truth_vertices: np.ndarray  # [L], the template vertex that should land on each
    truth_names: tuple[str, ...]  # [L], the landmark each is (ibug18.., sfv1..)


def head_scan(face_vertices: np.ndarray, face_faces: np.ndarray, rng: np.random.Generator,
              spacing_mm: float = HEAD_SPACING_MM) -> tuple[np.ndarray, np.ndarray]:
    """The face (mm, +y up, +z out of the face) on a whole head, as one mesh [S, 3], [G, 3],
    its added parts meshed with vertices about `spacing_mm` apart.

    Behind the face an ellipsoid cranium (156 x 210 x 200 mm) with smooth hair-like bumps of
    3-10 mm on its back and top and 1 mm of hair-like noise, and two ears (60 mm tall, standing
    out 18 mm); below, an open neck (radius 58 mm) and a shoulder dome 400 mm wide cut flat at
    the bottom; four blobs of radius 15-35 mm (a bun, a clip, a hand) on the back and sides.
    Parts overlapping the face are left out, so the face stays as scanned.
    """
    low, high = face_vertices.min(axis=0), face_vertices.max(axis=0)
    apex = face_vertices[np.argmax(face_vertices[:, 2])]
    centre = np.array([0.5 * (low[0] + high[0]), apex[1] + 45.0, apex[2] - 115.0])
    axes = np.array([78.0, 105.0, 100.0])
    parts = [(face_vertices, face_faces)]

    vertices, faces = _ellipsoid(axes, centre, spacing_mm)
    direction = (vertices - centre) / axes
    bumps = sum(rng.uniform(3.0, 10.0) * np.exp(-np.sum((direction - c) ** 2, axis=1) / (2 * 0.12 ** 2))
                for c in trimesh.sample.sample_surface_sphere(25, seed=rng.integers(1 << 30)))
    outward = direction / np.linalg.norm(direction, axis=1, keepdims=True)
    hair = bumps * (direction[:, 2] < 0.3) + rng.normal(0.0, 1.0, len(vertices))
    vertices = vertices + outward * hair[:, None]
    parts.append(_kept(vertices, faces, vertices[:, 2] < low[2]))
    for side in (-1.0, 1.0):
        ear = centre + np.array([side * (axes[0] - 2.0), apex[1] + 10.0 - centre[1], 15.0])
        parts.append(_ellipsoid(np.array([20.0, 30.0, 16.0]), ear, spacing_mm))

    neck_axis = np.array([centre[0], 0.0, centre[2] + 10.0])
    vertices, faces = _tube(58.0, low[1] - 110.0, low[1] + 60.0, spacing_mm)
    vertices = vertices + neck_axis
    parts.append(_kept(vertices, faces, (vertices[:, 1] < low[1] - 8.0) | (vertices[:, 2] < low[2])))

    shoulders_y = low[1] - 150.0
    vertices, faces = _ellipsoid(np.array([200.0, 70.0, 115.0]), np.array([centre[0], shoulders_y, neck_axis[2]]),
                                  spacing_mm)
    off_neck = np.hypot(vertices[:, 0] - neck_axis[0], vertices[:, 2] - neck_axis[2]) > 60.0
    parts.append(_kept(vertices, faces, (vertices[:, 1] > shoulders_y) & off_neck))

    for _ in range(4):
        where = trimesh.sample.sample_surface_sphere(1, seed=rng.integers(1 << 30))[0]
        where[2] = -abs(where[2])
        parts.append(_ellipsoid(np.full(3, rng.uniform(15.0, 35.0)), centre + where * axes, spacing_mm))
    offsets = np.cumsum([0] + [len(v) for v, _ in parts[:-1]])
    return np.vstack([v for v, _ in parts]), np.vstack([f + o for (_, f), o in zip(parts, offsets)])


def _ellipsoid(axes: np.ndarray, centre: np.ndarray, spacing_mm: float) -> tuple[np.ndarray, np.ndarray]:
    sphere = trimesh.creation.icosphere(subdivisions=int(np.ceil(np.log2(1.1 * axes.max() / spacing_mm))))
    return sphere.vertices * axes + centre, np.asarray(sphere.faces)


def _tube(radius: float, y_low: float, y_high: float, spacing_mm: float) -> tuple[np.ndarray, np.ndarray]:
    """An open cylinder about the y axis, a grid of vertices `spacing_mm` apart."""
    around = int(np.ceil(2 * np.pi * radius / spacing_mm))
    rings = int(np.ceil((y_high - y_low) / spacing_mm)) + 1
    angle = np.arange(around) * 2 * np.pi / around
    heights = np.repeat(np.linspace(y_low, y_high, rings), around)
    vertices = np.column_stack([np.tile(radius * np.sin(angle), rings), heights,
                                np.tile(radius * np.cos(angle), rings)])
    ring, step = np.meshgrid(np.arange(rings - 1), np.arange(around), indexing="ij")
    a = (ring * around + step).ravel()
    b = (ring * around + (step + 1) % around).ravel()
    faces = np.vstack([np.column_stack([a, b, b + around]), np.column_stack([a, b + around, a + around])])
    return vertices, faces


def _kept(vertices: np.ndarray, faces: np.ndarray, keep: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mesh = trimesh.Trimesh(vertices, faces[keep[faces].all(axis=1)], process=False)
    mesh.remove_unreferenced_vertices()
    return np.asarray(mesh.vertices), np.asarray(mesh.faces)


def posed(name: str, vertices: np.ndarray, faces: np.ndarray, truth: np.ndarray, truth_vertices: np.ndarray,
          truth_names: tuple[str, ...], unit: tuple[str, float], rng: np.random.Generator) -> Case:
    """A case from a scan in mm: a uniformly random rotation and shift, stored in `unit`."""
    pose = np.eye(4)
    pose[:3, :3] = Rotation.random(random_state=rng).as_matrix()
    pose[:3, 3] = rng.uniform(-MAX_SHIFT_MM, MAX_SHIFT_MM, 3)
    name_of_unit, mm_per_unit = unit
    return Case(name, transform(vertices, pose) / mm_per_unit, faces, name_of_unit, mm_per_unit,
                transform(truth, pose), truth_vertices, truth_names)


def standard_face_cases(data: Path, orientations: int, others: int, rng: np.random.Generator) -> list[Case]:
    """The standard face as it is, on a head, and cropped around its nose tip."""
    vertices, faces = read_scan(data / "standard_face.ply", "standard_face")
    annotated = read_landmark_file(data / "standard_face.ljson", "standard_face")
    on_template = read_ibug_vertices()
    keep = [i for i, n in enumerate(annotated.names) if n not in CONTOUR and n in on_template]
    truth = annotated.points[keep] * MICROMETRES_TO_MM
    truth_vertices = np.array([on_template[annotated.names[i]] for i in keep])
    truth_names = tuple(annotated.names[i] for i in keep)
    vertices = vertices * MICROMETRES_TO_MM
    apex = vertices[np.argmax(vertices[:, 2])]
    cropped = _kept(vertices, faces, np.linalg.norm(vertices - apex, axis=1) < CROP_RADIUS_MM)
    scans = ([("standard face", (vertices, faces))] * orientations
             + [("standard face on a head", head_scan(vertices, faces, rng)) for _ in range(others)]
             + [(f"standard face cropped to {CROP_RADIUS_MM:.0f} mm", cropped)] * others)
    return [posed(name, *scan, truth, truth_vertices, truth_names, UNIT_CYCLE[i % len(UNIT_CYCLE)], rng)
            for i, (name, scan) in enumerate(scans)]


def synthetic_cases(template: Template, scans: int, others: int, rng: np.random.Generator) -> list[Case]:
    """Faces of the shape model, scanned as the synthetic cohort's are, alone and on heads; and
    coarse scans of whole heads (~5,000 vertices, as some scanners export)."""
    model = build_shape_model(template, residual_mm=0.8)
    settings = ScanSettings.from_params(default_params().synth)
    kinds = ["synthetic scan"] * scans + ["synthetic face on a head", "coarse synthetic head"] * others
    cases = []
    for i, kind in enumerate(kinds):
        _, vertices = model.sample_face(rng, "MF"[i % 2])
        coarse = kind == "coarse synthetic head"
        scan = simulate_scan(vertices, template.faces, template.uv, rng,
                             n_vertices=(COARSE_FACE_VERTICES if coarse else
                                         int(rng.integers(settings.vertices[0], settings.vertices[1] + 1))),
                             max_rotation_deg=0.0, max_translation_mm=0.0, noise_mm=settings.noise_mm,
                             n_holes=int(rng.integers(settings.holes[0], settings.holes[1] + 1)),
                             hole_radius_mm=settings.hole_radius_mm, keep_clear=vertices[template.landmark_idx])
        mesh = (scan.vertices, scan.faces) if kind == "synthetic scan" else head_scan(
            scan.vertices, scan.faces, rng, COARSE_HEAD_SPACING_MM if coarse else HEAD_SPACING_MM)
        cases.append(posed(kind, *mesh, vertices[template.landmark_idx], template.landmark_idx,
                           tuple(f"sfv{k + 1}" for k in range(len(template.landmark_idx))),
                           UNIT_CYCLE[i % len(UNIT_CYCLE)], rng))
    return cases


def not_faces(template: Template, heads: int, rng: np.random.Generator) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """Shapes that are no face, in mm: a head-sized ball, a flat sheet, random triangles in a
    head-sized box, and whole heads (`head_scan`) whose face was left out."""
    ball = trimesh.creation.icosphere(subdivisions=5, radius=100.0)
    grid = np.linspace(-100.0, 100.0, 101)
    sheet = np.column_stack([np.repeat(grid, len(grid)), np.tile(grid, len(grid)), np.zeros(len(grid) ** 2)])
    shapes = [("sphere, radius 100 mm", np.asarray(ball.vertices), np.asarray(ball.faces)),
              ("flat sheet, 200 mm", sheet, Delaunay(sheet[:, :2]).simplices),
              ("random triangles, 200 mm box", rng.uniform(-100.0, 100.0, (3000, 3)),
               rng.integers(0, 3000, (6000, 3)))]
    for _ in range(heads):
        head_vertices, head_faces = head_scan(template.vertices, template.faces, rng)
        on_face = np.zeros(len(head_vertices), dtype=bool)
        on_face[: len(template.vertices)] = True  # head_scan puts the face first
        shapes.append(("head without a face", *_kept(head_vertices, head_faces, ~on_face)))
    return shapes


def measure(case: Case, method: str, template: Template, fitter: TemplateFitter) -> tuple[dict, np.ndarray]:
    """One row: the start's and the registration's landmark errors (mm), the face score, seconds;
    and the registration's error per landmark (mm)."""
    started = time.perf_counter()
    if method == "today":
        unit, mm_per_unit = case.unit + " (given)", case.mm_per_unit
        vertices = case.vertices * mm_per_unit
        start = principal_axes_start(template.vertices, template.faces, template.landmark_idx, vertices, case.faces)
        score = np.nan
    else:
        unit = scan_unit(case.vertices)
        mm_per_unit = MM_PER_UNIT[unit]
        vertices = case.vertices * mm_per_unit
        found = find_face(template, vertices, case.faces)
        start, score = found.to_template, found.score_mm
    start_seconds = time.perf_counter() - started
    # The truth in the units the method works in (mm if it found the unit).
    truth = case.truth / case.mm_per_unit * mm_per_unit
    start_error = np.linalg.norm(transform(template.vertices[case.truth_vertices], invert(start)) - truth, axis=1)
    started = time.perf_counter()
    with mock.patch.object(register, "find_face", lambda *args, **kwargs: FaceFit(start, score, score, 0.0, 0)):
        fit = fitter.register(vertices, case.faces, None)  # from the start just timed
    register_seconds = time.perf_counter() - started
    error = np.linalg.norm(transform(fit.vertices[case.truth_vertices], fit.to_scan) - truth, axis=1)
    return {"case": case.name, "method": method, "vertices": len(case.vertices),
            "size_mm": scan_size(case.vertices) * case.mm_per_unit, "unit": case.unit, "unit_found": unit,
            "unit_right": mm_per_unit == case.mm_per_unit, "start_median_mm": np.median(start_error),
            "median_mm": np.median(error), "max_mm": error.max(), "surface_mm": fit.surface_distance_mm,
            "coverage": fit.coverage, "score_mm": score, "start_s": start_seconds,
            "register_s": register_seconds}, error


def summary(rows: pd.DataFrame) -> pd.DataFrame:
    """Per case and method: scans, median and worst of the per-scan medians, worst point, share
    of scans with a median at most 5 mm, highest face score, mean seconds."""
    grouped = rows.groupby(["case", "method"], sort=False)
    return pd.DataFrame({
        "scans": grouped.size(),
        "start median (mm)": grouped["start_median_mm"].median(),
        "median (mm)": grouped["median_mm"].median(),
        "worst median (mm)": grouped["median_mm"].max(),
        "max (mm)": grouped["max_mm"].max(),
        "found": grouped["median_mm"].apply(lambda m: f"{int((m <= GOOD_MM).sum())}/{len(m)}"),
        "highest score (mm)": grouped["score_mm"].max(),
        "start (s)": grouped["start_s"].mean(),
        "register (s)": grouped["register_s"].mean(),
    }).reset_index()


def per_landmark(rows: pd.DataFrame, errors: list[np.ndarray], names: list[tuple[str, ...]]) -> pd.DataFrame:
    """Per case, method and landmark: the median and the worst registration error over the scans."""
    long = pd.DataFrame([{"case": r.case, "method": r.method, "landmark": n, "error_mm": e}
                         for r, errs, ns in zip(rows.itertuples(), errors, names) for n, e in zip(ns, errs)])
    grouped = long.groupby(["case", "method", "landmark"], sort=False)["error_mm"]
    return pd.DataFrame({"median_mm": grouped.median(), "max_mm": grouped.max()}).reset_index()


def write_outputs(out: Path, rows: pd.DataFrame, landmarks: pd.DataFrame, shapes: pd.DataFrame,
                  settings: dict, seconds: float) -> None:
    """The tables docs/geometry.md quotes, and the commit and settings they were made with."""
    out.mkdir(parents=True, exist_ok=True)
    columns = {"start median (mm)": "start_median_mm", "median (mm)": "median_mm",
               "worst median (mm)": "worst_median_mm", "max (mm)": "max_mm", "highest score (mm)": "highest_score_mm",
               "start (s)": "start_s", "register (s)": "register_s"}
    rows.to_csv(out / "scans.csv", index=False, float_format="%.6g", lineterminator="\n")
    worst = landmarks.loc[landmarks.groupby(["case", "method"], sort=False)["max_mm"].idxmax()]
    table = summary(rows).rename(columns=columns).merge(
        worst[["case", "method", "landmark"]].rename(columns={"landmark": "worst_landmark"}), on=["case", "method"])
    table.to_csv(out / "summary.csv", index=False, float_format="%.6g", lineterminator="\n")
    landmarks.to_csv(out / "landmarks.csv", index=False, float_format="%.6g", lineterminator="\n")
    shapes.rename(columns={"score (mm)": "score_mm", "start (s)": "start_s"}).to_csv(
        out / "not_faces.csv", index=False, float_format="%.6g", lineterminator="\n")
    (out / "run.json").write_text(json.dumps(run_record(settings, seconds), indent=2) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path("tests/data"))
    parser.add_argument("--orientations", type=int, default=24, help="standard-face scans")
    parser.add_argument("--synthetic", type=int, default=12, help="synthetic scans")
    parser.add_argument("--others", type=int, default=8, help="heads of each kind, cropped faces")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--methods", nargs="+", default=["today", "find_face"], choices=["today", "find_face"])
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    run_started = time.perf_counter()
    rng = np.random.default_rng(args.seed)
    template = build_template(6790)
    fitter = TemplateFitter(template, RegistrationSettings.from_params(default_params().face))
    cases = (standard_face_cases(args.data, args.orientations, args.others, rng)
             + synthetic_cases(template, args.synthetic, args.others, rng))
    rows, errors, names = [], [], []
    for number, case in enumerate(cases):
        for method in args.methods:
            row, error = measure(case, method, template, fitter)
            rows.append(row)
            errors.append(error)
            names.append(case.truth_names)
            print(f"{number:3d} " + "  ".join(f"{k} {v:.2f}" if isinstance(v, float) else f"{k} {v}"
                                              for k, v in row.items()), flush=True)
    shapes = []
    for name, vertices, faces in not_faces(template, args.others, rng):
        started = time.perf_counter()
        found = find_face(template, vertices, faces)
        shapes.append({"shape": name, "score (mm)": found.score_mm,
                       "is_face": found.score_mm <= default_params().face.max_start_mm,
                       "start (s)": time.perf_counter() - started})
    rows, shapes = pd.DataFrame(rows), pd.DataFrame(shapes)
    face = default_params().face  # the register QC's surface checks, which a wrong start can pass
    rows["surface_checks_pass"] = (rows["coverage"] >= face.min_coverage) & (rows["surface_mm"] <= face.max_surface_mm)
    settings = {**{k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items() if k != "out"},
                "max_shift_mm": MAX_SHIFT_MM, "crop_radius_mm": CROP_RADIUS_MM, "head_spacing_mm": HEAD_SPACING_MM,
                "coarse_head_spacing_mm": COARSE_HEAD_SPACING_MM, "coarse_face_vertices": COARSE_FACE_VERTICES,
                "good_mm": GOOD_MM, "face": default_params().face.model_dump(mode="json")}
    write_outputs(args.out, rows, per_landmark(rows, errors, names), shapes, settings,
                  time.perf_counter() - run_started)
    print()
    print(summary(rows).to_markdown(index=False, floatfmt=".1f"))
    print()
    print(shapes.to_markdown(index=False, floatfmt=".1f"))


def principal_axes_start(template_vertices: np.ndarray, template_faces: np.ndarray, landmark_idx: np.ndarray,
                     scan_vertices: np.ndarray, scan_faces: np.ndarray, pronasale: int = 30,
                     icp_iterations: int = 40) -> np.ndarray:
    """sfv's rigid start without landmarks up to 6d168ba ("today" below): a transform [4, 4] taking
    the scan roughly onto the template.

    Principal axes of the two point sets, the depth axes oriented by the mean normals, give
    four proper rotations (height and width axes swapped or not, signs); for each,
    the scan's most anterior point is put on the template's pronasale (landmark 31), rigid ICP
    refines it, and the candidate with the lowest mean ICP distance wins. Works for scans that
    show a face, front on, like the template; a scan with shoulders or hair needs cropping first.
    """
    tmpl_centre, scan_centre = template_vertices.mean(axis=0), scan_vertices.mean(axis=0)
    tmpl_axes = _principal_axes(template_vertices - tmpl_centre)
    scan_axes = _principal_axes(scan_vertices - scan_centre)
    # Orient the scan's third axis along its mean normal (out of the face), as the template's.
    scan_out = trimesh.Trimesh(scan_vertices, scan_faces, process=False).vertex_normals.mean(axis=0)
    tmpl_out = trimesh.Trimesh(template_vertices, template_faces, process=False).vertex_normals.mean(axis=0)
    scan_axes[:, 2] *= np.sign(scan_axes[:, 2] @ scan_out) or 1.0
    tmpl_axes[:, 2] *= np.sign(tmpl_axes[:, 2] @ tmpl_out) or 1.0
    tip = template_vertices[landmark_idx[pronasale]]
    sample = template_vertices[:: max(1, len(template_vertices) // 2000)]
    best, best_cost = None, np.inf
    # The depth axes are matched by the normals; height and width may swap (a scan's in-plane
    # extent need not be the template's) and each takes a sign, kept proper.
    for swap in (False, True):
        axes = scan_axes[:, [1, 0, 2]] if swap else scan_axes
        handed = np.linalg.det(axes) * np.linalg.det(tmpl_axes)
        for sign in (1.0, -1.0):
            flip = np.diag([sign, sign * handed, 1.0])
            candidate = tmpl_axes @ flip @ axes.T  # scan frame -> template frame
            best, best_cost = _try_candidate(candidate, scan_vertices, sample, tip, tmpl_axes[:, 2],
                                             icp_iterations, best, best_cost)
    return best


def _try_candidate(rotation: np.ndarray, scan_vertices: np.ndarray, sample: np.ndarray, tip: np.ndarray,
                   forward: np.ndarray, icp_iterations: int, best: np.ndarray | None,
                   best_cost: float) -> tuple[np.ndarray | None, float]:
    """Refine one rotation guess by ICP; keep it if it beats the best so far."""
    rotated = scan_vertices @ rotation.T
    anterior = rotated[np.argmax(rotated @ forward)]
    initial = np.eye(4)
    initial[:3, :3] = rotation
    initial[:3, 3] = tip - anterior
    # ICP moves the template sample onto the guessed scan; its inverse corrects the guess.
    matrix, _, cost = trimesh.registration.icp(sample, transform(scan_vertices, initial),
                                               max_iterations=icp_iterations, reflection=False, scale=False)
    if cost < best_cost:
        return invert(matrix) @ initial, float(cost)
    return best, best_cost


def _principal_axes(centred: np.ndarray) -> np.ndarray:
    """Columns: unit axes by decreasing variance."""
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    return vt.T.copy()


if __name__ == "__main__":
    main()
