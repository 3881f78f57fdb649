"""Place the iBUG-68 points on the default template and check them against a real face.

Writes pipeline/data/ibug68_vertices.csv (landmark,vertex: ibug1..ibug68 -> 0-based vertex of
build_template(6790)), which re-running gives byte for byte, and the check below to
reports/experiments/ibug68_vertices/ (`residuals.csv` per point, `summary.json` with the commit
and settings), which docs/landmark-formats.md quotes.

    python scripts/ibug68_vertices.py   # from the repository root; 1-5 minutes (52 registrations)

How the points are placed. iBUG-68 is defined on frontal photographs, so every point is put at
a frontal position (x, y) on the template (subject's right at -x; iBUG's left/right are the
image's, so iBUG 1 and 37-42 are on the subject's right) and takes the template vertex nearest
to the surface point (x, y, height(x, y)); thirds and halves are by length in that frontal plane:

- points that are an sfv landmark by both schemes' definitions (SAME_AS_SFV: brows, canthi,
  pronasale, subnasale, cheilia, labrale superius and inferius) take that landmark's vertex;
- eye lids 38/39, 41/42, 44/45, 47/48: the lid margins of template.py split in thirds by length
  from endocanthion to exocanthion;
- nose bridge 28-30: 28 on the midline at the height of the canthi (where iBUG annotators put
  the top of the bridge, between the eyes), 29 and 30 splitting the midline profile from 28 to
  the pronasale (31) in thirds by length;
- nose base 32/36: the alar crease below the alare (its lower half at the alare's x), 33/35
  halfway from there to the subnasale (34);
- outer lips: 51/53 the peaks of the cupid's bow (the highest points of the upper vermilion
  border), 50/54 halfway along the border from the cheilion to the peak; 56/57 and 59/60 split
  the lower border from the cheilion to labrale inferius in thirds;
- inner lips (the closed template mouth's slit): 61/65 the ends of the slit (the cheilia),
  63/67 its upper and lower edge on the midline, 62/64 and 66/68 halfway along those edges;
- jaw contour 1-17 (CONTOUR: a silhouette, not anatomy): on the ring 2.5 mm inside the
  template's outline that carries sfv's contour points, 1/17 at the height of the exocanthia,
  9 at the bottom, the rest splitting each side in eight by length.

The check: the menpo3d standard face (tests/data/standard_face.ply and .ljson, micrometres,
scaled to mm) has all 68 points annotated. Two distances per point: after a similarity transform
(Procrustes with scale) fitted between the template's vertices of the non-contour points and
the annotations, which mixes the placement with the template's proportions; and after
registering the template to the face's surface (TemplateFitter, params.yaml's default face:) guided by the
other non-contour points, the point itself left out. Contour points are measured, never fitted.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import trimesh
from scipy.spatial import cKDTree

from pipeline.face.io import read_scan
from pipeline.face.landmark_files import read_landmark_file
from pipeline.face.landmark_names import CONTOUR, DEFAULT_TEMPLATE_VERTICES, SAME_AS_SFV, scheme_and_number
from pipeline.config import default_params
from pipeline.face.register import Guides, RegistrationSettings, TemplateFitter
from pipeline.face.rigid import transform
from pipeline.provenance import run_record
# The template's own anatomy (private to template.py) is what the iBUG definitions are applied to.
from pipeline.face.template import (_CENTRE, _CHEILION_X, _ENDOCANTHION, _EXOCANTHION, _LOWER_BORDER, _SLIT_HALF_MM,
                                     _STOMION_Y, _UPPER_BORDER, Template, _lid_margins, build_template, height,
                                     landmark_uv, outline)

MICROMETRES_TO_MM = 0.001
CONTOUR_INSET_MM = 2.5  # sfv's contour points sit this far inside the outline (template.landmark_uv)
OUT = Path("reports/experiments/ibug68_vertices")


def along(curve: np.ndarray, fractions: np.ndarray) -> np.ndarray:
    """Points [K, 2] at `fractions` of the length of a frontal polyline `curve` [M, 2]."""
    arc = np.r_[0.0, np.cumsum(np.linalg.norm(np.diff(curve, axis=0), axis=1))]
    s = np.asarray(fractions) * arc[-1]
    return np.column_stack([np.interp(s, arc, curve[:, 0]), np.interp(s, arc, curve[:, 1])])


def right_eye_lids() -> dict[int, np.ndarray]:
    """iBUG 38, 39 (upper lid) and 41, 42 (lower lid) of the subject's right eye, frontal (x, y)."""
    axis = _EXOCANTHION - _ENDOCANTHION
    up = np.array([axis[1], -axis[0]]) / np.linalg.norm(axis)
    t = np.linspace(0.0, 1.0, 401)
    upper, lower = _lid_margins(t)
    upper_lid = _ENDOCANTHION + t[:, None] * axis + upper[:, None] * up
    lower_lid = _ENDOCANTHION + t[:, None] * axis + lower[:, None] * up
    (p39, p38), (p41, p42) = along(upper_lid, [1 / 3, 2 / 3]), along(lower_lid, [1 / 3, 2 / 3])
    return {38: p38, 39: p39, 41: p41, 42: p42}


