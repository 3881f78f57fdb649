"""Shaded mesh rendering on plain 2-D matplotlib axes, for report figures.

matplotlib's 3-D axes sort polygons badly and are slow on ~13,000 triangles, so the mesh is
projected orthographically, back faces are culled and the rest drawn back to front as one
PolyCollection (painter's algorithm), which is exact for a face mask seen from the front or side.
"""
from __future__ import annotations

from typing import Literal, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import trimesh  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.collections import PolyCollection  # noqa: E402
from matplotlib.colors import Normalize  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from ..artifacts import write_atomically  # noqa: E402

View = Literal["front", "profile", "three_quarter"]

# Direction from the face towards the camera (+y up, +z out of the face, subject's right -x).
# "profile" looks from the subject's right, so the nose points to the picture's right.
_CAMERA = {
    "front": np.array([0.0, 0.0, 1.0]),
    "profile": np.array([-1.0, 0.0, 0.0]),
    "three_quarter": np.array([-np.sin(np.radians(40)), 0.0, np.cos(np.radians(40))]),
}
SKIN = (0.86, 0.72, 0.62)


def camera_frame(view: View) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(towards camera, screen right, screen up) unit vectors."""
    back = _CAMERA[view]
    right = np.cross([0.0, 1.0, 0.0], back)
    right /= np.linalg.norm(right)
    return back, right, np.cross(back, right)


def render_mesh(ax: Axes, vertices: np.ndarray, faces: np.ndarray, *, view: View = "front",
                vertex_values: np.ndarray | None = None, cmap: str = "viridis",
                vmin: float | None = None, vmax: float | None = None,
                base_color: tuple[float, float, float] = SKIN,
                landmarks: np.ndarray | None = None, landmark_labels: bool = False) -> PolyCollection:
    """Draw a shaded mesh on `ax`; returns its PolyCollection.

    With `vertex_values` [T] the faces are coloured by `cmap` (still shaded) and the returned
    collection carries the norm and colormap, so `fig.colorbar(collection)` works. Landmarks
    [L, 3] hidden behind the surface in this view are not drawn.
    """
    vertices = np.asarray(vertices, dtype=float)
    back, right, up = camera_frame(view)
    mesh = trimesh.Trimesh(vertices, faces, process=False)
    screen = np.column_stack([vertices @ right, vertices @ up])
    depth = -(vertices @ back)

    facing = mesh.face_normals @ back > 0
    normals = mesh.vertex_normals[faces].mean(axis=1)  # smooth shading
    normals /= np.linalg.norm(normals, axis=1, keepdims=True) + 1e-12
    light = back + 0.45 * up + 0.35 * right
    light /= np.linalg.norm(light)
    diffuse = np.clip(normals @ light, 0.0, 1.0)
    half = (light + back) / np.linalg.norm(light + back)
    specular = np.clip(normals @ half, 0.0, 1.0) ** 24

    order = np.argsort(-depth[faces].mean(axis=1), kind="stable")
    order = order[facing[order]]
    norm = None
    if vertex_values is None:
        colour = np.outer(0.25 + 0.75 * diffuse, base_color) + 0.12 * specular[:, None]
    else:
        values = np.asarray(vertex_values, dtype=float)[faces].mean(axis=1)
        norm = Normalize(vmin=np.min(vertex_values) if vmin is None else vmin,
                         vmax=np.max(vertex_values) if vmax is None else vmax)
        rgb = plt.get_cmap(cmap)(norm(values))[:, :3]
        colour = rgb * (0.45 + 0.55 * diffuse)[:, None] + 0.08 * specular[:, None]
    colour = np.clip(colour[order], 0.0, 1.0)
    collection = PolyCollection(screen[faces[order]], facecolors=colour, edgecolors=colour,
                                linewidths=0.25, antialiased=False)
    if norm is not None:
        collection.set_cmap(cmap)
        collection.set_norm(norm)
    ax.add_collection(collection)

    if landmarks is not None:
        points = np.asarray(landmarks, dtype=float)
        shown = ~mesh.ray.intersects_any(points + 0.5 * back, np.tile(back, (len(points), 1)))
        xy = np.column_stack([points @ right, points @ up])[shown]
        ax.scatter(xy[:, 0], xy[:, 1], s=4, c="#d62728", linewidths=0, zorder=3)
        if landmark_labels:
            for number, (x, y) in zip(np.flatnonzero(shown) + 1, xy):
                ax.annotate(str(number), (x, y), fontsize=4, xytext=(1.5, 1.5), textcoords="offset points")

    pad = 0.03 * np.ptp(screen, axis=0).max()
    ax.set_xlim(screen[:, 0].min() - pad, screen[:, 0].max() + pad)
    ax.set_ylim(screen[:, 1].min() - pad, screen[:, 1].max() + pad)
    ax.set_aspect("equal")
    ax.set_axis_off()
    return collection


def face_sheet(meshes: Sequence[tuple[np.ndarray, np.ndarray]], *, titles: Sequence[str],
               landmarks: Sequence[np.ndarray] | None = None,
               views: Sequence[View] = ("front", "profile"), ncols: int = 4) -> Figure:
    """A grid of meshes, one panel per view each, landmarks marked, titled per mesh."""
    per_row = max(1, min(ncols, len(meshes)))
    rows = -(-len(meshes) // per_row)
    fig, axes = plt.subplots(rows, per_row * len(views), figsize=(2.0 * per_row * len(views), 2.9 * rows),
                             squeeze=False)
    for ax in axes.flat:
        ax.set_axis_off()
    for i, (vertices, faces) in enumerate(meshes):
        row, col = divmod(i, per_row)
        for j, view in enumerate(views):
            ax = axes[row, col * len(views) + j]
            render_mesh(ax, vertices, faces, view=view,
                        landmarks=None if landmarks is None else landmarks[i])
        axes[row, col * len(views)].set_title(titles[i], fontsize=9, loc="left")
    fig.tight_layout()
    return fig


def save_figure(figure: Figure, path, dpi: int = 100) -> None:
    """Write a PNG without a software/time stamp (same figure, same bytes) and free it."""
    write_atomically(path, lambda p: figure.savefig(p, format="png", dpi=dpi, metadata={"Software": None}))
    plt.close(figure)
