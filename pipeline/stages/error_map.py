"""error_map stage (one per gender in sfv.genders): reports/plots/error_map_<gender>.png, the
per-vertex error of the D_e reconstructions as the evaluate stage measured it
(data/evaluation/<gender>_maps.npz), on the gender's mean face."""
from __future__ import annotations

import numpy as np

from ..cohort import Gender
from ..config import Params
from ..face.io import read_triangles
from ..plots.error_map import error_map_figure
from ..plots.render import save_figure
from . import Paths


def main(params: Params, paths: Paths, gender: Gender) -> None:
    stored = np.load(paths.error_maps / f"{gender}_maps.npz")
    triangles = read_triangles(paths.template)
    maps = list(zip(stored["labels"].tolist(), stored["errors"]))
    figure = error_map_figure(stored["mean_face"], triangles, maps,
                              f"{gender}: per-vertex error of the reconstructions of D_e")
    save_figure(figure, paths.plots / f"error_map_{gender}.png")
