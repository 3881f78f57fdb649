"""selection_plot stage (one per gender in sfv.genders): the source's Fig. 4 from the select
stage's table, reports/plots/selection_<gender>.png (top 20 and bottom 4 AMs) and
selection_<gender>_all.png (every AM)."""
from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from ..plots.render import save_figure
from ..plots.selection import selection_figure
from ..settings import configured_params
from . import run


def main(params_path: Path, gender: str, selection_dir: Path, plots_dir: Path) -> None:
    configured_params(params_path, gender)
    selection = pd.read_csv(selection_dir / f"{gender}.csv")
    n = int(selection["n"].iloc[0])
    top = selection_figure(selection, f"{gender}: predictable AMs ({n} repeats, top 20 and bottom 4 by CI_u)")
    every = selection_figure(selection, f"{gender}: all AMs ({n} repeats)", top=None)
    save_figure(top, plots_dir / f"selection_{gender}.png")
    save_figure(every, plots_dir / f"selection_{gender}_all.png")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--gender", required=True)
    parser.add_argument("--selection", type=Path, default=Path("reports/selection"))
    parser.add_argument("--plots", type=Path, default=Path("reports/plots"))
    args = parser.parse_args()
    run(main, args.params, args.gender, args.selection, args.plots)
