"""params stage: params.yaml validated as a whole, and every value this run uses.

It depends on the whole file, so a misspelt or unknown key (`-S +sfv.repeat=3`) fails the
next `dvc repro` even when no other stage reads that key, and it asks the estimator whether
it can honour the rest (a permutation test, the phonatory module), and whether the permutation
test has the shufflings to declare a single AM of the AM table under the configured FDR. reports/params.json holds
every parameter with the defaults filled in, so a run's settings can be read in one place.
"""
from __future__ import annotations

from pathlib import Path

from ..artifacts import write_json
from ..config import Params
from ..errors import ParamsError
from ..estimator.registry import check_params
from ..face.ams import read_am_table
from ..selection.significance import smallest_needed_permutations
from . import Paths


def main(params: Params, paths: Paths) -> None:
    check_params(params)
    sfv = params.sfv
    if sfv.test == "permutation":
        n_ams = len(read_am_table(Path(params.face.ams)).am_id)
        need = smallest_needed_permutations(sfv.alpha, sfv.fdr, n_ams)
        if sfv.permutations < need:
            rule = f"Benjamini-Hochberg over {n_ams} AMs declares one only at p <= alpha/{n_ams}" \
                if sfv.fdr == "bh" else "a declaration needs p <= alpha"
            raise ParamsError(f"sfv.permutations: {sfv.permutations} shufflings give p >= 1/{sfv.permutations + 1}, "
                              f"and {rule} = {sfv.alpha / (n_ams if sfv.fdr == 'bh' else 1):.2g}; use at least "
                              f"{need} (shuffling stops early where it decides nothing: "
                              f"sfv.permutation_exceedances)")
    write_json(params.model_dump(mode="json", by_alias=True), paths.params_report, sort_keys=False)
