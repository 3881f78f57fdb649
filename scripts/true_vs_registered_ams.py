"""What registration noise costs the estimator: stats_ridge on the default run's features and
splits, once with the AMs measured on registered scans (what the pipeline uses) and once with
the true AMs of the synthetic truth. Run after `dvc repro` (docs/estimators.md).

    python scripts/true_vs_registered_ams.py
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.estimator.data import load_features
from pipeline.estimator.ridge import StatsRidge
from pipeline.estimator.statistics import speaker_statistics


def main() -> None:
    features = load_features(Path("data/features"))
    registered = pd.read_csv("data/ams/ams.csv", dtype={"speaker_id": str}).set_index("speaker_id")
    true = pd.read_csv("data/synthetic/truth/ams.csv", dtype={"speaker_id": str}).set_index("speaker_id")
    oracle = pd.read_csv("data/synthetic/truth/oracle.csv").set_index("am_id")
    columns = [c for c in registered.columns if c.startswith("am_")]
    am_ids = [int(c.removeprefix("am_")) for c in columns]
    print("| AMs | gender | all AMs | oracle r² ≥ 0.5 | registered vs true AM, median r |\n|---|---|---:|---:|---:|")
    for gender, code in (("male", "M"), ("female", "F")):
        splits = pd.read_csv(f"data/splits/{gender}.csv", dtype={"speaker_id": str})
        ids = list(registered.index[registered["gender"] == code])
        x = pd.DataFrame(np.stack([speaker_statistics(features[s]) for s in ids]), index=ids)
        r2 = oracle.loc[am_ids, f"r2_{gender}"].to_numpy()
        agreement = np.median([np.corrcoef(registered.loc[ids, c], true.loc[ids, c])[0, 1] for c in columns])
        for name, ams in (("registered", registered), ("true", true)):
            ratios = []
            for _, part in splits.groupby("repeat"):
                split = part.set_index("speaker_id")["split"]
                t, v1, v2 = (list(split.index[split == s]) for s in ("t", "v1", "v2"))
                y = ams[columns]
                model = StatsRidge().fit(x.loc[t].values, y.loc[t].values, x.loc[v1].values, y.loc[v1].values)
                mean, _ = model.predict(x.loc[v2].values)
                ratios.append(((mean - y.loc[v2].values) ** 2).sum(0)
                              / ((y.loc[v2].values - y.loc[t].values.mean(0)) ** 2).sum(0))
            ratio = np.mean(ratios, axis=0)
            print(f"| {name} | {gender} | {ratio.mean():.3f} | {ratio[r2 >= 0.5].mean():.3f} | {agreement:.3f} |")


if __name__ == "__main__":
    main()
