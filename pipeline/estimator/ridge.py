"""The sample-efficient estimator: ridge regression of the AMs on speaker statistics, with a
regularisation chosen per AM on held-out speakers and a predictive variance per speaker.

Why ridge: with about a hundred training voices and a few thousand statistics, a linear map
with a well-chosen penalty recovers most of what the features carry (see docs "Estimators"),
its fit is one SVD, and the same SVD serves every AM, every penalty and every permutation of
the AMs, which makes an exact permutation test affordable.

Model selection mirrors the CNN's per-AM choice of step on D_v1: for each AM, the penalty α
on a fixed grid whose held-out error is lowest, the held-out speakers being D_v1 and, by
generalised cross-validation, D_t itself (pooled by their numbers, so 15 D_v1 voices do not
decide alone).

The variance: σ²_k, the held-out (leave-one-out) residual variance of AM k at its α, times a
speaker factor exp(β g(x)). g is a ridge regression of how badly a D_t speaker is
predicted (the log of its standardised squared leave-one-out residuals, averaged over the
AMs the voice explains, weighted by how much it explains them) on the same statistics, and
β is how strongly that difficulty follows g out of sample (its leave-one-out values), one
slope for all AMs: per-AM slopes from a hundred noisy log residuals were mostly noise. Where
noise does not vary by speaker, β ≈ 0 and every speaker gets σ²_k.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ALPHAS = tuple(float(a) for a in np.logspace(0.0, 6.0, 25))
_LOG_FLOOR = 1e-3  # keeps log r^2 finite for a residual of exactly 0


@dataclass(frozen=True)
class _Basis:
    """The standardisation and SVD of one repeat's D_t statistics."""

    mean: np.ndarray  # [P]
    scale: np.ndarray  # [P]
    u: np.ndarray  # [n_t, r]
    s: np.ndarray  # [r]
    vt: np.ndarray  # [r, P]
    low: np.ndarray | None = None  # [P] D_t's smallest and largest standardised values, when new
    high: np.ndarray | None = None  # rows are clipped to them (StatsRidge(clip=True))

    def standardise(self, x: np.ndarray) -> np.ndarray:
        z = standardised(x, self.mean, self.scale)
        return z if self.low is None else np.clip(z, self.low, self.high)


