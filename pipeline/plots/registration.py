"""Figures of a registration run: per-vertex error maps against the truth, or, without
truth, how closely the registered faces follow their scans."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from .render import render_mesh


def fit_figure(register_qc: pd.DataFrame) -> plt.Figure:
    """Without ground truth: how closely the registered faces follow their scans, and how much
    of the template found scan surface."""
    figure, axes = plt.subplots(1, 2, figsize=(10, 4.2))
    for ax, column, label in zip(axes, ("surface_distance_mm", "coverage"),
                                 ("mean distance to the scan (mm)", "share of template vertices matched")):
        ax.hist(register_qc[column].dropna(), bins=20)
        ax.set_xlabel(label)
        ax.set_ylabel("faces")
    figure.suptitle("Registration against the scans (no ground truth on this root)")
    return figure


def error_figure(vertices: np.ndarray, faces: np.ndarray, vertex_error: np.ndarray, surface: np.ndarray) -> plt.Figure:
    """Mean correspondence error per vertex on the template (front, profile) and per-face histograms."""
    figure, axes = plt.subplots(1, 3, figsize=(13, 4.6), gridspec_kw={"width_ratios": [1, 1, 1.2]})
    mean_error = vertex_error.mean(axis=0)
    top = float(np.percentile(mean_error, 99))
    for ax, view in zip(axes[:2], ("front", "profile")):
        collection = render_mesh(ax, vertices, faces, view=view, vertex_values=mean_error, cmap="magma", vmin=0, vmax=top)
        ax.set_title(f"mean vertex error, {view}")
    figure.colorbar(collection, ax=axes[:2], shrink=0.8, label="mm")
    axes[2].hist([vertex_error.mean(axis=1), surface.mean(axis=1)], bins=20,
                 label=["correspondence error", "distance to true surface"])
    axes[2].set_xlabel("mean per face (mm)")
    axes[2].set_ylabel("faces")
    axes[2].legend()
    return figure
