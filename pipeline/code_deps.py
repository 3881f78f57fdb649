"""The code a DVC stage runs: the import closure of its module, computed so dvc.yaml cannot drift.

A stage's code is every module of the `pipeline` package that importing its module can run
(imports inside functions and the `__init__` of every package on the way included) plus the
package data those modules name in a string literal (`data/ams_96.csv`, `viewer.js`).
`sfv code-deps` writes these lists into dvc.yaml, after each stage's other deps and behind a
comment that fences them off; tests/test_dvc_graph.py fails when they are out of date.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

import yaml

from .artifacts import write_text

PACKAGE = "pipeline"
RUNNER = f"{PACKAGE}.stages"  # `python -m pipeline.stages NAME [ITEM]`
FENCE = "# code, written by `sfv code-deps`:"
WIDTH = 118  # dvc.yaml's lines stay within this
_DATA_NAME = re.compile(r"[\w/.-]+\.\w+")
_DEPS = re.compile(r"^(\s+)deps:")
_STAGE = re.compile(r"^  (\w[\w-]*):\s*$")


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


def closure(root: Path, *modules: str) -> list[str]:
    """Files (relative to root, sorted) that importing and running `modules` can touch."""
    seen: dict[Path, ast.Module] = {}
    queue = list(modules)
    while queue:
        parts = queue.pop().split(".")
        for i in range(1, len(parts) + 1):  # a.b.c runs a/__init__.py and a/b/__init__.py first
            path = _module_file(root, ".".join(parts[:i]))
            if path is not None and path not in seen:
                seen[path] = ast.parse(path.read_text())
                queue.extend(_imports(root, path, seen[path]))
    data = {d for path, tree in seen.items() for d in _package_data(root, path, tree)}
    return sorted(str(p.relative_to(root)) for p in set(seen) | data)


def stage_modules(cmd: str) -> list[str]:
    """The modules a stage's command runs: the runner and the stage's own module."""
    match = re.search(rf"python -m {re.escape(RUNNER)} (\w+)", cmd)
    return [f"{RUNNER}.__main__", f"{RUNNER}.{match.group(1)}"] if match else []


def _body(spec: dict) -> dict:
    """A stage's own keys; a `foreach` stage keeps them under `do`."""
    return spec.get("do", spec)


def _context(root: Path) -> dict:
    """What ${...} in dvc.yaml can name: params.yaml's values and dvc.yaml's vars."""
    context = dict(yaml.safe_load((root / "params.yaml").read_text()))
    for entry in yaml.safe_load((root / "dvc.yaml").read_text()).get("vars", []):
        if isinstance(entry, dict):
            context.update(entry)
    return context


def _resolve(dep: str, context: dict) -> str:
    """A dvc.yaml dep with its ${a.b} interpolations filled in."""
    def value(match: re.Match) -> str:
        node = context
        for key in match.group(1).split("."):
            node = node[key]
        return str(node)
    return re.sub(r"\$\{([^}]+)\}", value, dep).rstrip("/")


def _data_deps(spec: dict) -> list[str]:
    """A stage's deps other than its code, as written (per-item deps cannot cover package files)."""
    return [d for d in _body(spec).get("deps", []) if not d.startswith(PACKAGE + "/")]


def _code(root: Path, spec: dict, context: dict) -> list[str]:
    """The stage's closure, less the files one of its other deps already covers."""
    modules = stage_modules(_body(spec)["cmd"])
    covered = [_resolve(d, context) for d in _data_deps(spec) if "${item" not in d]
    return [f for f in closure(root, *modules) if not any(f == d or f.startswith(d + "/") for d in covered)]


def missing_deps(root: Path) -> dict[str, list[str]]:
    """Per stage of root/dvc.yaml, the files of its code that no declared dep covers."""
    stages = yaml.safe_load((root / "dvc.yaml").read_text())["stages"]
    context = _context(root)
    out = {}
    for name, spec in stages.items():
        declared = [_resolve(d, context) for d in _body(spec).get("deps", []) if "${item" not in d]
        gaps = [f for f in closure(root, *stage_modules(_body(spec)["cmd"]))
                if not any(f == d or f.startswith(d + "/") for d in declared)]
        if gaps:
            out[name] = gaps
    return out


def _deps_block(indent: str, data: list[str], code: list[str]) -> list[str]:
    """`deps:` as one flow list: the data deps, the fence, then the code deps wrapped."""
    quoted = [f"'{d}'" if "${" in d else d for d in data]
    lines = [f"{indent}deps: [" + ", ".join(quoted) + ("," if code and quoted else "" if code else "]")]
    if not code:
        return lines
    lines.append(f"{indent}  {FENCE}")
    line = f"{indent} "
    for i, f in enumerate(code):
        piece = f + ("]" if i == len(code) - 1 else ",")
        if len(line) + 1 + len(piece) > WIDTH and line.strip():
            lines.append(line)
            line = f"{indent} "
        line += " " + piece
    lines.append(line)
    return lines


def write_code_deps(root: Path) -> dict[str, list[str]]:
    """Rewrite each stage's `deps:` in root/dvc.yaml as its other deps followed by its code
    (see `_deps_block`). Text-level, so the rest of the file's layout and comments stay.
    Returns the code deps per stage."""
    stages = yaml.safe_load((root / "dvc.yaml").read_text())["stages"]
    context = _context(root)
    lines = (root / "dvc.yaml").read_text().splitlines()
    written: dict[str, list[str]] = {}
    out: list[str] = []
    stage, i = None, 0
    while i < len(lines):
        line = lines[i]
        top = _STAGE.match(line)
        if top and top.group(1) in stages:
            stage = top.group(1)
        deps = _DEPS.match(line)
        if stage and stage not in written and deps:
            indent = deps.group(1)
            i += 1  # skip the old block: its continuation lines are deeper, or list items
            while i < len(lines) and (lines[i].startswith(indent + " ") or lines[i].startswith(indent + "- ")):
                i += 1
            written[stage] = _code(root, stages[stage], context)
            out.extend(_deps_block(indent, _data_deps(stages[stage]), written[stage]))
            continue
        out.append(line)
        i += 1
    write_text("\n".join(out) + "\n", root / "dvc.yaml")
    return written
