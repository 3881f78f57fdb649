"""Where an experiment's numbers came from: the git commit a script ran at and its settings.

A results page quotes an experiment's output file (docs/results-pages.md); the file carries the
commit and the parameters it was made with, so a figure can be traced and re-made.
"""
from __future__ import annotations

import os
import platform
import subprocess
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


CODE = ("pipeline", "scripts", "tests", "params.yaml")  # what makes the numbers; pages edited meanwhile do not


def git_state(directory: Path = ROOT) -> dict[str, Any]:
    """The commit checked out in `directory` and whether its code (CODE) differs from it (None
    outside a git checkout)."""
    def git(*args: str) -> str | None:
        try:
            return subprocess.run(["git", *args], cwd=directory, capture_output=True, text=True,
                                  check=True).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            return None
    commit = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no", "--", *CODE)
    return {"git_commit": commit, "uncommitted_changes": None if status is None else bool(status)}


# The checkout as it was when the experiment started (scripts import this module first thing), so
# a commit made while a long run goes on is not mistaken for the one it ran at.
AT_START = git_state()


def run_record(settings: dict[str, Any], seconds: float | None = None) -> dict[str, Any]:
    """The block an experiment writes beside its numbers: the commit when it started, settings,
    wall time, the process's CPU time so far (less dependent on a shared machine's load), machine."""
    return {**AT_START, "settings": settings, "wall_seconds": seconds, "cpu_seconds": time.process_time(),
            "machine": {"python": platform.python_version(), "cpus": _cpus()}}


def _cpus() -> int | None:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
