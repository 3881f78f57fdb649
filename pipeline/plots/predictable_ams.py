"""The predictable AMs drawn on the mean face (the source's Fig. 5): front and profile per
gender, each AM coloured by its 1 − CI_u (larger = more predictable) on one shared scale.

A distance is its segment, a proportion its two segments (the denominator dashed) and an angle
its two arms with a small arc at the apex, all taken from the landmarks the project's own AM
parser reads, so a drawing shows exactly what `pipeline.face.ams.measure` measures. Lines are
drawn on top of the shaded mesh: in profile, AMs on the far side of the face are not hidden.
"""
from __future__ import annotations

from typing import Mapping, NamedTuple, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.cm import ScalarMappable  # noqa: E402
from matplotlib.collections import LineCollection  # noqa: E402
from matplotlib.colors import Colormap, Normalize  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from ..face.ams import AmTable  # noqa: E402
from .render import View, camera_frame, render_mesh  # noqa: E402

MeanFace = tuple[np.ndarray, np.ndarray, np.ndarray]
"""(vertices [V, 3] mm, triangles [F, 3], landmark_idx [65]: vertex of landmark 1..65)."""
Selection = tuple[Sequence[int] | np.ndarray, Sequence[float] | np.ndarray | pd.Series]
"""(am_ids to draw, their 1 − CI_u in the same order)."""

NO_AM = "no predictable AM"
COLORBAR_LABEL = "1 − CI_u"
_VIEWS: tuple[View, View] = ("front", "profile")
_ARC_SHARE = 0.3  # arc radius as a share of the shorter projected arm


class AmPrimitive(NamedTuple):
    """What to draw for one AM, on 1-based landmark numbers as the AM table writes them."""

    am_id: int
    kind: str
    segments: tuple[tuple[int, int], ...]
    dashed: tuple[bool, ...]  # one per segment: a proportion's denominator is dashed
    vertex: int | None  # an angle's apex (the first landmark of both arms), else None


def am_segments(am_table: AmTable, am_ids: Sequence[int] | np.ndarray) -> list[AmPrimitive]:
    """The drawing primitives of `am_ids`, in that order: distance "a b" -> a-b; proportion
    "a b c d" -> a-b and c-d dashed; angle "a b c" -> arms b-a and b-c meeting at b."""
    row_of = {int(am_id): row for row, am_id in enumerate(am_table.am_id)}
    missing = [int(i) for i in am_ids if int(i) not in row_of]
    if missing:
        raise ValueError(f"am_id(s) {missing} are not in the AM table")
    primitives = []
    for am_id in am_ids:
        row = row_of[int(am_id)]
        kind = am_table.kind[row]
        numbers = [int(n) + 1 for n in am_table.landmarks[row] if n >= 0]
        if kind == "distance":
            segments, dashed, vertex = ((numbers[0], numbers[1]),), (False,), None
        elif kind == "proportion":
            segments, dashed, vertex = ((numbers[0], numbers[1]), (numbers[2], numbers[3])), (False, True), None
        else:  # angle at the middle landmark
            a, b, c = numbers
            segments, dashed, vertex = ((b, a), (b, c)), (False, False), b
        primitives.append(AmPrimitive(int(am_id), kind, segments, dashed, vertex))
    return primitives