def standardised(x: np.ndarray, mean: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """(x - mean) / scale, a missing value (NaN: a Praat measure of a recording without voicing)
    set to 0, i.e. to D_t's mean."""
    z = (x - mean) / scale
    return np.nan_to_num(z, nan=0.0) if np.isnan(z).any() else z


def _basis(x_train: np.ndarray, clip: bool = False) -> _Basis:
    """D_t's standardisation (over the defined values of each column) and its SVD; with `clip`,
    also the range new rows are clipped to."""
    if np.isnan(x_train).any():
        defined = np.isfinite(x_train).any(axis=0)
        filled = np.where(defined, x_train, 0.0)
        mean, scale = np.nanmean(filled, axis=0), np.nanstd(filled, axis=0)
    else:
        mean, scale = x_train.mean(axis=0), x_train.std(axis=0)
    scale = np.where(scale > 1e-12, scale, 1.0)
    z = standardised(x_train, mean, scale)
    u, s, vt = np.linalg.svd(z, full_matrices=False)
    keep = s > s[0] * 1e-10  # centring removes one dimension
    return _Basis(mean, scale, u[:, keep], s[keep], vt[keep], *((z.min(axis=0), z.max(axis=0)) if clip else ()))


def _shrinkage(s: np.ndarray, alphas: np.ndarray) -> np.ndarray:
    """s / (s^2 + alpha) for every alpha [A, r]: y -> coefficients in the SVD basis."""
    return s[None] / (s[None] ** 2 + alphas[:, None])


def _gcv_error(basis: _Basis, coords: np.ndarray, residual_norm: np.ndarray, n: int,
               alphas: np.ndarray) -> np.ndarray:
    """Generalised cross-validation error per alpha [A, ..., K] of the ridge fits with an
    intercept; coords = U^T (y - mean y) [..., r, K], residual_norm = |y - mean y|^2 - |coords|^2."""
    damp = (alphas[:, None] / (basis.s[None] ** 2 + alphas[:, None])) ** 2  # [A, r]
    rss = np.tensordot(damp, coords ** 2, axes=([1], [-2])) + residual_norm[None]
    dof = 1.0 + (basis.s[None] ** 2 / (basis.s[None] ** 2 + alphas[:, None])).sum(axis=1)  # [A]
    return rss / n / ((1.0 - dof / n) ** 2).reshape(-1, *([1] * (rss.ndim - 1)))


def select_and_predict(basis: _Basis, y_train: np.ndarray, x_select: np.ndarray, y_select: np.ndarray,
                       x_score: np.ndarray, alphas: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The per-AM choice of alpha and the predictions it gives, for a batch of target sets.

    y_train [B, n_t, K], y_select [B, n_v1, K] (raw scale); x_select, x_score standardised.
    Returns (alpha index [B, K], predictions for x_score [B, n_score, K], the D_t GCV error
    and the D_v1 error per alpha [A, B, K]). One code path for the fit and for the
    permutation null, so both run exactly the same protocol.
    """
    n = y_train.shape[1]
    centre = y_train.mean(axis=1, keepdims=True)  # [B, 1, K]
    coords = basis.u.T @ (y_train - centre)  # [B, r, K]
    residual_norm = ((y_train - centre) ** 2).sum(axis=1) - (coords ** 2).sum(axis=1)  # [B, K]
    gcv = _gcv_error(basis, coords, np.maximum(residual_norm, 0.0), n, alphas)  # [A, B, K]
    shrink = _shrinkage(basis.s, alphas)  # [A, r]
    projected_select = x_select @ basis.vt.T  # [n_v1, r]
    weighted = projected_select[None] * shrink[:, None, :]  # [A, n_v1, r]
    predicted_select = weighted[:, None] @ coords[None] + centre[None]  # [A, B, n_v1, K]
    select_error = ((predicted_select - y_select[None]) ** 2).sum(axis=2)  # [A, B, K]
    pooled = (gcv * n + select_error) / (n + y_select.shape[1])
    best = pooled.argmin(axis=0)  # [B, K]
    chosen = np.take_along_axis(shrink[:, None, :, None], best[None, :, None, :], axis=0)[0]  # [B, r, K]
    predicted = (x_score @ basis.vt.T) @ (chosen * coords) + centre
    return best, predicted, gcv, select_error / y_select.shape[1]


class StatsRidge:
    """Ridge regression of AMs on speaker statistics, alpha per AM, heteroscedastic variance.

    fit(X_t, Y_t, X_v1, Y_v1) learns from D_t only and uses D_v1 for the choice of alpha;
    predict(X) -> (mean [n, K], variance [n, K]) in the units of Y. With `clip`, a new row's
    standardised values are clipped to the range D_t spans: an encoder's ReLU output is zero in
    most speakers for many dimensions, and one speaker's non-zero value there would otherwise
    sit dozens of D_t SDs out and throw the prediction far off.
    """

    def __init__(self, alphas: tuple[float, ...] = ALPHAS, clip: bool = False):
        self.alphas = alphas
        self.clip = clip

    def fit(self, x_train: np.ndarray, y_train: np.ndarray, x_select: np.ndarray,
            y_select: np.ndarray) -> StatsRidge:
        alphas = np.asarray(self.alphas, dtype=np.float64)
        basis = _basis(np.asarray(x_train, np.float64), self.clip)
        y_train = np.asarray(y_train, np.float64)
        x_select = basis.standardise(np.asarray(x_select, np.float64))
        best, _, gcv, select_error = select_and_predict(basis, y_train[None], x_select,
                                                        np.asarray(y_select, np.float64)[None], x_select[:0], alphas)
        best = best[0]
        shrink = _shrinkage(basis.s, alphas)[best].T  # [r, K]
        self.intercept_ = y_train.mean(axis=0)
        coords = basis.u.T @ (y_train - self.intercept_)
        self.coef_ = basis.vt.T @ (shrink * coords)  # [P, K] on standardised statistics
        self.x_mean_, self.x_scale_ = basis.mean, basis.scale
        if self.clip:
            self.x_low_, self.x_high_ = basis.low, basis.high
        self.alpha_index_, self.alpha_ = best, alphas[best]
        self.train_error_, self.select_error_ = gcv[:, 0], select_error[:, 0]  # [A, K] along the alpha grid
        residuals = self._leave_one_out(basis, y_train, best)
        self.residual_var_ = (residuals ** 2).mean(axis=0)
        self._fit_variance(basis, residuals, y_train.var(axis=0), alphas)
        return self

    def _leave_one_out(self, basis: _Basis, y: np.ndarray, best: np.ndarray) -> np.ndarray:
        """Exact leave-one-out residuals [n_t, K] of each AM's fit at its alpha."""
        n = len(y)
        out = np.empty_like(y)
        centred = y - y.mean(axis=0)
        for a in np.unique(best):
            ams = best == a
            weights = basis.s ** 2 / (basis.s ** 2 + self.alphas[a])
            fitted = basis.u @ (weights[:, None] * (basis.u.T @ centred[:, ams]))
            leverage = (basis.u ** 2) @ weights + 1.0 / n
            out[:, ams] = (centred[:, ams] - fitted) / (1.0 - leverage)[:, None]
        return out

    def _fit_variance(self, basis: _Basis, residuals: np.ndarray, target_var: np.ndarray,
                      alphas: np.ndarray) -> None:
        """The speaker index g (a ridge on the statistics, alpha by GCV) and the one slope on it."""
        scaled = residuals ** 2 / np.maximum(self.residual_var_, 1e-12)
        log_error = np.log(scaled + _LOG_FLOOR)  # [n_t, K]
        explained = np.clip(1.0 - self.residual_var_ / np.maximum(target_var, 1e-12), 0.0, None)
        n = len(residuals)
        self.index_coef_ = np.zeros(basis.vt.shape[1])
        self.index_slope_ = np.zeros(residuals.shape[1])
        self.index_offset_ = np.zeros(residuals.shape[1])
        if explained.sum() <= 0:
            return
        target = log_error @ explained / explained.sum()
        target = target - target.mean()
        coords = basis.u.T @ target
        gcv = _gcv_error(basis, coords[None, :, None], np.array([[max(target @ target - coords @ coords, 0.0)]]),
                         n, alphas)[:, 0, 0]
        a = int(gcv.argmin())
        weights = basis.s ** 2 / (basis.s ** 2 + alphas[a])
        self.index_coef_ = basis.vt.T @ (coords * basis.s / (basis.s ** 2 + alphas[a]))
        leverage = (basis.u ** 2) @ weights + 1.0 / n
        held_out = target - (target - basis.u @ (weights * coords)) / (1.0 - leverage)  # LOO values of g
        centred = held_out - held_out.mean()
        denominator = centred @ centred
        slope = max(0.0, float(centred @ target / denominator)) if denominator > 0 else 0.0
        self.index_slope_ = np.full(residuals.shape[1], slope)
        # Normalise so that the mean variance over D_t is the held-out residual variance.
        self.index_offset_ = np.full(residuals.shape[1], np.log(np.exp(slope * held_out).mean()))

    STATE = ("coef_", "intercept_", "x_mean_", "x_scale_", "alpha_", "residual_var_", "index_coef_",
             "index_slope_", "index_offset_")

    CLIP_STATE = ("x_low_", "x_high_")

    def state(self) -> dict[str, np.ndarray]:
        """The learned arrays, for storage (the coefficients as float32: half the size, and
        predictions change by about 1e-7 of an SD)."""
        names = self.STATE + (self.CLIP_STATE if self.clip else ())
        return {name: getattr(self, name).astype(np.float32 if name.endswith("coef_") else np.float64)
                for name in names}

    @classmethod
    def from_state(cls, state: dict[str, np.ndarray]) -> StatsRidge:
        model = cls(clip=all(name in state for name in cls.CLIP_STATE))
        for name in cls.STATE + (cls.CLIP_STATE if model.clip else ()):
            setattr(model, name, np.asarray(state[name], dtype=np.float64))
        return model

    def predict(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        z = standardised(np.asarray(x, np.float64), self.x_mean_, self.x_scale_)
        if self.clip:
            z = np.clip(z, self.x_low_, self.x_high_)
        mean = z @ self.coef_ + self.intercept_
        index = z @ self.index_coef_
        variance = self.residual_var_ * np.exp(np.outer(index, self.index_slope_) - self.index_offset_)
        return mean, variance


@dataclass(frozen=True)
class RepeatRows:
    """One repeat's speakers as row indices into the pooled (non-D_e) statistics."""

    train: np.ndarray
    select: np.ndarray  # D_v1
    score: np.ndarray  # D_v2


def mean_ratios(x: np.ndarray, y: np.ndarray, repeats: list[RepeatRows], permutations: int, seed: int,
                alphas: tuple[float, ...] = ALPHAS, chunk: int = 100,
                progress=None) -> np.ndarray:
    """The selection statistic (mean over repeats of each AM's D_v2 error ratio against the
    D_t mean) for the observed AMs (row 0) and for `permutations` shufflings of the AM rows
    across the pooled speakers (rows 1..B) [B + 1, K].

    Every shuffling re-runs the whole protocol: the same splits, the fit on D_t, the choice
    of alpha on D_v1 and D_t, the scoring on D_v2. With no link between voice and AM the
    observed row is exchangeable with the shuffled ones, so ranking it among them is an
    exact test.
    """
    y = np.asarray(y, np.float64)
    protocol = _Protocol.of(x, repeats, alphas)
    rng = np.random.default_rng(seed)
    orders = np.stack([np.arange(len(y))] + [rng.permutation(len(y)) for _ in range(permutations)])
    out = np.concatenate([protocol.statistic(y, orders[start:start + chunk])
                          for start in range(0, len(orders), chunk)])
    if progress:
        progress(len(repeats))
    return out


def sequential_ratios(x: np.ndarray, y: np.ndarray, repeats: list[RepeatRows], max_permutations: int,
                      exceedances: int, seed: int, alphas: tuple[float, ...] = ALPHAS, block: int = 250,
                      progress=None, clip: bool = False) -> list[np.ndarray]:
    """The statistic of `mean_ratios` under shufflings drawn only while they decide something:
    per AM, [1 + n_k] (the observed value first), shuffled until `exceedances` shufflings reach
    the observed value (a ratio as small or smaller) or `max_permutations` are drawn (Besag &
    Clifford 1991). An AM the voice does not carry stops after a few dozen shufflings; one it
    carries strongly is resolved down to p = 1 / (max_permutations + 1). The shufflings are the
    same, in the same order, as `mean_ratios` with the same seed draws. `clip`: as StatsRidge's."""
    y = np.asarray(y, np.float64)
    protocol = _Protocol.of(x, repeats, alphas, clip)
    rng = np.random.default_rng(seed)
    observed = protocol.statistic(y, np.arange(len(y))[None])[0]
    drawn: list[list[np.ndarray]] = [[] for _ in range(y.shape[1])]
    counts = np.zeros(y.shape[1], dtype=np.int64)
    active = np.arange(y.shape[1])
    done = 0
    while len(active) and done < max_permutations:
        size = min(block, max_permutations - done)
        orders = np.stack([rng.permutation(len(y)) for _ in range(size)])
        values = protocol.statistic(y[:, active], orders)  # [size, active]
        hits = np.cumsum(values <= observed[active][None], axis=0)  # exceedances so far, per AM
        still = []
        for column, k in enumerate(active):
            stop = np.flatnonzero(counts[k] + hits[:, column] >= exceedances)
            keep = size if len(stop) == 0 else int(stop[0]) + 1
            drawn[k].append(values[:keep, column])
            counts[k] += int(hits[keep - 1, column])
            if len(stop) == 0:
                still.append(k)
        active = np.array(still, dtype=np.int64)
        done += size
        if progress:
            progress(size)
    return [np.concatenate([[observed[k]], *drawn[k]]) for k in range(y.shape[1])]


@dataclass(frozen=True)
class _Protocol:
    """Each repeat's SVD and standardised D_v1 / D_v2 statistics, shared by every shuffling."""

    repeats: list[RepeatRows]
    bases: list[_Basis]
    select: list[np.ndarray]
    score: list[np.ndarray]
    grid: np.ndarray

    @classmethod
    def of(cls, x: np.ndarray, repeats: list[RepeatRows], alphas: tuple[float, ...], clip: bool = False) -> _Protocol:
        x = np.asarray(x, np.float64)
        bases = [_basis(x[rows.train], clip) for rows in repeats]
        return cls(repeats, bases, [b.standardise(x[r.select]) for b, r in zip(bases, repeats)],
                   [b.standardise(x[r.score]) for b, r in zip(bases, repeats)], np.asarray(alphas, dtype=np.float64))

    def statistic(self, y: np.ndarray, orders: np.ndarray) -> np.ndarray:
        """The mean D_v2 ratio over repeats [b, K] of the targets y [n, K] reordered by each row of orders [b, n]."""
        total = np.zeros((len(orders), y.shape[1]))
        shuffled = y[orders]  # [b, n, K]
        for rows, basis, x_select, x_score in zip(self.repeats, self.bases, self.select, self.score):
            y_train = shuffled[:, rows.train]
            _, predicted, _, _ = select_and_predict(basis, y_train, x_select, shuffled[:, rows.select], x_score,
                                                    self.grid)
            truth = shuffled[:, rows.score]
            chance = ((truth - y_train.mean(axis=1, keepdims=True)) ** 2).sum(axis=1)
            total += ((predicted - truth) ** 2).sum(axis=1) / chance
        return total / len(self.repeats)
