"""error_map stage (one per gender in sfv.genders): reports/plots/error_map_<gender>.png, the
per-vertex error of the D_e reconstructions as the evaluate stage measured it
(data/evaluation/<gender>_maps.npz), on the gender's mean face."""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from ..face.io import read_triangles
from ..plots.error_map import error_map_figure
from ..plots.render import save_figure
from ..settings import configured_params
from . import run


def main(params_path: Path, gender: str, maps_dir: Path, template: Path, plots_dir: Path) -> None:
    configured_params(params_path, gender)
    stored = np.load(maps_dir / f"{gender}_maps.npz")
    triangles = read_triangles(template)
    maps = list(zip(stored["labels"].tolist(), stored["errors"]))
    figure = error_map_figure(stored["mean_face"], triangles, maps,
                              f"{gender}: per-vertex error of the reconstructions of D_e")
    save_figure(figure, plots_dir / f"error_map_{gender}.png")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--gender", required=True)
    parser.add_argument("--maps", type=Path, default=Path("data/evaluation"))
    parser.add_argument("--template", type=Path, default=Path("data/faces/template.ply"))
    parser.add_argument("--plots", type=Path, default=Path("reports/plots"))
    args = parser.parse_args()
    run(main, args.params, args.gender, args.maps, args.template, args.plots)