def nose_bridge(sfv: np.ndarray) -> dict[int, np.ndarray]:
    """iBUG 28-30 on the midline, from the canthi's height to the pronasale (sfv31)."""
    top = np.mean(sfv[[10, 14, 18, 22], 1])  # sfv11, 15, 19, 23: the four canthi
    y = np.linspace(top, sfv[30, 1], 401)
    profile = np.column_stack([y, height(np.zeros_like(y), y)])  # (y, z) of the midline
    arc = np.r_[0.0, np.cumsum(np.linalg.norm(np.diff(profile, axis=0), axis=1))]
    return {28 + k: np.array([0.0, np.interp(k / 3 * arc[-1], arc, y)]) for k in range(3)}


def right_nose_base(sfv: np.ndarray) -> dict[int, np.ndarray]:
    """iBUG 32 (alar base under the alare, sfv32) and 33 (halfway to the subnasale, sfv35)."""
    # The alar crease of template.height: an ellipse about (13.5, -47.5) with radii 6.5 x 5.5 mm.
    alare_x = sfv[31, 0]
    crease_y = -47.5 - 5.5 * np.sqrt(1.0 - ((abs(alare_x) - 13.5) / 6.5) ** 2)
    p32 = np.array([alare_x, crease_y])
    return {32: p32, 33: 0.5 * (p32 + sfv[34])}


def right_outer_lips(sfv: np.ndarray) -> dict[int, np.ndarray]:
    """iBUG 50, 51 (upper border) and 59, 60 (lower border) of the subject's right, frontal (x, y)."""
    x = np.linspace(0.0, _CHEILION_X, 2601)
    peak = x[np.argmax(_UPPER_BORDER(x))]
    upper = np.column_stack([-x, _UPPER_BORDER(x)])
    to_peak = upper[(x >= peak)][::-1]  # cheilion -> peak
    lower = np.column_stack([-x, _LOWER_BORDER(x)])[::-1]  # cheilion -> labrale inferius
    (p60, p59) = along(lower, [1 / 3, 2 / 3])
    return {50: along(to_peak, [0.5])[0], 51: np.array([-peak, float(_UPPER_BORDER(peak))]), 59: p59, 60: p60}


def right_inner_lips() -> dict[int, np.ndarray]:
    """iBUG 61 (end of the mouth slit), 62 and 68 (halfway along its upper and lower edge)."""
    x = np.linspace(0.0, _CHEILION_X, 2601)
    opening = _SLIT_HALF_MM * np.sqrt(1.0 - (x / _CHEILION_X) ** 2)
    upper = np.column_stack([-x, _STOMION_Y + opening])[::-1]
    lower = np.column_stack([-x, _STOMION_Y - opening])[::-1]
    return {61: np.array([-_CHEILION_X, _STOMION_Y]), 62: along(upper, [0.5])[0], 68: along(lower, [0.5])[0]}


def midline_inner_lips() -> dict[int, np.ndarray]:
    """iBUG 63 and 67: the slit's upper and lower edge on the midline."""
    return {63: np.array([0.0, _STOMION_Y + _SLIT_HALF_MM]), 67: np.array([0.0, _STOMION_Y - _SLIT_HALF_MM])}


