"""The parameter reference, docs/parameters.md, rendered from the pydantic models of config.py.

Keys, defaults, allowed values and descriptions come from each field's type, its constraints
(`Field(ge=..., lt=...)`, `Literal[...]`) and its `description`, so the reference cannot drift
from what `load_params` accepts. `sfv params-doc` writes the file; `--check` and
tests/test_params_doc.py fail when the committed file differs from the rendering.
"""
from __future__ import annotations

import typing
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from .artifacts import write_text
from .config import Params

DEFAULT_PATH = Path("docs/parameters.md")

_BOUNDS = (("gt", ">"), ("ge", "≥"), ("lt", "<"), ("le", "≤"))

_INTRO = """\
# Parameters

<!-- Generated from pipeline/config.py by `sfv params-doc`; edit the field descriptions there. -->

All parameters live in `params.yaml` and are validated when loaded (`pipeline/config.py`). An
unknown key, a wrong type, or a value out of range stops the stage with an error that names
the key, for example:

```
error: params.yaml: invalid parameters
  synth.speakers.male: Input should be greater than 0 (got 0)
```

Each table below is one section of `params.yaml`; pass a key to an experiment as
`dvc exp run -S section.key=value`. "default" is the value `pipeline/config.py` falls back on;
`params.yaml` sets the same value wherever it sets the key (tests/test_params_doc.py checks
this). Ranges marked [min, max] must also be in order, and a few rules span keys (named in
their descriptions); both are checked at load too.

This file is generated: `sfv params-doc` rewrites it from the field descriptions in
`pipeline/config.py`, and `sfv params-doc --check` (like tests/test_params_doc.py) fails when it
is stale.
"""


@dataclass(frozen=True)
class Row:
    """One parameter: its dotted key, default, allowed values and description."""
    key: str
    default: object
    allowed: str
    description: str


def _key(name: str, field: FieldInfo) -> str:
    return field.alias or name


def _is_section(annotation: object) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def sections(model: type[BaseModel] = Params, prefix: str = "",
             description: str = "") -> list[tuple[str, str, list[Row]]]:
    """(section key, its description, its rows) for `model` and every nested section, in
    declaration order; the top level's own keys form the section ""."""
    rows, nested = [], []
    for name, field in model.model_fields.items():
        key = prefix + _key(name, field)
        if _is_section(field.annotation):
            nested += sections(field.annotation, key + ".", field.description or "")
        else:
            rows.append(Row(key, field.default, _REGISTERED.get(key, lambda: allowed(field.annotation, field.metadata))(),
                            field.description or ""))
    own = [(prefix.rstrip("."), description, rows)] if rows else []
    return own + nested


def _estimators() -> str:
    from .estimator.registry import ESTIMATORS

    return "one of " + ", ".join(f"`{name}`" for name in ESTIMATORS)


# Keys whose values a registry holds, not a type: the registry says what they accept.
_REGISTERED = {"sfv.estimator": _estimators}


def all_fields(model: type[BaseModel] = Params, prefix: str = "") -> list[tuple[str, FieldInfo]]:
    """Every field of every section, nested sections included, as (dotted key, field)."""
    out = []
    for name, field in model.model_fields.items():
        key = prefix + _key(name, field)
        out.append((key, field))
        if _is_section(field.annotation):
            out += all_fields(field.annotation, key + ".")
    return out


def defaults() -> dict[str, object]:
    """Dotted key -> default of every parameter (the leaves of `Params`)."""
    return {row.key: row.default for _, _, rows in sections() for row in rows}


def values(params: Params) -> dict[str, object]:
    """Dotted key -> value of every parameter of a loaded `Params`, spelt as in params.yaml."""
    def flatten(mapping: dict, prefix: str) -> dict[str, object]:
        out = {}
        for name, value in mapping.items():
            out.update(flatten(value, f"{prefix}{name}.") if isinstance(value, dict) else {prefix + name: value})
        return out
    return flatten(params.model_dump(by_alias=True), "")


def _bounds(metadata: list) -> str:
    lower = [(sym, getattr(m, attr)) for m in metadata for attr, sym in _BOUNDS[:2] if hasattr(m, attr)]
    upper = [(sym, getattr(m, attr)) for m in metadata for attr, sym in _BOUNDS[2:] if hasattr(m, attr)]
    unknown = [m for m in metadata if not any(hasattr(m, attr) for attr, _ in _BOUNDS)]
    if unknown or len(lower) > 1 or len(upper) > 1:
        raise TypeError(f"params_doc cannot render the constraints {metadata}")
    if lower and upper:
        (lsym, lo), (usym, hi) = lower[0], upper[0]
        return f"in {'[' if lsym == '≥' else '('}{lo}, {hi}{']' if usym == '≤' else ')'}"
    if lower or upper:
        sym, bound = (lower or upper)[0]
        return f"{sym} {bound}"
    return ""


def allowed(annotation: object, metadata: list | None = None) -> str:
    """What a field accepts, in words: its type, its bounds or its allowed values."""
    metadata = list(metadata or [])
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        inner = [m for a in args[1:] for m in (a.metadata if isinstance(a, FieldInfo) else [a])]
        return allowed(args[0], metadata + inner)
    if origin is typing.Literal:
        if metadata:
            raise TypeError(f"params_doc cannot render constraints on {annotation}")
        listed = ", ".join(f"`{v}`" for v in args)
        return f"{listed} only" if len(args) == 1 else f"one of {listed}"
    if origin is tuple:
        if metadata:
            raise TypeError(f"params_doc cannot render constraints on {annotation}")
        if len(args) == 2 and args[1] is Ellipsis:
            return f"a list, each {_item(args[0])}"
        items = [_item(a) for a in args]
        if len(set(items)) == 1:
            return f"[min, max], each {items[0]}" if len(items) == 2 else f"{len(items)} values, each {items[0]}"
        return "[" + ", ".join(items) + "]"
    names = {int: "an integer", float: "a number", str: "text", bool: "true or false"}
    if annotation not in names:
        raise TypeError(f"params_doc cannot render the type {annotation}")
    bounds = _bounds(metadata)
    return f"{names[annotation]} {bounds}" if bounds else names[annotation]


def _item(annotation: object) -> str:
    text = allowed(annotation)
    return text.replace("one of ", "") if typing.get_origin(annotation) is typing.Literal else text


def format_value(value: object) -> str:
    """A value as params.yaml would spell it."""
    if isinstance(value, tuple):
        return "[" + ", ".join(format_value(v) for v in value) + "]"
    if isinstance(value, str):
        return value if value else '""'
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def render() -> str:
    """The markdown reference: the introduction, then one table per section."""
    parts = [_INTRO]
    for key, description, rows in sections():
        title = "Top level" if not key else f"`{key}`"
        parts.append(f"## {title}\n")
        if description:
            parts.append(f"{description[0].upper()}{description[1:]}.\n")
        lines = ["| key | default | allowed | description |", "|---|---|---|---|"]
        for row in rows:
            lines.append(f"| `{row.key}` | `{_cell(format_value(row.default))}` | {_cell(row.allowed)} | "
                         f"{_cell(row.description)} |")
        parts.append("\n".join(lines) + "\n")
    return "\n".join(parts)


def write(path: Path = DEFAULT_PATH) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text(render(), path)


def is_current(path: Path = DEFAULT_PATH) -> bool:
    """True when `path` holds exactly the rendering."""
    return path.is_file() and path.read_text() == render()
