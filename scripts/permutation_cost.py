"""What the sequential permutation test costs and buys on a run's world (docs/selection.md): the
train stage's null drawn twice on the same features, splits and AMs, once with a fixed
B = --fixed shufflings per AM (the test before Besag-Clifford) and once as the stage draws it
(at most `sfv.permutations`, stopping at `sfv.permutation_exceedances` exceedances). For each:
wall and CPU time (CPU is the fairer measure on a shared machine), shufflings drawn, the
smallest p, the AMs at that floor, and the AMs permutation + BH declares (with how many of
them are planted, where the world says).

Reads a workspace's DVC outputs (features, splits, AMs, and reports/selection/<g>.csv for the
planted column), so it runs on any finished run; writes reports/experiments/permutation_cost/
summary.json with the params and commit it ran at.

    python scripts/permutation_cost.py                              # this checkout's run
    python scripts/permutation_cost.py --workspace .seed_spread/seed_0
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.artifacts import read_output, read_table, write_json
from pipeline.cohort import Gender
from pipeline.config import load_params
from pipeline.estimator.data import load_features
from pipeline.estimator.null import permutation_table
from pipeline.provenance import run_record
from pipeline.selection.significance import decide, permutation_test
from pipeline.seeds import permutation_seed
from pipeline.splits import Splits
from pipeline.stages import Paths

ROOT = Path(__file__).resolve().parents[1]


def measure(splits: Splits, features: dict, targets: pd.DataFrame, permutations: int, exceedances: int,
            seed: int, alpha: float, planted: pd.Series | None, label: str) -> dict:
    """One null: its time, its size and what permutation + BH declares with it."""
    started, cpu_started = time.perf_counter(), time.process_time()
    null = permutation_table(splits.table, features, targets, permutations, exceedances, seed, label)
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    am_ids = np.array([int(c.removeprefix("am_")) for c in targets.columns])
    p = permutation_test(null, am_ids, exceedances)
    z, _ = decide(p, alpha, "bh")
    drawn = null[null["permutation"] > 0].groupby("am_id").size().reindex(am_ids, fill_value=0)
    out = {"seconds": seconds, "cpu_seconds": cpu_seconds, "permutations": permutations, "exceedances": exceedances,
           "shufflings_total": int(drawn.sum()), "shufflings_per_am_median": float(drawn.median()),
           "shufflings_per_am_max": int(drawn.max()), "ams_at_the_cap": int((drawn == permutations).sum()),
           "p_min": float(p.min()), "ams_at_p_min": int(np.isclose(p, p.min()).sum()), "declared": int(z.sum())}
    if planted is not None:
        out["declared_planted"] = int(planted.loc[am_ids[z == 1]].sum())
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workspace", type=Path, default=ROOT, help="a finished run's project folder")
    parser.add_argument("--fixed", type=int, default=1000, help="B of the fixed-B comparison (the old default)")
    parser.add_argument("--out", type=Path, default=ROOT / "reports/experiments/permutation_cost/summary.json")
    args = parser.parse_args()
    work = args.workspace.resolve()
    params = load_params(work / "params.yaml")
    paths = Paths.from_dvc_yaml(ROOT / "dvc.yaml", base=work)
    features = load_features(paths.features)
    ams = read_table(paths.ams).set_index("speaker_id")
    columns = [c for c in ams.columns if c.startswith("am_")]
    started = time.perf_counter()
    result = {}
    for gender in map(Gender, params.sfv.genders):
        splits = Splits(read_output(paths.splits / f"{gender}.csv", "splits"))
        targets = ams.loc[splits.speakers, columns]
        selection = work / "reports/selection" / f"{gender}.csv"
        table = read_table(selection) if selection.is_file() else None
        planted = table.set_index("am_id")["planted"] if table is not None and "planted" in table else None
        seed = permutation_seed(params.seed, gender)
        result[str(gender)] = {
            "fixed": measure(splits, features, targets, args.fixed, args.fixed + 1, seed, params.sfv.alpha, planted,
                             f"fixed B {gender}"),
            "sequential": measure(splits, features, targets, params.sfv.permutations, params.sfv.permutation_exceedances,
                                  seed, params.sfv.alpha, planted, f"sequential {gender}")}
        result[str(gender)]["shuffling_ratio"] = (result[str(gender)]["sequential"]["shufflings_total"]
                                                  / result[str(gender)]["fixed"]["shufflings_total"])
        result[str(gender)]["cpu_ratio"] = (result[str(gender)]["sequential"]["cpu_seconds"]
                                            / result[str(gender)]["fixed"]["cpu_seconds"])
    settings = {"workspace_seed": params.seed, "fixed_permutations": args.fixed, "alpha": params.sfv.alpha,
                "fdr": "bh", "repeats": params.sfv.repeats, "permutations": params.sfv.permutations,
                "permutation_exceedances": params.sfv.permutation_exceedances,
                "speakers": params.synth.speakers.model_dump()}
    write_json({"what": "scripts/permutation_cost.py: the train stage's permutation null with a fixed B and as "
                        "the stage draws it (Besag-Clifford), on one run's world",
                **result, "run": run_record(settings, time.perf_counter() - started)}, args.out)
    for gender, rows in result.items():
        for kind in ("fixed", "sequential"):
            r = rows[kind]
            print(f"{gender:6s} {kind:10s} {r['seconds']:7.1f} s  {r['shufflings_total']:7d} shufflings  "
                  f"p_min {r['p_min']:.2e} ({r['ams_at_p_min']} AMs)  declared {r['declared']}")


if __name__ == "__main__":
    main()
