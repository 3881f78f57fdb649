"""The face fit, saved beside the models: everything that turns predicted AMs into a face.

The reconstruct stage builds it from the selection and the cohort, fits D_e with it and saves
it (`models/reconstruct/<gender>.npz`); `sfv predict` loads it for a new voice, so both run
the very same fit. It carries the AM table, the AMs' z-scale, which AMs the selection found
predictable and which guide the fit, lambda, the landmark vertices and the mesh triangles.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..artifacts import save_npz
from ..face.ams import AmTable
from .eigenface import Eigenface
from .fit import AmObjective, fit_coefficients


@dataclass(frozen=True)
class FaceFit:
    table: AmTable
    am_mean: np.ndarray  # [K] the z-scale: the cohort outside D_e
    am_sd: np.ndarray  # [K]
    predictable: np.ndarray  # [K] bool, z_k of the selection
    ci_u: np.ndarray  # [K] the selection's upper confidence bound of the error ratio
    guides: np.ndarray  # [K] bool, the top_k predictable AMs that enter the fit
    lam: float
    landmark_idx: np.ndarray  # [L] vertex of each landmark
    triangles: np.ndarray  # [F, 3] the template's faces, for writing meshes

    def fit(self, model: Eigenface, am_values: np.ndarray,
            device: torch.device = torch.device("cpu")) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Faces [S, T, 3], whitened coefficients [S, C] and objective values [S] for raw AM
        values [S, K]."""
        targets_z = (np.asarray(am_values, np.float64) - self.am_mean) / self.am_sd
        objective = AmObjective.build(model, self.landmark_idx, self.table, targets_z, self.guides.astype(float),
                                      self.am_mean, self.am_sd, self.lam, device)
        beta, values = fit_coefficients(objective)
        return model.shapes(beta), beta, values

    def save(self, path: Path) -> None:
        save_npz(path, am_id=self.table.am_id, kind=np.array(self.table.kind), label=np.array(self.table.label),
                 landmarks=self.table.landmarks, duplicate_of=self.table.duplicate_of, am_mean=self.am_mean,
                 am_sd=self.am_sd, predictable=self.predictable, ci_u=self.ci_u, guides=self.guides,
                 lam=np.float64(self.lam), landmark_idx=self.landmark_idx, triangles=self.triangles)

    @classmethod
    def load(cls, path: Path) -> FaceFit:
        with np.load(path, allow_pickle=False) as z:
            table = AmTable(z["am_id"], tuple(str(k) for k in z["kind"]), tuple(str(x) for x in z["label"]),
                            z["landmarks"], z["duplicate_of"])
            return cls(table, z["am_mean"], z["am_sd"], z["predictable"].astype(bool), z["ci_u"],
                       z["guides"].astype(bool), float(z["lam"]), z["landmark_idx"], z["triangles"])
