"""ams stage: the AMs of the AM table measured on every registered face."""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ..artifacts import read_table, write_csv
from ..config import load_params
from ..face.ams import measure, read_am_table
from ..face.io import read_landmark_vertices
from . import run


def main(params_path: Path, faces_dir: Path, out: Path) -> None:
    params = load_params(params_path)
    table = read_am_table(Path(params.face.ams))
    speakers = read_table(faces_dir / "speakers.csv")
    vertices = torch.from_numpy(np.load(faces_dir / "registered.npy").astype(np.float64))
    landmark_idx = torch.from_numpy(read_landmark_vertices(faces_dir / "landmark_vertices.csv"))
    with torch.no_grad():
        values = measure(vertices, landmark_idx, table).numpy()
    ams = pd.DataFrame(values, columns=[f"am_{i}" for i in table.am_id])
    write_csv(pd.concat([speakers, ams], axis=1), out, "%.5f")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--faces", type=Path, default=Path("data/faces"))
    parser.add_argument("--out", type=Path, default=Path("data/ams/ams.csv"))
    args = parser.parse_args()
    run(main, args.params, args.faces, args.out)
