"""params stage: params.yaml validated as a whole, and every value this run uses.

It depends on the whole file, so a misspelt or unknown key (`-S +sfv.repeat=3`) fails the
next `dvc repro` even when no other stage reads that key, and it asks the estimator whether
it can honour the rest (a permutation test, the phonatory module). reports/params.json holds
every parameter with the defaults filled in, so a run's settings can be read in one place.
"""
from __future__ import annotations

from ..artifacts import write_json
from ..config import Params
from ..estimator.registry import check_params
from . import Paths


def main(params: Params, paths: Paths) -> None:
    check_params(params)
    write_json(params.model_dump(mode="json", by_alias=True), paths.params_report, sort_keys=False)
