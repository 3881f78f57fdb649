"""The face a set of AMs implies: beta* = argmin lambda |beta|^2 + sum_k w_k (Q_k(mu + P beta) - m_k)^2.

AMs are compared in the z-scale of the estimators' targets ((Q_k - mean_k) / sd_k against the
z-scale prediction m_k), so a millimetre AM and a ratio AM count alike. Only the landmark
rows of the model enter the AMs, so the fit works on [C, L * 3] instead of [C, T * 3]. All
speakers are fitted at once: their objectives are independent, and one L-BFGS run on their
sum (in float64, strong Wolfe line search) moves each face by its own gradient.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..face.ams import AmTable, measure_landmarks
from .eigenface import Eigenface


@dataclass(frozen=True)
class AmObjective:
    """The fit's objective for S speakers, as a torch function of beta [S, C]."""

    mean_landmarks: torch.Tensor  # [L, 3]
    basis_landmarks: torch.Tensor  # [C, L, 3], scaled by the component SDs
    table: AmTable
    targets_z: torch.Tensor  # [S, K]
    weights: torch.Tensor  # [K] or [S, K]
    am_mean: torch.Tensor  # [K]
    am_sd: torch.Tensor  # [K]
    lam: float

    @classmethod
    def build(cls, model: Eigenface, landmark_idx: np.ndarray, table: AmTable, targets_z: np.ndarray,
              weights: np.ndarray, am_mean: np.ndarray, am_sd: np.ndarray, lam: float,
              device: torch.device = torch.device("cpu")) -> AmObjective:
        c = model.n_components
        basis = model.basis.reshape(c, -1, 3)[:, landmark_idx] * model.stddev[:, None, None]
        as_tensor = lambda a: torch.tensor(np.asarray(a, dtype=np.float64), device=device)  # noqa: E731
        return cls(as_tensor(model.mean[landmark_idx]), as_tensor(basis), table, as_tensor(targets_z),
                   as_tensor(weights), as_tensor(am_mean), as_tensor(am_sd), float(lam))

    def per_speaker(self, beta: torch.Tensor) -> torch.Tensor:
        """Objective value of each speaker [S]."""
        landmarks = self.mean_landmarks + torch.einsum("sc,clx->slx", beta, self.basis_landmarks)
        ams_z = (measure_landmarks(landmarks, self.table) - self.am_mean) / self.am_sd
        return self.lam * (beta ** 2).sum(dim=1) + (self.weights * (ams_z - self.targets_z) ** 2).sum(dim=1)


def fit_coefficients(objective: AmObjective, max_iter: int = 200) -> tuple[np.ndarray, np.ndarray]:
    """Whitened coefficients beta* [S, C] from beta = 0 (the mean face), and each speaker's
    objective [S] at beta*."""
    n_speakers, n_components = objective.targets_z.shape[0], objective.basis_landmarks.shape[0]
    beta = torch.zeros(n_speakers, n_components, dtype=torch.float64, device=objective.targets_z.device,
                       requires_grad=True)
    optimiser = torch.optim.LBFGS([beta], lr=1.0, max_iter=max_iter, history_size=20, tolerance_grad=1e-10,
                                  tolerance_change=1e-14, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimiser.zero_grad()
        loss = objective.per_speaker(beta).sum()
        loss.backward()
        return loss

    optimiser.step(closure)
    with torch.no_grad():
        values = objective.per_speaker(beta)
    return beta.detach().cpu().numpy(), values.cpu().numpy()
