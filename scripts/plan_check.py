"""Issue 28's target for `sfv plan`: its recall at the default run's cohort size agrees, within its
interval, with the default run's recall by oracle-r² bin. For docs/planning.md.

    python scripts/plan_check.py        # after `sfv plan` and `dvc repro`

Reads reports/plan.json and the default run's reports/selection/<sex>.csv (`z`, the declared
flag, and the oracle `r2` of every AM); writes reports/experiments/plan_check/comparison.csv
(per sex and bin: the default run's AMs and recall, the plan's mean and prediction interval at
that size, whether the run falls inside) and summary.json (the count inside, with run_record).
"""
from __future__ import annotations

import json
import math
import time
from pathlib import Path

import pandas as pd

from pipeline.artifacts import write_json
from pipeline.config import load_params
from pipeline.provenance import run_record

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "reports" / "experiments" / "plan_check"


def main() -> None:
    started = time.perf_counter()
    plan = json.loads((ROOT / "reports" / "plan.json").read_text())
    params = load_params(ROOT / "params.yaml")
    seconds = params.synth.seconds * params.synth.recordings
    rows = []
    for sex in plan["settings"]["genders"]:
        size = getattr(params.synth.speakers, sex)
        point = plan["points"][f"{sex}/{seconds:g}"].get(str(size))
        if point is None:
            raise SystemExit(f"reports/plan.json has no {size}-speaker point for {sex}: add {size} to --speakers")
        selection = pd.read_csv(ROOT / "reports" / "selection" / f"{sex}.csv")
        for b, (low, high) in plan["settings"]["r2_bins"].items():
            upper = math.inf if high == 1 else high
            inside = selection[(selection.r2 >= low) & (selection.r2 < upper)]
            recall = point["recall"][b]
            default = float(inside.z.mean()) if len(inside) else None
            rows.append({"sex": sex, "r2_bin": b, "speakers": size, "ams": len(inside), "default_recall": default,
                         "plan_mean": recall["mean"], "plan_low": recall["low"], "plan_high": recall["high"],
                         "within": "yes" if default is not None and recall["low"] - 1e-9 <= default
                         <= recall["high"] + 1e-9 else "no"})
    table = pd.DataFrame(rows)
    OUT.mkdir(parents=True, exist_ok=True)
    table.to_csv(OUT / "comparison.csv", index=False)
    summary = {"within": int((table.within == "yes").sum()), "cells": len(table),
               "interval": plan["settings"]["interval"], "world_seeds": plan["settings"]["world_seeds"],
               "plan_commit": plan["run"]["git_commit"],
               "run": run_record({"plan": "reports/plan.json", "default_run": "reports/selection/<sex>.csv"},
                                 time.perf_counter() - started)}
    write_json(summary, OUT / "summary.json")
    print(table.to_string(index=False))
    print(f"{summary['within']} of {summary['cells']} inside")


if __name__ == "__main__":
    main()