def right_jaw(sfv: np.ndarray) -> dict[int, np.ndarray]:
    """iBUG 1-9: the contour ring from the exocanthion's height on the subject's right to the bottom."""
    ring = outline(4000)  # counter-clockwise from the top, so its first half runs down the subject's right
    ring = ring + CONTOUR_INSET_MM * (_CENTRE - ring) / np.linalg.norm(_CENTRE - ring, axis=1, keepdims=True)
    right = ring[: len(ring) // 2 + 1]
    start, bottom = np.argmin(np.abs(right[:, 1] - sfv[10, 1])), np.argmin(right[:, 1])
    return {1 + k: p for k, p in enumerate(along(right[start:bottom + 1], np.arange(9) / 8))}


def mirrored(points: dict[int, np.ndarray], partner: dict[int, int]) -> dict[int, np.ndarray]:
    """The subject's left-side points, mirrored in x from their right-side partners."""
    return {left: points[right] * [-1.0, 1.0] for right, left in partner.items()}


def frontal_positions() -> dict[int, np.ndarray]:
    """Frontal (x, y) of every iBUG point not in SAME_AS_SFV, by number."""
    sfv = landmark_uv()
    right = {**right_eye_lids(), **right_nose_base(sfv), **right_outer_lips(sfv), **right_inner_lips(),
             **right_jaw(sfv)}
    # iBUG numbering mirrored: (subject's right, subject's left).
    partner = {38: 45, 39: 44, 41: 48, 42: 47, 32: 36, 33: 35, 50: 54, 51: 53, 59: 57, 60: 56,
               61: 65, 62: 64, 68: 66, **{k: 18 - k for k in range(1, 9)}}
    return {**right, **mirrored(right, partner), **nose_bridge(sfv), **midline_inner_lips()}


def place(template: Template) -> pd.DataFrame:
    """landmark, vertex for ibug1..ibug68 on `template`."""
    frontal = frontal_positions()
    tree = cKDTree(template.vertices)
    rows = []
    for number in range(1, 69):
        name = f"ibug{number}"
        if name in SAME_AS_SFV:
            vertex = int(template.landmark_idx[scheme_and_number(SAME_AS_SFV[name])[1] - 1])
        else:
            x, y = frontal[number]
            vertex = int(tree.query([x, y, float(height(np.array(x), np.array(y)))])[1])
        rows.append((name, vertex))
    return pd.DataFrame(rows, columns=["landmark", "vertex"])


def check(template: Template, vertices: pd.DataFrame, face_mesh: Path, face_landmarks: Path) -> pd.DataFrame:
    """Per-point distances (mm) of the placed points to the real face's annotations.

    `similarity_mm`: after a similarity fit of the non-contour points. `registered_mm`: after
    registering the template to the face's surface guided by the other non-contour points (the
    point itself left out, so it lands where the surface and its neighbours put it); contour
    points are measured after one registration guided by all non-contour points.
    """
    annotated = read_landmark_file(face_landmarks, "standard_face")
    face = dict(zip(annotated.names, annotated.points * MICROMETRES_TO_MM))
    scan_vertices, scan_faces = read_scan(face_mesh, "standard_face")
    settings = RegistrationSettings.from_params(default_params().face)
    scan_vertices = scan_vertices * MICROMETRES_TO_MM
    names = [n for n in vertices["landmark"] if n in face]
    vertex = vertices.set_index("landmark").loc[names, "vertex"].to_numpy()
    theirs = np.stack([face[n] for n in names])
    fitted = np.array([n not in CONTOUR for n in names])

    matrix, _, _ = trimesh.registration.procrustes(template.vertices[vertex[fitted]], theirs[fitted],
                                                   reflection=False, translation=True, scale=True, return_cost=True)
    similarity = np.linalg.norm(trimesh.transform_points(template.vertices[vertex], matrix) - theirs, axis=1)

    def registered_distance(guides: np.ndarray, measured: np.ndarray) -> np.ndarray:
        fit = TemplateFitter(template, settings).register(scan_vertices, scan_faces, Guides(vertex[guides], theirs[guides]))
        return np.linalg.norm(transform(fit.vertices[vertex[measured]], fit.to_scan) - theirs[measured], axis=1)

    registered = np.empty(len(names))
    registered[~fitted] = registered_distance(fitted, ~fitted)
    for i in np.flatnonzero(fitted):
        others = fitted.copy()
        others[i] = False
        registered[i] = registered_distance(others, np.arange(len(names)) == i)[0]
    table = pd.DataFrame({"landmark": names, "vertex": vertex, "contour": ~fitted,
                          "similarity_mm": similarity, "registered_mm": registered})
    table.attrs["scale"] = float(np.cbrt(np.linalg.det(matrix[:3, :3])))
    apex = scan_vertices[np.argmax(scan_vertices[:, 2])]  # the face's frame has +z out of the face
    table.attrs["apex_to_ibug31_mm"] = float(np.linalg.norm(apex - face["ibug31"]))
    return table


def residual_table(table: pd.DataFrame, landmark_idx: np.ndarray) -> pd.DataFrame:
    """The per-point table docs/landmark-formats.md shows; `landmark_idx` names the sfv vertices."""
    on_sfv = {int(v): f"sfv{i + 1}" for i, v in enumerate(landmark_idx)}

    def note(r) -> str:
        kind = "contour" if r.contour else ("same point" if r.landmark in SAME_AS_SFV else "")
        return ", ".join(x for x in (on_sfv.get(r.vertex, ""), kind) if x)

    return table.assign(note=[note(r) for r in table.itertuples()])[
        ["landmark", "vertex", "note", "contour", "similarity_mm", "registered_mm"]]


def residual_summary(table: pd.DataFrame) -> dict:
    """Per distance: median, mean and max over the non-contour points, the five worst, and the
    contour points' median and max; the similarity fit's scale; the nose-tip annotation's offset."""
    fitted, contour = table[~table["contour"]], table[table["contour"]]

    def summary(column: str) -> dict:
        worst = fitted.sort_values(column, ascending=False).head(5)
        return {"median_mm": float(fitted[column].median()), "mean_mm": float(fitted[column].mean()),
                "max_mm": float(fitted[column].max()),
                "worst": [{"landmark": r.landmark, "mm": float(getattr(r, column))} for r in worst.itertuples()],
                "contour_median_mm": float(contour[column].median()), "contour_max_mm": float(contour[column].max())}

    return {"points": int(len(table)), "fitted_points": int(len(fitted)), "scale": table.attrs["scale"],
            "apex_to_ibug31_mm": table.attrs["apex_to_ibug31_mm"],
            "similarity": summary("similarity_mm"), "registered": summary("registered_mm")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("pipeline/data/ibug68_vertices.csv"))
    parser.add_argument("--face-mesh", type=Path, default=Path("tests/data/standard_face.ply"))
    parser.add_argument("--face-landmarks", type=Path, default=Path("tests/data/standard_face.ljson"))
    parser.add_argument("--report", type=Path, default=OUT, help="where the check's tables go")
    args = parser.parse_args()
    started = time.perf_counter()
    template = build_template(DEFAULT_TEMPLATE_VERTICES)
    vertices = place(template)
    vertices.to_csv(args.out, index=False, lineterminator="\n")
    checked = check(template, vertices, args.face_mesh, args.face_landmarks)
    table = residual_table(checked, template.landmark_idx)
    args.report.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.report / "residuals.csv", index=False, float_format="%.6g", lineterminator="\n")
    settings = {"template_vertices": DEFAULT_TEMPLATE_VERTICES, "contour_inset_mm": CONTOUR_INSET_MM,
                "face_mesh": str(args.face_mesh), "face_landmarks": str(args.face_landmarks),
                "face": default_params().face.model_dump(mode="json")}
    summary = {**residual_summary(checked), "run": run_record(settings, time.perf_counter() - started)}
    (args.report / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(table.to_markdown(index=False, floatfmt=".1f"))
    print(json.dumps({k: v for k, v in summary.items() if k != "run"}, indent=2))


if __name__ == "__main__":
    main()
