"""The register stage's cohort of faces, looked up by speaker.

`registered.npy` [N, T, 3] holds the faces in the row order of `speakers.csv`; every later
stage asks for faces by speaker_id through `RegisteredFaces`, never by row.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from ..artifacts import read_table
from ..cohort import Gender


@dataclass(frozen=True)
class RegisteredFaces:
    speakers: pd.DataFrame  # speaker_id, gender (M | F), in the faces' row order
    vertices: np.ndarray  # [N, T, 3] float32, memory-mapped

    @classmethod
    def load(cls, registered: Path, speakers: Path) -> RegisteredFaces:
        """From the register stage's registered.npy and speakers.csv."""
        return cls(read_table(speakers), np.load(registered, mmap_mode="r"))

    def __contains__(self, speaker_id: str) -> bool:
        return speaker_id in self._row

    @cached_property
    def _row(self) -> dict[str, int]:
        return dict(zip(self.speakers["speaker_id"], range(len(self.speakers))))

    def of(self, speaker_ids: list[str]) -> np.ndarray:
        """The faces [n, T, 3] (float64) of these speakers, in this order."""
        row = self._row
        return np.stack([np.asarray(self.vertices[row[s]], dtype=np.float64) for s in speaker_ids])

    def ids(self, gender: Gender, excluding: list[str] = ()) -> list[str]:
        """The speakers of one gender with a face, in row order, leaving out `excluding`."""
        left_out = set(excluding)
        chosen = self.speakers[self.speakers["gender"] == Gender(gender).code]
        return [s for s in chosen["speaker_id"] if s not in left_out]
