"""Every metric's spread over K world seeds: the default pipeline run with `seed` = 0 .. K-1.

`seed` draws the whole world: the synthetic cohort (person i from (seed, i), the oracle from
(seed, 2^31)), the splits, every repeat, the null and the bootstrap (pipeline/seeds.py). Seed
0 is the default run. Each seed has a workspace of its own, `.seed_spread/seed_<k>/` (git- and
DVC-ignored): a copy of this project's tracked files as they are in the working tree, with
params.yaml's `seed` set, its own dvc.lock and DVC cache, and `dvc repro` run there. After a
code change a re-run copies the changed files and DVC re-runs only the stages they touch.

Writes reports/experiments/seeds/summary.json (every metric of `dvc metrics show`: mean, SD
(ddof = 1), min, max and values per seed, plus the headline subset with its 2-SD noise
threshold, the params, K, the seeds and the git commit) and reports/experiments/seeds/per_seed.csv
(seed, file, key, value), and appends the wall time to reports/experiments/wall_time.txt.

    python scripts/seed_spread.py            # K = 5: seeds 0..4
    python scripts/seed_spread.py -k 10      # seeds 0..9 (the first 5 are up to date already)
    python scripts/seed_spread.py --set data.on_error=skip   # every seed with this override

An override applies to every seed (summary.json requires the seeds' params to differ in `seed`
alone) and is recorded there with the speakers each seed skipped.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from pipeline.artifacts import read_table, write_csv, write_json
from pipeline.spread import long_table, seed_record, with_derived
from workspace import ROOT, commit, metrics, repro, sync, with_overrides, with_seed

WORKSPACES = ROOT / ".seed_spread"
OUT = ROOT / "reports/experiments/seeds"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-k", type=int, default=5, help="number of world seeds, 0..K-1 (default 5)")
    parser.add_argument("--workspaces", type=Path, default=WORKSPACES, help="one folder per seed lives here")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="a params.yaml override for every seed, as `dvc exp run -S` (repeatable)")
    args = parser.parse_args()
    if args.k < 2:
        parser.error("-k must be at least 2 (an SD needs two seeds)")
    seeds = list(range(args.k))
    head, uncommitted = commit()
    if uncommitted:
        print("warning: the working tree has uncommitted changes; summary.json records the commit and that flag")

    started = time.perf_counter()
    per_seed: dict[int, dict[str, dict]] = {}
    params: dict[int, dict] = {}
    skipped: dict[int, list[dict]] = {}
    base = with_overrides((ROOT / "params.yaml").read_text(), args.overrides)
    ran: dict[int, list[str]] = {}
    for i, seed in enumerate(seeds, 1):
        workspace = args.workspaces / f"seed_{seed}"
        changed = sync(workspace, with_seed(base, seed), ROOT)
        print(f"== seed {seed} ({i}/{len(seeds)}): {changed} files updated in {workspace}; dvc repro", flush=True)
        seed_started = time.perf_counter()
        ran[seed] = repro(workspace, f"seed {seed}")
        print(f"== seed {seed}: {len(ran[seed])} stages run in {time.perf_counter() - seed_started:.0f} s", flush=True)
        per_seed[seed] = metrics(workspace)
        params[seed] = json.loads((workspace / "reports/params.json").read_text())
        skipped[seed] = [row for name in ("skipped.csv", "skipped_faces.csv")
                         for row in read_table(workspace / "reports" / name).to_dict("records")]
    wall_s = time.perf_counter() - started

    runs = with_derived(per_seed, list(params[seeds[0]]["sfv"]["genders"]))
    record = {**seed_record(runs, params, head, uncommitted), "wall_s": round(wall_s),
              "stages_run": {str(seed): len(ran[seed]) for seed in seeds}, "overrides": args.overrides,
              "skipped": {str(seed): skipped[seed] for seed in seeds}}
    write_json(record, args.out / "summary.json")
    write_csv(long_table(runs), args.out / "per_seed.csv", float_format=None)

    stages_run = sorted({len(r) for r in ran.values()})
    line = (f"seeds: {wall_s:.0f} s (K = {args.k}, seeds {seeds[0]}-{seeds[-1]}, "
            f"{'/'.join(map(str, stages_run))} stages run per seed, at {head[:7]})")
    wall_file = ROOT / "reports/experiments/wall_time.txt"
    kept = [x for x in wall_file.read_text().splitlines() if not x.startswith("seeds: ")] if wall_file.exists() else []
    wall_file.write_text("\n".join(kept + [line]) + "\n")
    print(line)
    for key, stats in record["headline"].items():
        sd = "-" if stats["sd"] is None else f"{stats['sd']:.4f}"  # a key only one seed has
        print(f"{key:70s} {stats['mean']:10.4f} ± {sd}  [{stats['min']:.4f}, {stats['max']:.4f}]")


if __name__ == "__main__":
    main()
