"""Helpers of the experiment scripts that run the whole pipeline elsewhere (imported, not run):
a workspace is a DVC project of its own (no git) holding a copy of this project's tracked files
as they are in the working tree, with its own params.yaml, dvc.lock and DVC cache. Copying only
what changed keeps DVC's record valid, so a second `dvc repro` there re-runs only the stages a
code or params change touches. seed_spread.py and bit_stability.py use it."""
from __future__ import annotations

import filecmp
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from pipeline.provenance import git_state

ROOT = Path(__file__).resolve().parents[1]
SYNCED = ".workspace_files"  # in a workspace: the project files copied there last time


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, text=True).stdout


def commit() -> tuple[str, bool]:
    """This project's HEAD and whether its code differs from it (pipeline.provenance's rule)."""
    state = git_state(ROOT)
    return state["git_commit"], bool(state["uncommitted_changes"])


def dvc_command() -> str:
    """The dvc of this Python's environment, else the one on PATH."""
    beside = Path(sys.executable).parent / "dvc"
    return str(beside) if beside.exists() else "dvc"


def stage_outputs(lock: Path) -> dict[str, str]:
    """Every output path dvc.lock records (metrics and plots included), with its md5."""
    if not lock.is_file():
        return {}
    stages = (yaml.safe_load(lock.read_text()) or {}).get("stages", {})
    return {out["path"]: out.get("md5", "") for stage in stages.values() for out in stage.get("outs", [])}


def _under(path: str, roots: set[str]) -> bool:
    return any(path == r or path.startswith(r.rstrip("/") + "/") for r in roots)


def with_seed(params_yaml: str, seed: int) -> str:
    """params.yaml's text with its top-level `seed:` set (comments and layout kept)."""
    text, n = re.subn(r"(?m)^seed:[^\S\n]*\S+", f"seed: {seed}", params_yaml)
    if n != 1:
        raise SystemExit(f"params.yaml: expected one top-level `seed:` line, found {n}")
    return text


def with_overrides(params_yaml: str, overrides: list[str]) -> str:
    """params.yaml's text with `KEY=VALUE` overrides set, as `dvc exp run -S` takes them (dotted
    keys, YAML values). Without overrides the text is returned as it is (comments kept)."""
    if not overrides:
        return params_yaml
    params = yaml.safe_load(params_yaml)
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"--set {item!r}: expected KEY=VALUE")
        *parents, leaf = key.split(".")
        node = params
        for part in parents:
            if not isinstance(node.get(part), dict):
                raise SystemExit(f"--set {item!r}: params.yaml has no section {part!r}")
            node = node[part]
        if leaf not in node:
            raise SystemExit(f"--set {item!r}: params.yaml has no key {key!r}")
        node[leaf] = yaml.safe_load(value)
    return yaml.safe_dump(params, sort_keys=False)


def sync(workspace: Path, params_yaml: str, root: Path) -> int:
    """Copy the files git tracks in project `root` (working-tree contents) into `workspace`, but
    not its dvc.lock, nor files a stage writes (the workspace's own runs own those); write
    `params_yaml` as its params.yaml. Files `root` no longer tracks go. Returns how many files
    changed."""
    workspace.mkdir(parents=True, exist_ok=True)
    first = not (workspace / ".dvc").exists()
    outputs = set(stage_outputs(root / "dvc.lock")) | set(stage_outputs(workspace / "dvc.lock"))
    tracked = [p for p in git(root, "ls-files", "-z").split("\0") if p and (root / p).is_file()]
    wanted = sorted(p for p in tracked if p not in ("dvc.lock", "params.yaml") and not _under(p, outputs))
    changed = 0
    for rel in wanted:
        source, target = root / rel, workspace / rel
        if not target.exists() or not filecmp.cmp(source, target, shallow=False):
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
            changed += 1
    manifest = workspace / SYNCED
    for rel in (manifest.read_text().split("\n") if manifest.exists() else []):
        if rel and rel not in wanted and (workspace / rel).is_file():
            (workspace / rel).unlink()
            changed += 1
    manifest.write_text("\n".join(wanted) + "\n")
    if not (workspace / "params.yaml").exists() or (workspace / "params.yaml").read_text() != params_yaml:
        (workspace / "params.yaml").write_text(params_yaml)
        changed += 1
    if first:  # a DVC project without git: the workspace is a copy, not a clone
        (workspace / ".dvc/config.local").write_text("[core]\n    no_scm = true\n")
    return changed


def run_env(workspace: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The stages run this Python with the workspace's copy of the package (and `extra` set)."""
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = str(workspace)
    env.update(extra or {})
    return env


def repro(workspace: Path, label: str, extra_env: dict[str, str] | None = None) -> list[str]:
    """`dvc repro` in the workspace, its output shown as it comes (each line led by `label`) and
    kept in repro.log; the stages it ran."""
    ran = []
    with open(workspace / "repro.log", "w") as log:
        process = subprocess.Popen([dvc_command(), "repro"], cwd=workspace, env=run_env(workspace, extra_env),
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)
        for line in process.stdout:
            sys.stdout.write(f"[{label}] {line}")
            sys.stdout.flush()
            log.write(line)
            ran += re.findall(r"Running stage '([^']+)'", line)
        if process.wait() != 0:
            raise SystemExit(f"{label}: dvc repro failed (exit {process.returncode}); see {workspace / 'repro.log'}")
    return ran


def metrics(workspace: Path) -> dict[str, dict]:
    """The workspace's metric files, as `dvc metrics show --json` reads them."""
    shown = json.loads(subprocess.run([dvc_command(), "metrics", "show", "--json"], cwd=workspace,
                                      env=run_env(workspace), check=True, capture_output=True, text=True).stdout)
    (files,) = [rev["data"] for rev in shown.values()]
    broken = {name: entry["error"] for name, entry in files.items() if "error" in entry}
    if broken:
        raise SystemExit(f"{workspace}: unreadable metrics {broken}")
    return {name: entry["data"] for name, entry in files.items()}
