"""params stage: params.yaml validated as a whole, and every value this run uses.

It depends on the whole file, so a misspelt or unknown key (`-S +sfv.repeat=3`) fails the
next `dvc repro` even when no other stage reads that key. reports/params.json holds every
parameter with the defaults filled in, so a run's settings can be read in one place.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from ..artifacts import write_json
from ..config import load_params
from . import run


def main(params_path: Path, out: Path) -> None:
    params = load_params(params_path)
    write_json(params.model_dump(mode="json", by_alias=True), out, sort_keys=False)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--out", type=Path, default=Path("reports/params.json"))
    args = parser.parse_args()
    run(main, args.params, args.out)
