"""ams stage: the AMs of the AM table measured on every registered face."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ..artifacts import read_table, write_csv
from ..config import Params
from ..face.ams import measure, read_am_table
from ..face.io import read_landmark_vertices
from . import Paths


def main(params: Params, paths: Paths) -> None:
    table = read_am_table(Path(params.face.ams))
    speakers = read_table(paths.face_speakers)
    vertices = torch.from_numpy(np.load(paths.registered).astype(np.float64))
    landmark_idx = torch.from_numpy(read_landmark_vertices(paths.landmark_vertices))
    with torch.no_grad():
        values = measure(vertices, landmark_idx, table).numpy()
    ams = pd.DataFrame(values, columns=[f"am_{i}" for i in table.am_id])
    write_csv(pd.concat([speakers, ams], axis=1), paths.ams, "%.5f")
