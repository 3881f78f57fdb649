"""Each stage's wall time in one `dvc repro` of a workspace, for docs/benchmarks.md ("Run time").

A stage time stated for a world must come from a run on that world, and a `dvc repro` is
too long to repeat just to time it. So this reads the run that was made: the stages it ran,
in order, from its log (DVC's "Running stage 'NAME':" lines, and bash's `time` line `real
XmY.Zs` for the whole run); and when each stage ended, from the newest file among its outputs
(dvc.lock lists them). DVC runs one stage at a time, so a stage's time is its end less the
previous stage's end; the first stage's starts where the run did (its end less the `real`
total). Stages the log does not show running (DVC kept them) are left out. Writes
reports/experiments/stage_times/<name>.csv (stage, seconds, in run order) and <name>.json
(the total, the workspace's commit, any code or settings changed from it, and its params.yaml, so the world the times are for is
on record).

    python scripts/stage_times.py /work/lockrun /tmp/sfv/lockrun.log --name default
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
from pathlib import Path

import pandas as pd
import yaml

from pipeline.artifacts import write_json
from pipeline.provenance import CODE, git_state, run_record

ROOT = Path(__file__).resolve().parents[1]
RUNNING = re.compile(r"Running stage '([^']+)':")
REAL = re.compile(r"^real\s+(?:(\d+)h)?(\d+)m([\d.]+)s\s*$", re.M)


def ran(log: str) -> list[str]:
    """The stages a `dvc repro` log shows running, in order."""
    return RUNNING.findall(log)


def real_seconds(log: str) -> float | None:
    """The whole run's wall time from bash's `time` (None if the log has no `real` line)."""
    found = REAL.findall(log)
    if not found:
        return None
    hours, minutes, seconds = found[-1]
    return 3600 * int(hours or 0) + 60 * int(minutes) + float(seconds)


def last_write(workspace: Path, outs: list[str]) -> float:
    """The newest modification time among the files of a stage's outputs."""
    times = []
    for out in outs:
        path = workspace / out
        files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
        times += [p.stat().st_mtime for p in files]
    if not times:
        raise FileNotFoundError(f"no output of {outs} in {workspace}")
    return max(times)


def stage_times(workspace: Path, log: str) -> tuple[pd.DataFrame, float | None]:
    """(stage, seconds) in run order, and the run's total from the log."""
    lock = yaml.safe_load((workspace / "dvc.lock").read_text())["stages"]
    order = ran(log)
    missing = [s for s in order if s not in lock]
    if missing or not order:
        raise ValueError(f"the log's stages {missing or order} are not those of {workspace}/dvc.lock")
    ends = [last_write(workspace, [o["path"] for o in lock[s].get("outs", [])]) for s in order]
    if any(b < a for a, b in zip(ends, ends[1:])):
        late = [s for s, a, b in zip(order[1:], ends, ends[1:]) if b < a]
        raise ValueError(f"outputs of {late} are older than the stage before them: the workspace was "
                         f"changed after this log's run")
    total = real_seconds(log)
    start = ends[-1] - total if total is not None else float("nan")
    seconds = [e - s for e, s in zip(ends, [start, *ends[:-1]])]
    return pd.DataFrame({"stage": order, "seconds": seconds}), total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("workspace", type=Path, help="the checkout the `dvc repro` ran in")
    parser.add_argument("log", type=Path, help="its output (stdout and stderr, with bash's `time`)")
    parser.add_argument("--name", default="default", help="the run's name in reports/experiments/stage_times/")
    args = parser.parse_args()
    table, total = stage_times(args.workspace, args.log.read_text(errors="replace"))
    out = ROOT / "reports" / "experiments" / "stage_times"
    out.mkdir(parents=True, exist_ok=True)
    table.to_csv(out / f"{args.name}.csv", index=False, float_format="%.1f")
    def git(*words: str) -> str:
        return subprocess.run(["git", *words], cwd=args.workspace, capture_output=True, text=True).stdout.strip()
    workspace = {"path": str(args.workspace.resolve()), **git_state(args.workspace.resolve()),
                 # code or settings that differ from the commit (the run's own outputs do not count)
                 "changed": git("status", "--porcelain", "--", *CODE, "dvc.yaml").splitlines()}
    write_json({"stages": len(table), "total_s": total, "stage_sum_s": float(table["seconds"].sum()),
                "cpus": os.cpu_count(),  # of the machine this runs on, the one the run was made on
                "commit": git("rev-parse", "--short", "HEAD") or None, "commit_date": git("log", "-1", "--format=%cs") or None,
                "params": yaml.safe_load((args.workspace / "params.yaml").read_text()), "workspace": workspace,
                "run": run_record({"workspace": str(args.workspace), "log": str(args.log), "name": args.name})},
               out / f"{args.name}.json")
    print(table.to_string(index=False), f"\ntotal {total} s", sep="")


if __name__ == "__main__":
    main()
