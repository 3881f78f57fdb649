"""Where on the face the reconstructions miss (the source's Fig. 6): the mean face coloured
by the mean per-vertex error over the speakers kept, front and profile, one colour bar in mm."""
from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from .render import render_mesh


def error_map_figure(vertices: np.ndarray, triangles: np.ndarray, maps: Sequence[tuple[str, np.ndarray]],
                     title: str) -> Figure:
    """One column per (label, per-vertex error [T]) in `maps`, rows front and profile, drawn
    on `vertices` [T, 3] with a colour scale shared by every panel."""
    vmax = float(max(np.max(values) for _, values in maps))
    fig, axes = plt.subplots(2, len(maps), figsize=(2.3 * len(maps) + 0.8, 5.4), squeeze=False)
    collection = None
    for col, (label, values) in enumerate(maps):
        for row, view in enumerate(("front", "profile")):
            collection = render_mesh(axes[row, col], vertices, triangles, view=view, vertex_values=values,
                                     cmap="magma_r", vmin=0.0, vmax=vmax)
        axes[0, col].set_title(label, fontsize=9)
    bar = fig.colorbar(collection, ax=axes.ravel().tolist(), shrink=0.8, pad=0.02)
    bar.set_label("mean per-vertex error (mm)")
    fig.suptitle(title, fontsize=10)
    return fig
