"""The code a DVC stage runs: the import closure of its module, computed so dvc.yaml cannot drift.

A stage's code is every module of the `pipeline` package that importing its module can run
(imports inside functions and the `__init__` of every package on the way included) plus the
package data those modules name in a string literal (`data/ams_96.csv`, `viewer.js`).
`sfv code-deps` writes these lists into dvc.yaml; tests/test_dvc_graph.py fails when they are
out of date.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

import yaml

from .artifacts import write_text

PACKAGE = "pipeline"
_DATA_NAME = re.compile(r"[\w/.-]+\.\w+")
_CODE_DEP = re.compile(rf"^(\s+)- {PACKAGE}/\S+\s*$")


def _module_file(root: Path, name: str) -> Path | None:
    if name != PACKAGE and not name.startswith(PACKAGE + "."):
        return None
    base = root.joinpath(*name.split("."))
    return next((p for p in (base.with_suffix(".py"), base / "__init__.py") if p.is_file()), None)


def _module_name(root: Path, path: Path) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(root: Path, path: Path, tree: ast.Module) -> set[str]:
    """Dotted names `path` imports, relative ones resolved; `from a import b` gives a and a.b."""
    name = _module_name(root, path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[:len(parts) - node.level + 1])
                base = f"{base}.{node.module}" if node.module else base
            else:
                base = node.module or ""
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def _package_data(root: Path, path: Path, tree: ast.Module) -> set[Path]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and _DATA_NAME.fullmatch(node.value):
            for candidate in (root / PACKAGE / node.value, path.parent / node.value):
                if candidate.is_file() and candidate.suffix != ".py" and root / PACKAGE in candidate.parents:
                    found.add(candidate)
    return found


def closure(root: Path, module: str) -> list[str]:
    """Files (relative to root, sorted) that importing and running `module` can touch."""
    seen: dict[Path, ast.Module] = {}
    queue = [module]
    while queue:
        parts = queue.pop().split(".")
        for i in range(1, len(parts) + 1):  # a.b.c runs a/__init__.py and a/b/__init__.py first
            path = _module_file(root, ".".join(parts[:i]))
            if path is not None and path not in seen:
                seen[path] = ast.parse(path.read_text())
                queue.extend(_imports(root, path, seen[path]))
    data = {d for path, tree in seen.items() for d in _package_data(root, path, tree)}
    return sorted(str(p.relative_to(root)) for p in set(seen) | data)


def stage_module(cmd: str) -> str | None:
    match = re.search(r"python -m (\S+)", cmd)
    return match.group(1) if match else None


def _body(spec: dict) -> dict:
    """A stage's own keys; a `foreach` stage keeps them under `do`."""
    return spec.get("do", spec)


def _resolved_deps(spec: dict, params: dict) -> list[str]:
    """Deps with ${...} filled in; per-item deps (${item}) cannot cover package files and are left out."""
    return [_resolve(d, params) for d in _body(spec).get("deps", []) if "${item" not in d]


def _resolve(dep: str, params: dict) -> str:
    """A dvc.yaml dep with its ${a.b} interpolations filled from params."""
    def value(match: re.Match) -> str:
        node = params
        for key in match.group(1).split("."):
            node = node[key]
        return str(node)
    return re.sub(r"\$\{([^}]+)\}", value, dep).rstrip("/")


def missing_deps(root: Path) -> dict[str, list[str]]:
    """Per stage of root/dvc.yaml, the files of its code that no declared dep covers."""
    stages = yaml.safe_load((root / "dvc.yaml").read_text())["stages"]
    params = yaml.safe_load((root / "params.yaml").read_text())
    out = {}
    for name, spec in stages.items():
        module = stage_module(_body(spec)["cmd"])
        if module is None:
            continue
        deps = _resolved_deps(spec, params)
        gaps = [f for f in closure(root, module) if not any(f == d or f.startswith(d + "/") for d in deps)]
        if gaps:
            out[name] = gaps
    return out


def write_code_deps(root: Path) -> dict[str, list[str]]:
    """Rewrite each stage's `pipeline/...` deps in root/dvc.yaml as its closure (first in the
    list, other deps kept in place), leaving out files another dep covers. Text-level, so
    the file's layout and comments stay. Returns the new code deps per stage."""
    stages = yaml.safe_load((root / "dvc.yaml").read_text())["stages"]
    params = yaml.safe_load((root / "params.yaml").read_text())
    lines = (root / "dvc.yaml").read_text().splitlines()
    written: dict[str, list[str]] = {}
    out: list[str] = []
    stage = None
    for i, line in enumerate(lines):
        top = re.match(r"^  (\w[\w-]*):\s*$", line)
        if top and top.group(1) in stages:
            stage = top.group(1)
        if stage and stage not in written and re.match(r"^\s+deps:\s*$", line):
            out.append(line)
            indent = re.match(r"^(\s*)", lines[i + 1]).group(1) if i + 1 < len(lines) else "      "
            module = stage_module(_body(stages[stage])["cmd"])
            others = [d for d in _resolved_deps(stages[stage], params) if not d.startswith(PACKAGE + "/")]
            code = [f for f in closure(root, module)
                    if not any(f == d or f.startswith(d + "/") for d in others)] if module else []
            written[stage] = code
            out.extend(f"{indent}- {f}" for f in code)
            continue
        if stage in written and _CODE_DEP.match(line):
            continue
        out.append(line)
    write_text("\n".join(out) + "\n", root / "dvc.yaml")
    return written
