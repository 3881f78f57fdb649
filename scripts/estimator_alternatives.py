"""The experiments behind docs/estimators.md "Tried and left out": alternatives to stats_ridge
on the same voice-only worlds and splits, by mean D_v2 error ratio.

    python scripts/estimator_alternatives.py            # 150 per sex, 10 s, coupling 1.6, 10 repeats

Each variant sees the same statistics (pipeline/estimator/statistics.py), the same D_t / D_v1 /
D_v2 splits and the same z-scoring; it prints, per sex, the mean ratio over all AMs, over the
AMs with oracle r2 >= 0.5, and on the 50 % of D_v2 speakers its variance calls most certain.
"""
from __future__ import annotations

import argparse

from dataclasses import replace

import numpy as np
from sklearn.cross_decomposition import PLSRegression
from sklearn.decomposition import PCA
from sklearn.linear_model import BayesianRidge

from pipeline.audio.frontend import FrontEnd
from pipeline.cohort import Gender
from pipeline.config import default_params
from pipeline.estimator.ridge import ALPHAS, StatsRidge, _basis, _shrinkage, select_and_predict
from pipeline.estimator.statistics import speaker_statistics
from pipeline.face.ams import default_am_table
from pipeline.face.template import build_template
from pipeline.splits import make_splits
from pipeline.synth.cohort import VoiceSettings
from pipeline.synth.link import LINK_GROUPS, oracle
from pipeline.synth.shape_model import build_shape_model
from pipeline.seeds import world_oracle_rng
from pipeline.synth.voices import voice_cohort


def ridge_choice(rule: str):
    """Ridge with alpha per AM chosen by D_v1 alone, GCV alone or both pooled (the default)."""
    def fit(x_t, z_t, x_v1, z_v1, x_s):
        grid = np.asarray(ALPHAS)
        basis = _basis(x_t)
        xs1, xss = basis.standardise(x_v1), basis.standardise(x_s)
        _, _, gcv, v1 = select_and_predict(basis, z_t[None], xs1, z_v1[None], xss[:0], grid)
        n_t, n_v = len(z_t), len(z_v1)
        criterion = {"v1": v1[:, 0], "gcv": gcv[:, 0], "pooled": (gcv[:, 0] * n_t + v1[:, 0] * n_v) / (n_t + n_v)}[rule]
        best = criterion.argmin(axis=0)
        shrink = _shrinkage(basis.s, grid)[best].T  # [r, K]
        centre = z_t.mean(axis=0)
        mean = (xss @ basis.vt.T) @ (shrink * (basis.u.T @ (z_t - centre))) + centre
        return mean, np.ones_like(mean)
    return fit


def stats_ridge(x_t, z_t, x_v1, z_v1, x_s):
    return StatsRidge().fit(x_t, z_t, x_v1, z_v1).predict(x_s)


def reduced_rank(rank: int):
    """stats_ridge's predictions projected on the top `rank` directions of its D_t fits."""
    def fit(x_t, z_t, x_v1, z_v1, x_s):
        model = StatsRidge().fit(x_t, z_t, x_v1, z_v1)
        fitted = model.predict(x_t)[0]
        centre = fitted.mean(axis=0)
        _, _, vt = np.linalg.svd(fitted - centre, full_matrices=False)
        mean, var = model.predict(x_s)
        return (mean - centre) @ vt[:rank].T @ vt[:rank] + centre, var
    return fit


def bayes_pca(components: int | None):
    """scikit-learn's BayesianRidge per AM on the leading principal components of D_t."""
    def fit(x_t, z_t, x_v1, z_v1, x_s):
        scale = x_t.std(0) + 1e-12
        pca = PCA(components or len(x_t) - 1).fit((x_t - x_t.mean(0)) / scale)
        p_t, p_s = pca.transform((x_t - x_t.mean(0)) / scale), pca.transform((x_s - x_t.mean(0)) / scale)
        if components:
            p_s, p_t = p_s / p_t.std(0), p_t / p_t.std(0)
        mean, var = np.zeros((len(x_s), z_t.shape[1])), np.zeros((len(x_s), z_t.shape[1]))
        for k in range(z_t.shape[1]):
            m, s = BayesianRidge().fit(p_t, z_t[:, k]).predict(p_s, return_std=True)
            mean[:, k], var[:, k] = m, s ** 2
        return mean, var
    return fit


