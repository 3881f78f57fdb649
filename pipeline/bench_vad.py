"""`sfv bench-vad`: the vad stage beside a busy neighbour, with this code's thread use and with
the code before it (issue 29).

Each run is the stage as DVC runs it, `python -m pipeline.stages vad` in a process of its own,
timed from start to exit, on one synthetic world. The old code is taken from git (`old`, a
commit): there Silero ran on the process's default torch threads and the speakers one after
the other. The neighbour is another process doing torch float32 matmuls on torch's default
thread count, at the same priority, as a second experiment of a `dvc queue start -j 2` sweep
would be. Every run's segments table is compared with the first's, byte for byte.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from io import BytesIO
from pathlib import Path

import yaml

PROJECT = Path(__file__).resolve().parents[1]
NEIGHBOUR = ("import torch\n"
             "a = torch.randn(1024, 1024)\n"
             "while True:\n"
             "    a @ a\n")
NEIGHBOUR_WARMUP_S = 2.0  # the neighbour's torch import and first products, before a timed run starts
THREAD_VARIABLES = ("SFV_THREADS", "SFV_WORKERS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def bench_vad(speakers: int, seconds: float, seed: int, repeats: int, old: str) -> dict:
    """Wall seconds of the vad stage on a world of `speakers` per sex (recordings of `seconds`),
    `repeats` times in each of four runs: this code alone and beside the neighbour, the code at
    commit `old` alone and beside it. Also the same runs' segments' md5 and, for this code,
    SFV_THREADS=1 against 2."""
    world = {"seed": seed, "synth": {"speakers": {"male": speakers, "female": speakers}, "seconds": seconds,
                                     "vertices": 3000, "scan": {"vertices": [3500, 4500]}}}
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        new, before = _code(base / "new", None), _code(base / "old", old)
        (new / "params.yaml").write_text(yaml.safe_dump(world))
        _run(new, ["synth"], {})
        root = str(new / "data/synthetic")
        recordings = sum(len(row.split(";")) for row in _manifest_audio(new / "data/synthetic"))
        for code in (new, before):
            (code / "params.yaml").write_text(yaml.safe_dump({**world, "data": {"root": root}}))
        runs = {"alone": (new, False), "busy_neighbour": (new, True),
                "old_alone": (before, False), "old_busy_neighbour": (before, True)}
        seconds_of: dict[str, list[float]] = {name: [] for name in runs}
        digests: dict[str, set[str]] = {name: set() for name in runs}
        for _ in range(repeats):  # interleaved, so a change in the machine's load touches every run alike
            for name, (code, busy) in runs.items():
                seconds_of[name].append(_timed_vad(code, busy, {}))
                digests[name].add(_md5(_segments(code)))
        for threads in ("1", "2"):
            _timed_vad(new, False, {"SFV_THREADS": threads})
            digests[f"sfv_threads_{threads}"] = {_md5(_segments(new))}
    summary = {name: {"median_s": statistics.median(s), "min_s": min(s), "max_s": max(s), "runs_s": s}
               for name, s in seconds_of.items()}
    alone = summary["alone"]["median_s"]
    every_digest = set().union(*digests.values())
    return {"speakers_per_sex": speakers, "recording_s": seconds, "recordings": recordings, "seed": seed,
            "repeats": repeats, "old_commit": old, "cores": len(os.sched_getaffinity(0)), **summary,
            "busy_over_alone": summary["busy_neighbour"]["median_s"] / alone,
            "old_busy_over_alone": summary["old_busy_neighbour"]["median_s"] / alone,
            "alone_over_old_alone": alone / summary["old_alone"]["median_s"],
            "segments_md5": {name: sorted(d) for name, d in digests.items()},
            "segments_identical": len(every_digest) == 1}


def _code(folder: Path, commit: str | None) -> Path:
    """A folder holding the package and dvc.yaml: this working tree's (commit None), or `commit`'s."""
    folder.mkdir()
    if commit is None:
        shutil.copytree(PROJECT / "pipeline", folder / "pipeline", ignore=shutil.ignore_patterns("__pycache__"))
        shutil.copyfile(PROJECT / "dvc.yaml", folder / "dvc.yaml")
        return folder
    archive = subprocess.run(["git", "archive", commit, "pipeline", "dvc.yaml"], cwd=PROJECT, check=True,
                             capture_output=True).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(folder, filter="data")
    return folder


def _manifest_audio(root: Path) -> list[str]:
    import pandas as pd

    return list(pd.read_csv(root / "manifest.csv").audio)


def _clean_env(env: dict[str, str]) -> dict[str, str]:
    """This process's environment without the thread and pool settings (a run sets its own)."""
    return {**{k: v for k, v in os.environ.items() if k not in THREAD_VARIABLES}, **env}


def _run(code: Path, args: list[str], env: dict[str, str]) -> None:
    subprocess.run([sys.executable, "-m", "pipeline.stages", *args], cwd=code, check=True,
                   env=_clean_env({"PYTHONPATH": str(code), **env}),
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _timed_vad(code: Path, busy: bool, env: dict[str, str]) -> float:
    neighbour = subprocess.Popen([sys.executable, "-c", NEIGHBOUR], env=_clean_env({})) if busy else None
    try:
        if neighbour:
            time.sleep(NEIGHBOUR_WARMUP_S)
        started = time.perf_counter()
        _run(code, ["vad"], env)
        return time.perf_counter() - started
    finally:
        if neighbour:
            neighbour.kill()
            neighbour.wait()


def _segments(code: Path) -> Path:
    """The segments table a vad stage of `code` writes (its dvc.yaml's `vars: - paths:` table)."""
    (table,) = [v["paths"] for v in yaml.safe_load((code / "dvc.yaml").read_text())["vars"]
                if isinstance(v, dict) and "paths" in v]
    return code / table["segments"]


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()
