"""dvc.yaml declares every file of a stage's code, so no code change leaves a stale result."""
from __future__ import annotations

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
