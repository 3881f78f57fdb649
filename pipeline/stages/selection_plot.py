"""selection_plot stage (one per gender in sfv.genders): the source's Fig. 4 from the select
stage's table, reports/plots/selection_<gender>.png (top 20 and bottom 4 AMs) and
selection_<gender>_all.png (every AM), and its Fig. 5, predictable_ams_<gender>.png: the
predictable AMs on the gender's mean face (the eigenface mean, models/eigenface)."""
from __future__ import annotations

from pathlib import Path

from ..artifacts import read_output
from ..cohort import Gender
from ..config import Params
from ..face.ams import read_am_table
from ..face.io import read_landmark_vertices, read_triangles
from ..plots.predictable_ams import predictable_ams_figure
from ..plots.render import save_figure
from ..plots.selection import selection_figure
from ..reconstruction.eigenface import Eigenface
from . import Paths


def main(params: Params, paths: Paths, gender: Gender) -> None:
    selection = read_output(paths.selection / f"{gender}.csv", "select")
    n = int(selection["n"].iloc[0])
    top = selection_figure(selection, f"{gender}: predictable AMs ({n} repeats, top 20 and bottom 4 by CI_u)")
    every = selection_figure(selection, f"{gender}: all AMs ({n} repeats)", top=None)
    save_figure(top, paths.plots / f"selection_{gender}.png")
    save_figure(every, paths.plots / f"selection_{gender}_all.png")
    predictable = selection[selection["z"] == 1]
    mean_face = (Eigenface.load(paths.eigenface / f"{gender}.npz").mean, read_triangles(paths.template),
                 read_landmark_vertices(paths.landmark_vertices))
    face = predictable_ams_figure({str(gender): mean_face},
                                  {str(gender): (predictable["am_id"].to_numpy(), 1.0 - predictable["ci_u"].to_numpy())},
                                  read_am_table(Path(params.face.ams)),
                                  f"{gender}: the {len(predictable)} predictable AMs on the mean face, by 1 - CI_u")
    save_figure(face, paths.plots / f"predictable_ams_{gender}.png")

