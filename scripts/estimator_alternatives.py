"""The experiments behind docs/estimators.md "Tried and left out": alternatives to stats_ridge
on the same voice-only worlds and splits as `sfv power`, by mean D_v2 error ratio. Kept as a
script so the table on the page is re-made, not retyped, when the estimator changes.

    python scripts/estimator_alternatives.py            # 150 per sex, 10 s, coupling 1.6, 10 repeats

Each variant sees the same statistics (pipeline/estimator/statistics.py), the same D_t / D_v1 /
D_v2 splits and the same z-scoring. Per sex and variant it writes the mean ratio over all AMs,
over the AMs with oracle r2 >= 0.5 (the top bin of sfv power), on the 50 % of D_v2 speakers its variance calls most
certain, and the variance's calibration (mean of (F - m)^2 / G on D_v2) to
reports/experiments/estimator_alternatives/results.csv; the settings, the git commit, the
oracle's AM counts, the split sizes and the wall time to run.json.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.cross_decomposition import PLSRegression
from sklearn.decomposition import PCA
from sklearn.linear_model import BayesianRidge
from threadpoolctl import threadpool_limits
from tqdm import tqdm

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
from pipeline.selection.power import R2_BINS
from pipeline.selection.table import SHARES
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
        # the exact SVD: sklearn's default for 30 components is a randomised one, different on every run
        pca = PCA(components or len(x_t) - 1, svd_solver="full").fit((x_t - x_t.mean(0)) / scale)
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


VARIANTS = {  # key: (label on the page, fit)
    "stats_ridge": ("stats_ridge (alpha by D_v1 + GCV, pooled)", stats_ridge),
    "ridge_v1": ("ridge, alpha by D_v1 alone", ridge_choice("v1")),
    "ridge_gcv": ("ridge, alpha by GCV alone", ridge_choice("gcv")),
    "reduced_rank_5": ("ridge, top-5 reduced rank", reduced_rank(5)),
    "bayes_all": ("BayesianRidge on all components", bayes_pca(None)),
    "bayes_30": ("BayesianRidge on 30 components", bayes_pca(30)),
    "pls_5": ("PLS, 5 components", pls(5)),
    "pls_10": ("PLS, 10 components", pls(10)),
}
# Bounds on what any variance could do in these worlds: stats_ridge's means, ranked by the
# recording's true SNR (the one speaker-varying noise the world has) or by the true error.
BOUNDS = {"rank_by_snr": "stats_ridge ranked by true SNR",
          "rank_by_error": "stats_ridge ranked by its true error (upper bound)"}
ROOT = Path(__file__).resolve().parents[1]


def subset_ratio(mean, var, z, share):
    keep = np.argsort(var, axis=0, kind="stable")[: int(np.ceil(share * len(var)))]
    picked = np.take_along_axis
    return (picked((mean - z) ** 2, keep, 0).mean(0) / picked(z ** 2, keep, 0).mean(0))


def commit() -> str:
    """The commit the numbers were made at, marked when its code (pipeline/, scripts/,
    params.yaml) differs from it."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    changed = git("status", "--porcelain", "-uno", "--", "pipeline", "scripts", "params.yaml")
    return git("rev-parse", "HEAD") + (" (uncommitted changes)" if changed else "")


def main() -> None:
    # One BLAS thread: these fits are small, and on a shared machine threaded BLAS spins for minutes.
    with threadpool_limits(1):
        run()


def run() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--speakers", type=int, default=150)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--coupling", type=float, default=1.6)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--out", type=Path, default=ROOT / "reports/experiments/estimator_alternatives")
    args = parser.parse_args()
    started, made_at = time.perf_counter(), commit()  # before the run, so later edits cannot mark it
    table = default_am_table()
    defaults = default_params()  # the worlds of `sfv power` at params.yaml's defaults
    model = build_shape_model(build_template(defaults.synth.vertices), defaults.synth.residual_mm)
    truth = oracle(model, table, args.coupling, LINK_GROUPS, world_oracle_rng(0))
    voice = replace(VoiceSettings.from_params(defaults.synth), seconds=args.seconds, coupling=args.coupling,
                    recordings=1, planted=LINK_GROUPS)
    rows, counts, sizes = [], {}, {}
    names = {**{k: label for k, (label, _) in VARIANTS.items()}, **BOUNDS}
    bar = tqdm(total=len(Gender) * len(names) * args.repeats, desc="alternatives", unit="fit")
    for gender in Gender:
        bar.set_postfix_str(f"{gender} voices")
        cohort = voice_cohort(args.speakers, gender, voice, 0, FrontEnd.from_params(defaults.audio), model)
        x = np.stack([speaker_statistics([f]) for f in cohort.features])
        r2 = truth.set_index("am_id").loc[cohort.am_ids, f"r2_{gender}"].to_numpy()
        counts[str(gender)] = {f"r2>={b}": int((r2 >= b).sum()) for b in R2_BINS}
        ids = [f"s{i:04d}" for i in range(len(x))]  # as sfv power names them, so the splits are its splits
        splits = make_splits(ids, args.repeats, 0, gender, defaults.sfv.evaluation_share)
        sizes[str(gender)] = {k: int(v) for k, v in splits[splits["repeat"] == 1]["split"].value_counts().items()}
        for key, label in names.items():
            bar.set_postfix_str(f"{gender} {key}")
            fit = VARIANTS[key][1] if key in VARIANTS else stats_ridge
            full, half, calibration, ranked = [], [], [], False
            for _, part in splits.groupby("repeat"):
                split = part.set_index("speaker_id").loc[ids, "split"].to_numpy()
                t, v1, v2 = split == "t", split == "v1", split == "v2"
                z = (cohort.ams - cohort.ams[t].mean(0)) / cohort.ams[t].std(0, ddof=1)
                mean, var = fit(x[t], z[t], x[v1], z[v1], x[v2])
                calibration.append(((mean - z[v2]) ** 2 / var).mean())
                if key == "rank_by_snr":
                    var = np.repeat(-cohort.snr_db[v2][:, None], z.shape[1], axis=1)
                elif key == "rank_by_error":
                    var = (mean - z[v2]) ** 2
                ranked |= bool(np.ptp(var, axis=0).max() > 0)
                full.append(subset_ratio(mean, var, z[v2], 1.0))
                half.append(subset_ratio(mean, var, z[v2], SHARES["_50"]))
                bar.update()
            full, half = np.mean(full, axis=0), np.mean(half, axis=0)
            own_variance = ranked and key in VARIANTS
            rows.append({"key": key, "variant": label, "sex": str(gender), "all_ams": full.mean(),
                         "oracle_top_bin": full[r2 >= R2_BINS[-1]].mean(), "certain_50": half.mean() if ranked else np.nan,
                         "calibration": float(np.mean(calibration)) if own_variance else np.nan})
    bar.close()
    args.out.mkdir(parents=True, exist_ok=True)
    results = pd.DataFrame(rows)
    results.to_csv(args.out / "results.csv", index=False, float_format="%.6g")
    run = {"commit": made_at, "seconds": time.perf_counter() - started,
           "settings": {"speakers": args.speakers, "seconds": args.seconds, "coupling": args.coupling,
                        "repeats": args.repeats, "recordings": 1, "seed": 0,
                        "evaluation_share": defaults.sfv.evaluation_share},
           "oracle_ams": counts, "split_sizes": sizes}
    (args.out / "run.json").write_text(json.dumps(run, indent=2) + "\n")
    print(results.to_string(index=False))


if __name__ == "__main__":
    main()
