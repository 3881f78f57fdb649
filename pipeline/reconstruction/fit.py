"""The face a set of AMs implies: beta* = argmin lambda |beta|^2 + sum_k w_k (Q_k(mu + P beta) - m_k)^2.

AMs are compared in the z-scale of the estimators' targets ((Q_k - mean_k) / sd_k against the
z-scale prediction m_k), so a millimetre AM and a ratio AM count alike. Only the landmark
rows of the model enter the AMs, so the fit works on [C, L * 3] instead of [C, T * 3]. All
speakers are fitted at once: their objectives are independent, so each gets its own
Levenberg-Marquardt step from one batched Jacobian and one batched solve (float64).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.func import jvp, vmap

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


def fit_coefficients(objective: AmObjective, max_iter: int = 100, tolerance: float = 1e-9
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Whitened coefficients beta* [S, C] from beta = 0 (the mean face), and each speaker's
    objective [S] at beta*.

    The objective is a sum of squares, so this is batched Levenberg-Marquardt: per speaker the
    Jacobian of the guiding AMs [K', C] (forward mode, one vmapped pass over the C directions),
    the damped normal equations solved for all speakers at once, and a damping of its own that
    shrinks after a step that lowers that speaker's objective and grows after one that does not.
    Only the AMs with a weight enter. It stops when every speaker is done (its objective falls
    by no more than `tolerance`, relative, or its gradient vanishes), or after `max_iter` steps.
    """
    targets = objective.targets_z
    n_speakers, n_components = targets.shape[0], objective.basis_landmarks.shape[0]
    weights = objective.weights.expand_as(targets)
    used = torch.nonzero((weights != 0).any(dim=0)).flatten().cpu().numpy()
    beta = torch.zeros(n_speakers, n_components, dtype=torch.float64, device=targets.device)
    if len(used) == 0:  # nothing guides the fit: the mean face
        return beta.cpu().numpy(), objective.per_speaker(beta).cpu().numpy()
    table = objective.table.subset(used)
    am_mean, am_sd = objective.am_mean[used], objective.am_sd[used]
    targets, weights = targets[:, used], weights[:, used]

    def ams_z(b: torch.Tensor) -> torch.Tensor:  # [S, C] -> [S, K']
        landmarks = objective.mean_landmarks + torch.einsum("sc,clx->slx", b, objective.basis_landmarks)
        return (measure_landmarks(landmarks, table) - am_mean) / am_sd

    def value(b: torch.Tensor) -> torch.Tensor:
        return objective.lam * (b ** 2).sum(dim=1) + (weights * (ams_z(b) - targets) ** 2).sum(dim=1)

    eye = torch.eye(n_components, dtype=torch.float64, device=targets.device)
    directions = eye[:, None, :].expand(n_components, n_speakers, n_components)
    damping = torch.full((n_speakers,), 1e-3, dtype=torch.float64, device=targets.device)
    current = value(beta)
    for _ in range(max_iter):
        values, jacobian = vmap(lambda v: jvp(ams_z, (beta,), (v,)))(directions)  # [C, S, K'] each
        residual = values[0] - targets
        jacobian = jacobian.permute(1, 2, 0)  # [S, K', C]
        weighted = jacobian * weights[..., None]
        hessian = weighted.transpose(1, 2) @ jacobian + objective.lam * eye
        gradient = (weighted * residual[..., None]).sum(dim=1) + objective.lam * beta
        diagonal = torch.diagonal(hessian, dim1=1, dim2=2) + 1e-12
        step = torch.linalg.solve(hessian + damping[:, None, None] * torch.diag_embed(diagonal), -gradient)
        trial = value(beta + step)
        better = trial < current
        # A speaker is done when a step changes its objective by no more than the tolerance,
        # its gradient vanishes, or no damping finds a better point.
        done = ((current - trial).abs() <= tolerance * current) | (gradient.abs().amax(dim=1) <= 1e-10)
        beta = torch.where(better[:, None], beta + step, beta)
        current = torch.where(better, trial, current)
        damping = torch.where(better, damping * 0.3, damping * 10.0).clamp(1e-12, 1e12)
        done |= damping >= 1e12
        if bool(done.all()):
            break
    return beta.cpu().numpy(), objective.per_speaker(beta).cpu().numpy()
