"""The phoneme analysis' figures: units ranked by mean 1 - CI_u (the source's Fig. 7), and a
unit x AM-group heatmap of the same quantity."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.colors import TwoSlopeNorm  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

from ..audio.phones import unit_family  # noqa: E402

_COLOURS = {"vowel": "#4c72b0", "nasal": "#dd8452", "plosive": "#c44e52", "obstruent": "#8c8c8c",
            "approximant": "#55a868", "other": "#b0b0b0"}


def _empty(title: str, note: str | None) -> Figure:
    figure, ax = plt.subplots(figsize=(6.0, 2.0))
    ax.axis("off")
    ax.text(0.5, 0.5, note or "no phoneme analysed", ha="center", va="center", wrap=True, fontsize=9)
    ax.set_title(title, fontsize=10)
    return figure


def ranking_figure(ranking: pd.DataFrame | None, title: str, note: str | None = None) -> Figure:
    """Horizontal bars of mean 1 - CI_u per unit, best at the top, coloured by phone family."""
    if ranking is None or ranking.empty:
        return _empty(title, note)
    families = [unit_family(u) for u in ranking["phoneme"]]
    figure, ax = plt.subplots(figsize=(6.0, 0.8 + 0.22 * len(ranking)))
    y = np.arange(len(ranking))[::-1]
    ax.barh(y, ranking["mean_1_minus_ci_u"], color=[_COLOURS[f] for f in families])
    ax.set_yticks(y, ranking["phoneme"], fontsize=7)
    ax.axvline(0.0, color="black", linewidth=0.8)
    ax.set_xlabel("mean 1 - CI_u over all AMs (> 0: better than chance)")
    ax.legend(handles=[Patch(color=_COLOURS[f], label=f) for f in dict.fromkeys(families)], fontsize=7,
              loc="lower right")
    ax.set_title(title, fontsize=10)
    figure.tight_layout()
    return figure


def group_heatmap(matrix: pd.DataFrame | None, title: str, note: str | None = None) -> Figure:
    """Units (rows, ranked) x AM groups (columns), diverging at 0."""
    if matrix is None or matrix.empty:
        return _empty(title, note)
    values = matrix.to_numpy(np.float64)
    bound = max(float(np.nanmax(np.abs(values))), 1e-3)
    figure, ax = plt.subplots(figsize=(1.6 + 0.9 * matrix.shape[1], 0.8 + 0.22 * len(matrix)))
    image = ax.imshow(values, aspect="auto", cmap="RdBu_r", norm=TwoSlopeNorm(0.0, -bound, bound))
    ax.set_xticks(np.arange(matrix.shape[1]), [c.replace("_", "/") for c in matrix.columns], fontsize=8)
    ax.set_yticks(np.arange(len(matrix)), matrix.index, fontsize=7)
    figure.colorbar(image, ax=ax, label="mean 1 - CI_u")
    ax.set_title(title, fontsize=10)
    figure.tight_layout()
    return figure