def pls(components: int):
    def fit(x_t, z_t, x_v1, z_v1, x_s):
        scale = x_t.std(0) + 1e-12
        model = PLSRegression(components, scale=False).fit((x_t - x_t.mean(0)) / scale, z_t)
        mean = model.predict((x_s - x_t.mean(0)) / scale)
        return mean, np.ones_like(mean)
    return fit


VARIANTS = {
    "stats_ridge (alpha by D_v1 + GCV, pooled)": stats_ridge,
    "ridge, alpha by D_v1 alone": ridge_choice("v1"),
    "ridge, alpha by GCV alone": ridge_choice("gcv"),
    "ridge, top-5 reduced rank": reduced_rank(5),
    "BayesianRidge on all components": bayes_pca(None),
    "BayesianRidge on 30 components": bayes_pca(30),
    "PLS, 5 components": pls(5),
    "PLS, 10 components": pls(10),
}
# Bounds on what any variance could do in these worlds: stats_ridge's means, ranked by the
# recording's true SNR (the one speaker-varying noise the world has) or by the true error.
BOUNDS = ("stats_ridge ranked by true SNR", "stats_ridge ranked by its true error (upper bound)")


def subset_ratio(mean, var, z, share):
    keep = np.argsort(var, axis=0, kind="stable")[: int(np.ceil(share * len(var)))]
    picked = np.take_along_axis
    return (picked((mean - z) ** 2, keep, 0).mean(0) / picked(z ** 2, keep, 0).mean(0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--speakers", type=int, default=150)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--coupling", type=float, default=1.6)
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()
    table = default_am_table()
    defaults = default_params()  # the worlds of `sfv power` at params.yaml's defaults
    model = build_shape_model(build_template(defaults.synth.vertices), defaults.synth.residual_mm)
    truth = oracle(model, table, args.coupling, LINK_GROUPS, world_oracle_rng(0))
    voice = replace(VoiceSettings.from_params(defaults.synth), seconds=args.seconds, coupling=args.coupling,
                    recordings=1, planted=LINK_GROUPS)
    print("| variant | sex | all AMs | oracle r² ≥ 0.5 | all AMs, 50 % most certain |\n|---|---|---:|---:|---:|")
    for gender in Gender:
        cohort = voice_cohort(args.speakers, gender, voice, 0, FrontEnd.from_params(defaults.audio), model)
        x = np.stack([speaker_statistics([f]) for f in cohort.features])
        r2 = truth[f"r2_{gender}"].to_numpy()
        ids = [f"s{i:04d}" for i in range(len(x))]  # as sfv power names them, so the splits are its splits
        splits = make_splits(ids, args.repeats, 0, gender, defaults.sfv.evaluation_share)
        for name in (*VARIANTS, *BOUNDS):
            full, half, ranked = [], [], False
            for _, part in splits.groupby("repeat"):
                label = part.set_index("speaker_id").loc[ids, "split"].to_numpy()
                t, v1, v2 = label == "t", label == "v1", label == "v2"
                z = (cohort.ams - cohort.ams[t].mean(0)) / cohort.ams[t].std(0, ddof=1)
                mean, var = VARIANTS.get(name, stats_ridge)(x[t], z[t], x[v1], z[v1], x[v2])
                if name == BOUNDS[0]:
                    var = np.repeat(-cohort.snr_db[v2][:, None], z.shape[1], axis=1)
                elif name == BOUNDS[1]:
                    var = (mean - z[v2]) ** 2
                ranked |= bool(np.ptp(var, axis=0).max() > 0)
                full.append(subset_ratio(mean, var, z[v2], 1.0))
                half.append(subset_ratio(mean, var, z[v2], 0.5))
            full, half = np.mean(full, axis=0), np.mean(half, axis=0)
            certain = f"{half.mean():.3f}" if ranked else "– (no variance)"
            print(f"| {name} | {gender} | {full.mean():.3f} | {full[r2 >= 0.5].mean():.3f} | {certain} |", flush=True)


if __name__ == "__main__":
    main()
