"""Two experiments of a sweep on one machine: `dvc queue start -j 2` against one after the other
(issue 29). Figures for docs/reproducibility.md ("Running sweeps on one machine").

Each mode gets a fresh DVC project (git and DVC initialised, its own cache) in .queue_sweep/MODE
holding this working tree's package and dvc.yaml and the tiny world of the end-to-end test
(tests/test_pipeline_e2e.py: 6 speakers per sex, 3000-vertex template, 2 repeats of 4
iterations). The two experiments are `-S seed=1` and `-S seed=2`, the whole pipeline each.

- sequential: `dvc exp run -S seed=1`, then `-S seed=2`, as a user runs a sweep one by one;
  thread settings left to the stages (every core per stage).
- parallel: both queued (`dvc exp run --queue`), then `dvc queue start -j 2`, timed until both
  finished, with SFV_THREADS=1 (each experiment's stages one thread each).
- parallel_default (--modes): the same without SFV_THREADS, so two experiments each take every
  core.

A queue is stopped and its workers killed when its mode ends, fails or times out. Writes
reports/experiments/queue/summary.json after every mode.

    python scripts/queue_sweep.py                         # sequential, parallel
    python scripts/queue_sweep.py --modes parallel_default
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

from pipeline.artifacts import write_json
from pipeline.provenance import run_record

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "reports/experiments/queue/summary.json"
WORK = ROOT / ".queue_sweep"
SEEDS = (1, 2)
POLL_S = 2.0
# The end-to-end test's world (tests/test_pipeline_e2e.py and its SMALL synth settings).
TINY_SYNTH = {"speakers": {"male": 6, "female": 6}, "vertices": 3000,
              "scan": {"vertices": [3500, 4500], "holes": [1, 2]}, "annotation": {"mislabel_rate": 0.05},
              "sheet_faces": 2, "sheet_voices": 2, "seconds": 6.0}
TINY_SFV = {"repeats": 2, "iterations": 4, "eval_every": 2, "group_size": 2, "segment_s": [1.0, 1.5],
            "batch_size": 8, "warmup_steps": 2, "alpha": 0.45, "test": "paper", "fdr": "none",
            "evaluation_share": 0.34}
MODES = {"sequential": {}, "parallel": {"SFV_THREADS": "1"}, "parallel_default": {}}
THREAD_VARIABLES = ("SFV_THREADS", "SFV_WORKERS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                    "PYTHONPATH")


def environment(extra: dict[str, str]) -> dict[str, str]:
    """This Python's environment first on PATH, no thread settings but `extra`'s, a git identity."""
    env = {k: v for k, v in os.environ.items() if k not in THREAD_VARIABLES}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.update({"GIT_AUTHOR_NAME": "sfv sweep", "GIT_AUTHOR_EMAIL": "sweep@sfv.invalid",
                "GIT_COMMITTER_NAME": "sfv sweep", "GIT_COMMITTER_EMAIL": "sweep@sfv.invalid", **extra})
    return env


def run(folder: Path, env: dict[str, str], *cmd: str, timeout: float | None = None) -> str:
    done = subprocess.run(cmd, cwd=folder, env=env, capture_output=True, text=True, timeout=timeout)
    if done.returncode:
        raise SystemExit(f"{' '.join(cmd)} in {folder} exited {done.returncode}:\n{done.stdout[-2000:]}\n"
                         f"{done.stderr[-3000:]}")
    return done.stdout


def project(folder: Path, env: dict[str, str]) -> None:
    """A fresh git + DVC project of the package, dvc.yaml and the tiny world's params.yaml."""
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    shutil.copytree(ROOT / "pipeline", folder / "pipeline", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copyfile(ROOT / "dvc.yaml", folder / "dvc.yaml")
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["synth"].update(TINY_SYNTH)
    params["face"]["template_vertices"] = TINY_SYNTH["vertices"]
    params["sfv"].update(TINY_SFV)
    (folder / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    dvc = str(Path(sys.executable).parent / "dvc")
    run(folder, env, "git", "init", "-q")
    run(folder, env, dvc, "init", "-q")
    run(folder, env, dvc, "config", "core.analytics", "false")
    run(folder, env, "git", "add", "-A")
    run(folder, env, "git", "commit", "-q", "-m", "baseline")


def sequential(folder: Path, env: dict[str, str], timeout: float) -> float:
    dvc = str(Path(sys.executable).parent / "dvc")
    started = time.perf_counter()
    for seed in SEEDS:
        run(folder, env, dvc, "exp", "run", "-S", f"seed={seed}", timeout=timeout)
    return time.perf_counter() - started


def queue_states(folder: Path, env: dict[str, str]) -> list[str]:
    """The status column of `dvc queue status` (Queued, Running, Success, Failed)."""
    dvc = str(Path(sys.executable).parent / "dvc")
    lines = run(folder, env, dvc, "queue", "status").splitlines()
    return [line.split()[-1] for line in lines[1:] if line.split() and line.split()[-1] in
            ("Queued", "Running", "Success", "Failed")]


def processes(marker: bytes) -> dict[int, list[bytes]]:
    """Running processes whose command line has an argument containing `marker`, with it."""
    found = {}
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes().split(b"\0")
            if any(marker in arg for arg in cmdline):
                found[int(proc.name)] = cmdline
        except (OSError, ValueError):
            continue
    return found


def stage_environments(folder: Path, seen: dict[int, str | None]) -> None:
    """Add every running stage process (`python -m pipeline.stages`) of project `folder` to
    `seen`, with the SFV_THREADS of its environment: do the queue's workers hand `dvc queue
    start`'s on?"""
    for pid in processes(b"pipeline.stages"):
        if pid in seen:
            continue
        try:
            if not Path(f"/proc/{pid}/cwd").resolve().is_relative_to(folder.resolve()):
                continue
            environ = dict(item.split(b"=", 1) for item in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
                           if b"=" in item)
        except OSError:
            continue
        value = environ.get(b"SFV_THREADS")
        seen[pid] = value.decode() if value is not None else None


def parallel(folder: Path, env: dict[str, str], timeout: float, seen: dict[int, str | None]) -> float:
    """Seconds from `dvc queue start -j 2` until both experiments' runners (`dvc exp exec-run`
    processes of this project) have ended. Polled through /proc, not `dvc queue status`: a
    dvc command beside the running experiments may wait for their locks, or they for its."""
    dvc = str(Path(sys.executable).parent / "dvc")
    for seed in SEEDS:
        run(folder, env, dvc, "exp", "run", "--queue", "-S", f"seed={seed}")
    started = time.perf_counter()
    runners: set[int] = set()
    try:
        # Not through run(): the workers it starts inherit its output pipes, and reading those
        # to their end would wait for the workers to exit.
        subprocess.run([dvc, "queue", "start", "-j", "2"], cwd=folder, env=env, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while True:
            running = {pid for pid, cmdline in processes(b"exec-run").items()
                       if any(str(folder).encode() in arg for arg in cmdline)}
            runners |= running
            stage_environments(folder, seen)
            if len(runners) >= len(SEEDS) and not running:
                break
            if time.perf_counter() - started > timeout:
                raise SystemExit(f"{folder}: the queue did not finish in {timeout:.0f} s")
            time.sleep(POLL_S)
        seconds = time.perf_counter() - started
        states = queue_states(folder, env)
        if states.count("Success") != len(SEEDS):
            raise SystemExit(f"{folder}: the queue ended with {states}; dvc queue logs shows why")
        return seconds
    finally:
        subprocess.run([dvc, "queue", "stop", "--kill"], cwd=folder, env=env, capture_output=True, timeout=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--modes", nargs="+", choices=list(MODES), default=["sequential", "parallel"])
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds a mode may take")
    args = parser.parse_args()
    summary = json.loads(OUT.read_text()) if OUT.is_file() else {"modes": {}}
    for mode in args.modes:
        env = environment(MODES[mode])
        folder = WORK / mode
        project(folder, env)
        print(f"{mode}: running ...", flush=True)
        seen: dict[int, str | None] = {}
        seconds = (sequential(folder, env, args.timeout) if mode == "sequential"
                   else parallel(folder, env, args.timeout, seen))
        print(f"{mode}: {seconds:.1f} s", flush=True)
        summary["modes"][mode] = {"seconds": round(seconds, 1), "environment": MODES[mode],
                                  "stage_processes_seen": len(seen),
                                  "their_sfv_threads": sorted({str(v) for v in seen.values()}),
                                  "run": run_record({"mode": mode, "seeds": list(SEEDS), "synth": TINY_SYNTH,
                                                     "sfv": TINY_SFV}, seconds)}
        modes = summary["modes"]
        if "sequential" in modes:
            for name in ("parallel", "parallel_default"):
                if name in modes:
                    summary[f"{name}_over_sequential"] = round(modes[name]["seconds"] / modes["sequential"]["seconds"], 3)
        write_json(summary, OUT)
        shutil.rmtree(folder, ignore_errors=True)  # the queue's stopping workers may still be removing their files


if __name__ == "__main__":
    main()
