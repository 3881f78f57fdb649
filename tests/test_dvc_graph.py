"""dvc.yaml declares every file of a stage's code, so no code change leaves a stale result."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

from pipeline.code_deps import closure, missing_deps, write_code_deps

ROOT = Path(__file__).resolve().parents[1]


def test_every_file_of_every_stages_code_is_a_declared_dep():
    assert missing_deps(ROOT) == {}, "run `sfv code-deps` to update dvc.yaml"


def test_the_closure_follows_relative_lazy_and_package_imports():
    files = closure(ROOT, "pipeline.stages.report")
    assert "pipeline/stages/__init__.py" in files and "pipeline/config.py" in files
    assert "pipeline/report/viewer.js" in files  # package data named by viewer.py
    assert "pipeline/face/ams.py" in files  # imported by pipeline/stages/__init__.py
    assert "pipeline/estimator/training.py" not in files


def test_a_missing_dep_is_found_and_writing_restores_it(tmp_path):
    for name in ("dvc.yaml", "params.yaml"):
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / "pipeline", tmp_path / "pipeline", ignore=shutil.ignore_patterns("__pycache__"))
    text = (tmp_path / "dvc.yaml").read_text()
    (tmp_path / "dvc.yaml").write_text(text.replace("      - pipeline/config.py\n", "", 1))
    assert missing_deps(tmp_path)
    write_code_deps(tmp_path)
    assert missing_deps(tmp_path) == {}
    assert (tmp_path / "dvc.yaml").read_text() == text


def test_an_unknown_key_in_params_yaml_fails_the_next_repro(tmp_path):
    """The params stage depends on the whole file, so even a key no stage reads is checked."""
    import os
    import subprocess
    import sys

    import yaml

    for name in ("dvc.yaml", "params.yaml"):
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / "pipeline", tmp_path / "pipeline", ignore=shutil.ignore_patterns("__pycache__"))
    env = {**os.environ, "PYTHONPATH": str(tmp_path), "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}

    def dvc(*args):
        return subprocess.run([sys.executable, "-m", "dvc", *args], cwd=tmp_path, env=env, capture_output=True, text=True)

    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    assert dvc("init", "-q").returncode == 0
    first = dvc("repro", "params")
    assert first.returncode == 0, first.stderr
    assert json.loads((tmp_path / "reports/params.json").read_text())["sfv"]["repeats"] == 10
    params = yaml.safe_load((tmp_path / "params.yaml").read_text())
    params["sfv"]["repeat"] = 3  # a typo of sfv.repeats
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    assert "params" in dvc("status", "params").stdout
    failed = dvc("repro", "params")
    assert failed.returncode != 0 and "sfv.repeat: unknown key" in failed.stdout + failed.stderr
