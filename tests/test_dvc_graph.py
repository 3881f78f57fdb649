"""dvc.yaml and the code agree: every file of a stage's code is a declared dep, paths come from
one table, and the import graph has no upward arrows."""
from __future__ import annotations

import ast
import json
import re
import shutil
from pathlib import Path

import yaml

from pipeline.code_deps import closure, missing_deps, stage_modules, write_code_deps

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "pipeline"
STAGES = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]


def _body(spec: dict) -> dict:
    return spec.get("do", spec)


def _imports(path: Path) -> set[str]:
    """Modules of the package that `path` imports (relative imports resolved)."""
    module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    package = package.removesuffix(".__init__")
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[:len(parts) - node.level + 1])
                base = f"{base}.{node.module}" if node.module else base
                found.add(base)
                found.update(f"{base}.{a.name}" for a in node.names)
            elif node.module and node.module.startswith("pipeline"):
                found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("pipeline"))
    return found


def _library() -> list[Path]:
    """Every module below the stages and the command line."""
    top = {"stages", "cli.py", "benchmarks.py", "bench_embeddings.py", "code_deps.py", "params_doc.py", "predict.py"}
    return [p for p in PACKAGE.rglob("*.py") if p.relative_to(PACKAGE).parts[0] not in top]


def test_every_file_of_every_stages_code_is_a_declared_dep():
    assert missing_deps(ROOT) == {}, "run `sfv code-deps` to update dvc.yaml"


def test_the_closure_follows_relative_lazy_and_package_imports():
    files = closure(ROOT, *stage_modules("python -m pipeline.stages report"))
    assert {"pipeline/stages/__init__.py", "pipeline/stages/__main__.py", "pipeline/config.py"} <= set(files)
    assert "pipeline/report/viewer.js" in files  # package data named by viewer.py
    assert "pipeline/estimator/training.py" not in files


def test_front_end_and_geometry_stages_do_not_depend_on_estimator_code():
    """Editing the CNN's training loop must leave the features and the registered faces up to date."""
    for name in ("vad", "features", "landmarks", "register", "ams"):
        deps = _body(STAGES[name])["deps"]
        assert not [d for d in deps if d.startswith("pipeline/estimator/")], name


def test_a_missing_dep_is_found_and_writing_restores_it(tmp_path):
    for name in ("dvc.yaml", "params.yaml"):
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / "pipeline", tmp_path / "pipeline", ignore=shutil.ignore_patterns("__pycache__"))
    text = (tmp_path / "dvc.yaml").read_text()
    assert "pipeline/config.py, " in text
    (tmp_path / "dvc.yaml").write_text(text.replace("pipeline/config.py, ", "", 1))
    assert missing_deps(tmp_path)
    write_code_deps(tmp_path)
    assert missing_deps(tmp_path) == {}
    assert (tmp_path / "dvc.yaml").read_text() == text


def test_no_upward_import_arrows():
    """The library never imports the stages or the command line, and the front end, the
    geometry and the synthetic cohort never import estimator code; no stage imports another."""
    for path in _library():
        bad = {m for m in _imports(path) if m.startswith(("pipeline.stages", "pipeline.cli", "pipeline.predict",
                                                          "pipeline.benchmarks"))}
        assert not bad, (path, bad)
        if path.relative_to(PACKAGE).parts[0] in ("face", "audio", "synth"):
            assert not {m for m in _imports(path) if m.startswith("pipeline.estimator")}, path
    stage_modules = {f"pipeline.stages.{p.stem}" for p in (PACKAGE / "stages").glob("*.py")}
    for path in (PACKAGE / "stages").glob("*.py"):
        others = _imports(path) & (stage_modules - {"pipeline.stages.__init__"})
        assert not others, (path, others)


def test_stages_parse_no_arguments_and_dvc_yaml_stays_short():
    for path in (PACKAGE / "stages").glob("*.py"):
        assert "argparse" not in path.read_text(), path
    assert len((ROOT / "dvc.yaml").read_text().splitlines()) <= 450


def test_every_path_a_stage_touches_is_one_it_declares():
    """A stage module reads and writes only paths of dvc.yaml's table that its own entry names
    (deps, outs, metrics, plots), and dvc.yaml names no path the table lacks."""
    table = next(v["paths"] for v in yaml.safe_load((ROOT / "dvc.yaml").read_text())["vars"] if "paths" in v)
    for name, spec in STAGES.items():
        body = _body(spec)
        declared_text = json.dumps({k: body.get(k) for k in ("deps", "outs", "metrics", "plots")})
        declared = set(re.findall(r"\$\{paths\.(\w+)\}", declared_text))
        assert declared <= set(table), (name, declared - set(table))
        used = set(re.findall(r"\bpaths\.(\w+)", (PACKAGE / "stages" / f"{name}.py").read_text()))
        inside = {u for u in used for d in declared if Path(table[d]) in (Path(table[u]), *Path(table[u]).parents)}
        assert used == inside, (name, used - inside)


def test_the_estimator_name_is_tested_only_in_the_registry():
    from pipeline.estimator.registry import ESTIMATORS

    for path in PACKAGE.rglob("*.py"):
        if path.name == "registry.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Compare):
                constants = [c.value for c in ast.walk(node) if isinstance(c, ast.Constant)]
                assert not set(constants) & set(ESTIMATORS), (path, node.lineno)


def test_an_unknown_key_in_params_yaml_fails_the_next_repro(tmp_path):
    """The params stage depends on the whole file, so even a key no stage reads is checked."""
    import os
    import subprocess
    import sys

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
    # The estimator is asked too: a CNN cannot give the permutation test's null.
    del params["sfv"]["repeat"]
    params["sfv"]["estimator"] = "shared"
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    failed = dvc("repro", "params")
    assert failed.returncode != 0 and "sfv.test: permutation" in failed.stdout + failed.stderr


def test_the_architecture_page_shows_the_current_graph():
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "dvc", "dag", "--mermaid"], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert f"```mermaid\n{done.stdout.strip()}\n```" in (ROOT / "docs" / "architecture.md").read_text(), \
        "docs/architecture.md's graph is stale: paste `dvc dag --mermaid`"


def test_every_param_a_stage_declares_is_in_params_yaml():
    """DVC refuses to run a stage whose declared param params.yaml lacks."""
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    for name, spec in STAGES.items():
        for entry in _body(spec).get("params", []):
            if isinstance(entry, dict):  # `params.yaml:` (the whole file)
                continue
            node = params
            for key in entry.split("."):
                assert isinstance(node, dict) and key in node, (name, entry)
                node = node[key]
