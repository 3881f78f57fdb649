"""select stage: which AMs the voice predicts, per gender, under the source's and better-calibrated tests.

Its metrics (selection counts, and precision / recall / fpr against the oracle on synthetic
roots) go to reports/selection.json; the evaluate stage merges them into reports/metrics.json.
"""
from __future__ import annotations

import argparse
import math
from pathlib import Path

import pandas as pd

from ..artifacts import read_output, write_csv, write_json
from ..config import load_params
from ..dataset import DatasetError
from ..face.ams import read_am_table
from ..selection.table import SelectionSettings, nmse_summary, selection_table, truth_scores
from . import run


def main(params_path: Path, predictions_dir: Path, splits_dir: Path, out_dir: Path, metrics_path: Path) -> None:
    params = load_params(params_path)
    sfv = params.sfv
    table = read_am_table(Path(params.face.ams))
    oracle_path = Path(params.data.root) / "truth" / "oracle.csv"
    oracle = pd.read_csv(oracle_path).set_index("am_id") if oracle_path.is_file() else None
    settings = SelectionSettings(sfv.alpha, sfv.test, sfv.fdr)
    results, metrics = {}, {}
    for gender in sfv.genders:
        predictions = read_output(predictions_dir / f"{gender}.csv", "train")
        splits = read_output(splits_dir / f"{gender}.csv", "train")
        null = read_output(predictions_dir / f"{gender}_permutations.csv", "train")
        first = splits[splits["repeat"] == splits["repeat"].min()]["split"].value_counts()
        try:
            selection = selection_table(predictions, table.am_id, list(table.label), list(table.kind),
                                        int(first.get("v2", 0)), int(first.get("t", 0)), settings, null)
        except ValueError as err:
            raise DatasetError(f"{predictions_dir}: {gender}: {err}") from None
        counts = {"n_predictable": int(selection["z"].sum()),
                  "n_predictable_paper": int(selection["z_paper"].sum()),
                  "n_predictable_corrected": int(selection["z_corrected"].sum()),
                  "n_repeats": int(selection["n"].iloc[0])}
        if "z_permutation" in selection:
            counts["n_predictable_permutation"] = int(selection["z_permutation"].sum())
        metrics[gender] = {"selection": counts,
                           "nmse": nmse_summary(predictions, table.am_id, selection["z"].to_numpy() == 1)}
        if oracle is not None:
            selection["r2"] = oracle.loc[table.am_id, f"r2_{gender}"].to_numpy()
            selection["planted"] = oracle.loc[table.am_id, f"planted_{gender}"].to_numpy()
            metrics[gender]["truth"] = _finite(truth_scores(selection["z"], selection["planted"]))
        results[gender] = selection
    # Everything is computed before anything is written.
    for gender, selection in results.items():
        write_csv(selection, out_dir / f"{gender}.csv")
    write_json(metrics, metrics_path)


def _finite(values: dict) -> dict:
    """JSON has no NaN: an undefined score (nothing selected, nothing planted) is null."""
    return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in values.items()}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--predictions", type=Path, default=Path("data/predictions"))
    parser.add_argument("--splits", type=Path, default=Path("data/splits"))
    parser.add_argument("--out", type=Path, default=Path("reports/selection"))
    parser.add_argument("--metrics", type=Path, default=Path("reports/selection.json"))
    args = parser.parse_args()
    run(main, args.params, args.predictions, args.splits, args.out, args.metrics)
