"""select stage: which AMs the voice predicts, per gender, under the source's and better-calibrated tests.

Its metrics (selection counts, and precision / recall / fpr against the oracle on synthetic
roots) go to reports/selection.json; the evaluate stage merges them into reports/metrics.json.
"""
from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from ..artifacts import read_output, write_csv, write_json
from ..cohort import Gender
from ..config import Params
from ..errors import DatasetError
from ..face.ams import read_am_table
from ..selection.significance import PermutationNull
from ..selection.table import SelectionSettings, nmse_summary, selection_table, truth_scores
from ..splits import Splits
from . import Paths


def main(params: Params, paths: Paths) -> None:
    table = read_am_table(Path(params.face.ams))
    oracle_path = Path(params.data.root) / "truth" / "oracle.csv"
    oracle = pd.read_csv(oracle_path).set_index("am_id") if oracle_path.is_file() else None
    settings = SelectionSettings.from_params(params.sfv)
    results, metrics = {}, {}
    for gender in map(Gender, params.sfv.genders):
        predictions = read_output(paths.predictions / f"{gender}.csv", "train")
        sizes = Splits(read_output(paths.splits / f"{gender}.csv", "splits")).sizes()
        null = PermutationNull(read_output(paths.predictions / f"{gender}_permutations.csv", "train"),
                               params.sfv.permutation_exceedances)
        try:
            selection = selection_table(predictions, table.am_id, list(table.label), list(table.kind),
                                        sizes["v2"], sizes["t"], settings, null)
        except ValueError as err:
            raise DatasetError(f"{paths.predictions}: {gender}: {err}") from None
        counts = {"n_predictable": int(selection["z"].sum()),
                  "n_predictable_paper": int(selection["z_paper"].sum()),
                  "n_predictable_corrected": int(selection["z_corrected"].sum()),
                  "n_repeats": int(selection["n"].iloc[0])}
        if "z_permutation" in selection:
            counts["n_predictable_permutation"] = int(selection["z_permutation"].sum())
        metrics[str(gender)] = {"selection": counts,
                                "nmse": nmse_summary(predictions, table.am_id, selection["z"].to_numpy() == 1)}
        if oracle is not None:
            selection["r2"] = oracle.loc[table.am_id, f"r2_{gender}"].to_numpy()
            selection["planted"] = oracle.loc[table.am_id, f"planted_{gender}"].to_numpy()
            metrics[str(gender)]["truth"] = _finite(truth_scores(selection["z"], selection["planted"]))
        results[gender] = selection
    # Everything is computed before anything is written.
    for gender, selection in results.items():
        write_csv(selection, paths.selection / f"{gender}.csv")
    write_json(metrics, paths.selection_metrics)


def _finite(values: dict) -> dict:
    """JSON has no NaN: an undefined score (nothing selected, nothing planted) is null."""
    return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in values.items()}

