"""selection_plot stage (one per gender in sfv.genders): the source's Fig. 4 from the select
stage's table, reports/plots/selection_<gender>.png (top 20 and bottom 4 AMs) and
selection_<gender>_all.png (every AM), and its Fig. 5, predictable_ams_<gender>.png: the
predictable AMs on the gender's mean face (the eigenface mean, models/eigenface)."""
from __future__ import annotations

import argparse
from pathlib import Path

from ..artifacts import read_output
from ..face.ams import read_am_table
from ..face.io import read_landmark_vertices, read_triangles
from ..plots.predictable_ams import predictable_ams_figure
from ..plots.render import save_figure
from ..plots.selection import selection_figure
from ..reconstruction.eigenface import Eigenface
from ..settings import configured_params
from . import run


def main(params_path: Path, gender: str, selection_dir: Path, eigenface_dir: Path, faces_dir: Path,
         plots_dir: Path) -> None:
    params = configured_params(params_path, gender)
    selection = read_output(selection_dir / f"{gender}.csv", "select")
    n = int(selection["n"].iloc[0])
    top = selection_figure(selection, f"{gender}: predictable AMs ({n} repeats, top 20 and bottom 4 by CI_u)")
    every = selection_figure(selection, f"{gender}: all AMs ({n} repeats)", top=None)
    save_figure(top, plots_dir / f"selection_{gender}.png")
    save_figure(every, plots_dir / f"selection_{gender}_all.png")
    predictable = selection[selection["z"] == 1]
    mean_face = (Eigenface.load(eigenface_dir / f"{gender}.npz").mean, read_triangles(faces_dir / "template.ply"),
                 read_landmark_vertices(faces_dir / "landmark_vertices.csv"))
    face = predictable_ams_figure({gender: mean_face},
                                  {gender: (predictable["am_id"].to_numpy(), 1.0 - predictable["ci_u"].to_numpy())},
                                  read_am_table(Path(params.face.ams)),
                                  f"{gender}: the {len(predictable)} predictable AMs on the mean face, by 1 - CI_u")
    save_figure(face, plots_dir / f"predictable_ams_{gender}.png")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--gender", required=True)
    parser.add_argument("--selection", type=Path, default=Path("reports/selection"))
    parser.add_argument("--eigenface", type=Path, default=Path("models/eigenface"))
    parser.add_argument("--faces", type=Path, default=Path("data/faces"))
    parser.add_argument("--plots", type=Path, default=Path("reports/plots"))
    args = parser.parse_args()
    run(main, args.params, args.gender, args.selection, args.eigenface, args.faces, args.plots)
