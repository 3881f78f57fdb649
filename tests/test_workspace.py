"""scripts/workspace.py: the DVC workspaces of the seed spread and the bit-stability study get
the project's tracked files, never its stage outputs or dvc.lock, and only what changed."""
from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
LOCK = """schema: '2.0'
stages:
  synth:
    cmd: python -m pipeline.stages synth
    outs:
    - path: data/synthetic
      md5: abc.dir
    - path: reports/synth/faces.png
      md5: def
"""


@pytest.fixture(scope="module")
def workspace():
    spec = importlib.util.spec_from_file_location("workspace", ROOT / "scripts" / "workspace.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_with_seed_sets_the_top_level_seed_only(workspace):
    text = "# the world\nseed: 0   # every stream\nsynth:\n  seed: 3\n"
    assert workspace.with_seed(text, 4) == "# the world\nseed: 4   # every stream\nsynth:\n  seed: 3\n"
    with pytest.raises(SystemExit, match="found 0"):
        workspace.with_seed("synth:\n  seed: 3\n", 1)


def test_overrides_set_nested_keys_as_dvc_exp_run_does(workspace):
    text = "seed: 0\ndata:\n  root: data/synthetic\n  on_error: fail  # fail | skip\nsfv:\n  alpha: 0.05\n"
    assert workspace.with_overrides(text, []) == text
    out = yaml.safe_load(workspace.with_overrides(text, ["data.on_error=skip", "sfv.alpha=0.01"]))
    assert out == {"seed": 0, "data": {"root": "data/synthetic", "on_error": "skip"}, "sfv": {"alpha": 0.01}}
    for bad in ("data.on_eror=skip", "nope.x=1", "data.on_error"):
        with pytest.raises(SystemExit):
            workspace.with_overrides(text, [bad])


def test_stage_outputs_reads_dvc_lock(workspace, tmp_path):
    (tmp_path / "dvc.lock").write_text(LOCK)
    assert workspace.stage_outputs(tmp_path / "dvc.lock") == {"data/synthetic": "abc.dir",
                                                              "reports/synth/faces.png": "def"}
    assert workspace.stage_outputs(tmp_path / "absent.lock") == {}


def _git(root: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)


def test_sync_copies_tracked_files_but_not_outputs(workspace, tmp_path):
    project, copy = tmp_path / "project", tmp_path / "copy"
    (project / ".dvc").mkdir(parents=True)
    (project / "reports/synth").mkdir(parents=True)
    (project / "pipeline").mkdir()
    files = {".dvc/config": "", "dvc.lock": LOCK, "params.yaml": "seed: 0\n", "pipeline/a.py": "A = 1\n",
             "pipeline/b.py": "B = 1\n", "reports/synth/faces.png": "png", "reports/notes.md": "notes\n"}
    for rel, text in files.items():
        (project / rel).write_text(text)
    _git(project, "init", "-q")
    _git(project, "add", ".")

    assert workspace.sync(copy, "seed: 2\n", project) == 5  # .dvc/config, a.py, b.py, notes.md, params.yaml
    assert (copy / "pipeline/a.py").read_text() == "A = 1\n" and (copy / "params.yaml").read_text() == "seed: 2\n"
    assert not (copy / "dvc.lock").exists() and not (copy / "reports/synth/faces.png").exists()
    assert "no_scm = true" in (copy / ".dvc/config.local").read_text()
    assert workspace.sync(copy, "seed: 2\n", project) == 0  # nothing changed: DVC's record stays valid

    (project / "pipeline/a.py").write_text("A = 2\n")  # working-tree contents, committed or not
    _git(project, "rm", "-q", "-f", "pipeline/b.py")
    assert workspace.sync(copy, "seed: 3\n", project) == 3  # a.py, b.py gone, params.yaml
    assert (copy / "pipeline/a.py").read_text() == "A = 2\n" and not (copy / "pipeline/b.py").exists()
