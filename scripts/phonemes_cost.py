"""What the phonemes stage costs, for docs/phonemes.md: the stage of each gender run on a
workspace's inputs after `dvc repro` (features, VAD segments, splits, AMs, alignments), its
outputs written to a scratch folder, timed without DVC's start-up. Also checks that the table
it writes is the workspace's own reports/phonemes/<gender>.csv, so the time is of that run.

    python scripts/phonemes_cost.py .seed_spread/seed_0   # the seed spread's default run

Writes reports/experiments/phonemes_cost/run.json: per gender the seconds (wall clock and CPU), speakers, units
analysed and repeats; the workspace, its commit and this checkout's, the load average.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
import time
from pathlib import Path

import pandas as pd
from tqdm import tqdm

from pipeline.config import load_params
from pipeline.stages import Paths, run_stage

ROOT = Path(__file__).resolve().parents[1]


def commit(folder: Path) -> str:
    """The git commit `folder` is checked out at ("" outside git)."""
    done = subprocess.run(["git", "-C", str(folder), "rev-parse", "HEAD"], capture_output=True, text=True)
    return done.stdout.strip()


def timed(workspace: Path, scratch: Path) -> dict:
    """Seconds (wall clock and CPU, all threads), speakers, units and repeats of each gender's phonemes stage."""
    params = load_params(workspace / "params.yaml")
    inputs = Paths.from_dvc_yaml(workspace / "dvc.yaml", base=workspace)
    table = {name: str(getattr(inputs, name)) for name in inputs.names()}
    table.update(phonemes=str(scratch / "phonemes"), plots=str(scratch / "plots"))
    paths = Paths(table)
    here = Path.cwd()
    os.chdir(workspace)  # data.root and face.ams are relative to the workspace
    try:
        out = {}
        for gender in tqdm(params.sfv.genders, desc="phonemes stage", unit="gender"):
            start, cpu = time.perf_counter(), time.process_time()
            run_stage("phonemes", str(gender), params, paths)
            seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
            long = pd.read_csv(scratch / "phonemes" / f"{gender}.csv")
            metrics = json.loads((scratch / "phonemes" / f"{gender}.json").read_text())[str(gender)]["phonemes"]
            committed = pd.read_csv(workspace / "reports/phonemes" / f"{gender}.csv")
            out[str(gender)] = {"seconds": round(seconds, 1), "cpu_seconds": round(cpu, 1), "speakers": metrics["speakers_aligned"],
                                "units": metrics["n_phonemes"], "repeats": params.sfv.repeats,
                                "same_table_as_workspace": bool(long.equals(committed))}
        return out
    finally:
        os.chdir(here)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("workspace", type=Path, help="a checkout after `dvc repro`")
    parser.add_argument("--out", type=Path, default=ROOT / "reports/experiments/phonemes_cost")
    args = parser.parse_args()
    workspace = args.workspace.resolve()
    with tempfile.TemporaryDirectory() as scratch:
        genders = timed(workspace, Path(scratch))
    run = {**genders, "workspace": str(workspace), "workspace_commit": commit(workspace),
           "script_commit": commit(ROOT), "load_average_1min": round(os.getloadavg()[0], 2),
           "cpus": os.cpu_count()}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "run.json").write_text(json.dumps(run, indent=2) + "\n")
    print(json.dumps(run, indent=2))


if __name__ == "__main__":
    main()