def predictable_ams_figure(mean_faces: Mapping[str, MeanFace], selections: Mapping[str, Selection],
                           am_table: AmTable,
                           title: str = "Predictable AMs on the mean face") -> Figure:
    """One row per gender in `selections` (front, profile) with its AMs on its mean face and
    one colour bar for all panels; a gender without AMs shows its mean face and says so."""
    if set(mean_faces) != set(selections):
        raise ValueError(f"mean faces for {sorted(mean_faces)} but selections for {sorted(selections)}")
    drawn = {}
    for gender, (am_ids, values) in selections.items():
        values = np.asarray(values, dtype=float)
        if len(values) != len(am_ids):
            raise ValueError(f"{gender}: {len(am_ids)} am_ids but {len(values)} values")
        drawn[gender] = (am_segments(am_table, am_ids), values)
    everything = np.concatenate([values for _, values in drawn.values()])
    low = min(0.0, float(everything.min())) if everything.size else 0.0
    high = float(everything.max()) if everything.size else 1.0
    norm = Normalize(vmin=low, vmax=high if high > low else low + 1.0)
    cmap = plt.get_cmap("viridis")

    fig, axes = plt.subplots(len(drawn), len(_VIEWS), figsize=(6.4, 3.4 * len(drawn)), squeeze=False,
                             layout="constrained")
    for row, (gender, (primitives, values)) in enumerate(drawn.items()):
        vertices, triangles, landmark_idx = mean_faces[gender]
        landmarks = np.asarray(vertices, dtype=float)[np.asarray(landmark_idx)]
        for col, view in enumerate(_VIEWS):
            ax = axes[row, col]
            render_mesh(ax, vertices, triangles, view=view)
            if primitives:
                _draw_ams(ax, landmarks, primitives, values, view=view, norm=norm, cmap=cmap,
                          label_ids=view == "front")
            else:
                ax.text(0.5, 0.5, NO_AM, transform=ax.transAxes, ha="center", va="center", fontsize=8,
                        bbox={"facecolor": "white", "edgecolor": "0.5", "alpha": 0.85})
        axes[row, 0].set_title(f"{gender}: {len(primitives)} predictable AM(s)", fontsize=9, loc="left")
    if everything.size:
        bar = fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=axes.ravel().tolist(), shrink=0.8)
        bar.set_label(COLORBAR_LABEL)
    fig.suptitle(title, fontsize=10)
    return fig


def _draw_ams(ax: Axes, landmarks: np.ndarray, primitives: Sequence[AmPrimitive], values: np.ndarray, *,
              view: View, norm: Normalize, cmap: Colormap, label_ids: bool) -> LineCollection:
    """The AMs as one LineCollection over the mesh on `ax`, projected as render_mesh projects
    the mesh; the most predictable are drawn last so they stay visible where AMs overlap."""
    _, right, up = camera_frame(view)
    screen = np.column_stack([landmarks @ right, landmarks @ up])  # row n - 1 is landmark n
    lines, line_values, styles = [], [], []
    for index in np.argsort(values, kind="stable"):
        primitive, value = primitives[index], values[index]
        for (a, b), dashed in zip(primitive.segments, primitive.dashed):
            lines.append(screen[[a - 1, b - 1]])
            line_values.append(value)
            styles.append((0, (3.0, 1.5)) if dashed else "solid")
        if primitive.vertex is not None:
            arc = _arc(screen[primitive.vertex - 1], screen[primitive.segments[0][1] - 1],
                       screen[primitive.segments[1][1] - 1])
            if arc is not None:
                lines.append(arc)
                line_values.append(value)
                styles.append("solid")
        if label_ids:
            (a, b) = primitive.segments[0]
            ax.annotate(str(primitive.am_id), screen[[a - 1, b - 1]].mean(axis=0), fontsize=5,
                        xytext=(1.5, 1.5), textcoords="offset points", zorder=5)
    collection = LineCollection(lines, cmap=cmap, norm=norm, linestyles=styles, linewidths=1.4,
                                capstyle="round", zorder=4)
    collection.set_array(np.asarray(line_values))
    ax.add_collection(collection)
    used = sorted({n for p in primitives for segment in p.segments for n in segment})
    ends = screen[np.asarray(used) - 1]
    ax.scatter(ends[:, 0], ends[:, 1], s=3, c="black", linewidths=0, zorder=5)
    return collection


def _arc(apex: np.ndarray, end_a: np.ndarray, end_c: np.ndarray, n_points: int = 16) -> np.ndarray | None:
    """The smaller arc at `apex` between the two projected arms; None when an arm projects to
    (almost) a point, where no angle is visible in this view."""
    arm_a, arm_c = end_a - apex, end_c - apex
    shorter = min(np.linalg.norm(arm_a), np.linalg.norm(arm_c))
    if shorter < 1e-6:
        return None
    start = np.arctan2(arm_a[1], arm_a[0])
    sweep = (np.arctan2(arm_c[1], arm_c[0]) - start + np.pi) % (2 * np.pi) - np.pi
    theta = start + np.linspace(0.0, sweep, n_points)
    return apex + _ARC_SHARE * shorter * np.column_stack([np.cos(theta), np.sin(theta)])
