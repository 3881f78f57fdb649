"""What registration noise costs the estimator: stats_ridge on a finished run's features and
splits, once with the AMs measured on registered scans (what the pipeline uses) and once with
the true AMs of the synthetic truth. The oracle's r2 is of true AMs, so this tells how much of
the gap to it is the estimator's and how much the registration's (docs/estimators.md).

    python scripts/true_vs_registered_ams.py [WORKSPACE]    # a checkout after `dvc repro` (default: .)

Writes reports/experiments/true_vs_registered_ams/results.csv (per AM source and gender: the
mean D_v2 ratio over all AMs and over the AMs with oracle r2 >= 0.5, and the median correlation
of registered with true AMs) and run.json (the workspace's commit, this script's commit, the
wall time), and prints the table.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import time
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from pipeline.estimator.data import load_features
from pipeline.estimator.ridge import StatsRidge
from pipeline.estimator.statistics import speaker_statistics
from pipeline.selection.power import R2_BINS

ROOT = Path(__file__).resolve().parents[1]


def commit(directory: Path) -> str:
    """The commit of `directory`, marked when its code (pipeline/, scripts/, params.yaml)
    differs from it."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=directory, capture_output=True, text=True).stdout.strip()
    changed = git("status", "--porcelain", "-uno", "--", "pipeline", "scripts", "params.yaml")
    return git("rev-parse", "HEAD") + (" (uncommitted changes)" if changed else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("workspace", type=Path, nargs="?", default=Path("."), help="a checkout after dvc repro")
    parser.add_argument("--out", type=Path, default=ROOT / "reports/experiments/true_vs_registered_ams")
    args = parser.parse_args()
    started, made_at, data = time.perf_counter(), commit(ROOT), args.workspace / "data"
    workspace_at = commit(args.workspace.resolve())  # before the run: the workspace may move on
    features = load_features(data / "features")
    registered = pd.read_csv(data / "ams/ams.csv", dtype={"speaker_id": str}).set_index("speaker_id")
    true = pd.read_csv(data / "synthetic/truth/ams.csv", dtype={"speaker_id": str}).set_index("speaker_id")
    oracle = pd.read_csv(data / "synthetic/truth/oracle.csv").set_index("am_id")
    columns = [c for c in registered.columns if c.startswith("am_")]
    am_ids = [int(c.removeprefix("am_")) for c in columns]
    rows = []
    for gender, code in (("male", "M"), ("female", "F")):
        splits = pd.read_csv(data / f"splits/{gender}.csv", dtype={"speaker_id": str})
        ids = list(registered.index[registered["gender"] == code])
        x = pd.DataFrame(np.stack([speaker_statistics(features[s]) for s in ids]), index=ids)
        r2 = oracle.loc[am_ids, f"r2_{gender}"].to_numpy()
        agreement = np.median([np.corrcoef(registered.loc[ids, c], true.loc[ids, c])[0, 1] for c in columns])
        for name, ams in (("registered", registered), ("true", true)):
            ratios = []
            for _, part in tqdm(splits.groupby("repeat"), desc=f"{gender}, {name} AMs", unit="repeat"):
                split = part.set_index("speaker_id")["split"]
                t, v1, v2 = (list(split.index[split == s]) for s in ("t", "v1", "v2"))
                y = ams[columns]
                model = StatsRidge().fit(x.loc[t].values, y.loc[t].values, x.loc[v1].values, y.loc[v1].values)
                mean, _ = model.predict(x.loc[v2].values)
                ratios.append(((mean - y.loc[v2].values) ** 2).sum(0)
                              / ((y.loc[v2].values - y.loc[t].values.mean(0)) ** 2).sum(0))
            ratio = np.mean(ratios, axis=0)
            rows.append({"ams": name, "gender": gender, "all_ams": ratio.mean(),
                         "oracle_top_bin": ratio[r2 >= R2_BINS[-1]].mean(), "registered_vs_true_r": agreement})
    results = pd.DataFrame(rows)
    args.out.mkdir(parents=True, exist_ok=True)
    results.to_csv(args.out / "results.csv", index=False, float_format="%.6g")
    run = {"commit": made_at, "workspace_commit": workspace_at,
           "seconds": time.perf_counter() - started}
    (args.out / "run.json").write_text(json.dumps(run, indent=2) + "\n")
    print(results.to_string(index=False))


if __name__ == "__main__":
    main()
