"""The value a results page quotes, read from the committed file it comes from.

A page names a file and an expression over it. JSON and YAML files are read as nested
mappings: `male.nmse.all_100`, `estimators.stats_ridge.male["r2>=0.5"].recall`, and plain
arithmetic between such paths (`male.baseline.mean_face_mm - male.reconstruction.vertex_error_mm`).
CSV files are read as a table: an aggregate over a column, restricted by a condition on
the columns (`mean(mean_ratio, r2 >= 0.5)`, `count((z == 1) & (planted == 0))`,
`value(label, am_id == 45)`). A Python module is read for its module-level constants written
as literals (`PLANTED_R2`, `R2_BINS[1]`), so a page states a definition where the code keeps
it. Expressions are parsed with `ast` and only these forms are evaluated (a module is parsed,
never imported), so a page cannot run code.
"""
from __future__ import annotations

import ast
import json
import operator
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

Value = float | int | str | bool

_ARITHMETIC = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
               ast.Pow: operator.pow}
_COMPARE = {ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt, ast.GtE: operator.ge,
            ast.Eq: operator.eq, ast.NotEq: operator.ne}
_LOGIC = {ast.BitAnd: operator.and_, ast.BitOr: operator.or_}


class SourceError(ValueError):
    """A quoted value whose file or expression does not resolve."""


def resolve(root: Path, source: str, expression: str) -> Value:
    """The value of `expression` over the file `source` (relative to `root`)."""
    path = root / source
    if not path.is_file():
        raise SourceError(f"{source}: no such file")
    try:
        tree = ast.parse(expression, mode="eval").body
    except SyntaxError as err:
        raise SourceError(f"{source}: cannot parse {expression!r} ({err.msg})") from None
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            return _table_value(tree, _read_table(path))
        if suffix in (".json", ".yaml", ".yml"):
            return _tree_value(tree, _read_tree(path))
        if suffix == ".py":
            return _tree_value(tree, _read_constants(path))
    except (KeyError, IndexError, TypeError) as err:
        raise SourceError(f"{source}: {expression!r}: {err}") from None
    except (SyntaxError, yaml.YAMLError, json.JSONDecodeError) as err:  # a source that does not parse
        raise SourceError(f"{source}: cannot read it ({type(err).__name__}: {err})") from None
    raise SourceError(f"{source}: only .json, .yaml, .csv and .py files can be quoted")


@lru_cache(maxsize=256)
def _read_tree(path: Path) -> object:
    text = path.read_text()
    return json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)


@lru_cache(maxsize=256)
def _read_constants(path: Path) -> dict:
    """A module's top-level names bound to literals (numbers, strings, tuples, dicts of them)."""
    out = {}
    for node in ast.parse(path.read_text()).body:
        target = node.targets[0] if isinstance(node, ast.Assign) and len(node.targets) == 1 else \
            node.target if isinstance(node, ast.AnnAssign) and node.value is not None else None
        if isinstance(target, ast.Name):
            try:
                out[target.id] = _lists(ast.literal_eval(node.value))
            except ValueError:
                continue  # not a literal
    return out


def _lists(value: object) -> object:
    if isinstance(value, tuple | list):
        return [_lists(v) for v in value]
    if isinstance(value, dict):
        return {k: _lists(v) for k, v in value.items()}
    return value


@lru_cache(maxsize=256)
def _read_table(path: Path) -> pd.DataFrame:
    return pd.read_csv(path)


def clear_cache() -> None:
    """Forget files read so far (a renderer run reads each source once)."""
    _read_tree.cache_clear()
    _read_table.cache_clear()
    _read_constants.cache_clear()


def _tree_value(node: ast.expr, data: object) -> Value:
    """Paths into nested mappings/lists, numbers, and arithmetic on them."""
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
        return node.value
    if isinstance(node, ast.BinOp) and type(node.op) in _ARITHMETIC:
        return _ARITHMETIC[type(node.op)](_tree_value(node.left, data), _tree_value(node.right, data))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return -_tree_value(node.operand, data)
    found = _path(node, data)
    if isinstance(found, dict | list) or found is None:
        raise SourceError(f"{ast.unparse(node)} is {'null' if found is None else 'not a single value'}")
    return found


def _path(node: ast.expr, data: object) -> object:
    if isinstance(node, ast.Name):
        return _child(data, node.id)
    if isinstance(node, ast.Attribute):
        return _child(_path(node.value, data), node.attr)
    if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant):
        return _child(_path(node.value, data), node.slice.value)
    raise SourceError(f"unsupported expression {ast.unparse(node)!r}")


def _child(data: object, key: str | int) -> object:
    if isinstance(data, dict):
        if key not in data:
            raise KeyError(f"no key {key!r} (has {', '.join(map(str, list(data)[:8]))})")
        return data[key]
    if isinstance(data, list) and isinstance(key, int):
        return data[key]
    raise KeyError(f"{key!r} below a single value")


_AGGREGATES = {"mean": lambda s: s.mean(), "sum": lambda s: s.sum(), "min": lambda s: s.min(),
               "max": lambda s: s.max(), "median": lambda s: s.median(), "sd": lambda s: s.std(ddof=1)}


def _table_value(node: ast.expr, table: pd.DataFrame) -> Value:
    """An aggregate of a column over the rows a condition keeps, and arithmetic on aggregates."""
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
        return node.value
    if isinstance(node, ast.BinOp) and type(node.op) in _ARITHMETIC:
        return _ARITHMETIC[type(node.op)](_table_value(node.left, table), _table_value(node.right, table))
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
        raise SourceError(f"a table is quoted through an aggregate, e.g. mean(column, condition); "
                          f"got {ast.unparse(node)!r}")
    name, args = node.func.id, node.args
    if name == "count":
        if len(args) > 1:
            raise SourceError("count(condition) takes one condition")
        return int(_rows(args[0] if args else None, table).sum())
    if name == "share":
        if len(args) != 1:
            raise SourceError("share(condition) takes one condition")
        return float(_rows(args[0], table).mean())
    if len(args) not in (1, 2):
        raise SourceError(f"{name}(column[, condition]) takes a column and an optional condition")
    column = _column(args[0], table)[_rows(args[1] if len(args) == 2 else None, table)]
    if name == "value":
        if len(column) != 1:
            raise SourceError(f"value(...) needs exactly one row, the condition keeps {len(column)}")
        return _scalar(column.iloc[0])
    if name not in _AGGREGATES:
        raise SourceError(f"unknown aggregate {name!r}; use count, share, value or {', '.join(_AGGREGATES)}")
    if column.empty:
        raise SourceError(f"{ast.unparse(node)}: the condition keeps no rows")
    return _scalar(_AGGREGATES[name](column))


def _rows(node: ast.expr | None, table: pd.DataFrame) -> pd.Series:
    if node is None:
        return pd.Series(True, index=table.index)
    kept = _column(node, table)
    if kept.dtype != bool:
        raise SourceError(f"{ast.unparse(node)!r} is not a condition")
    return kept


def _column(node: ast.expr, table: pd.DataFrame) -> pd.Series | Value:
    """A column, or a row-wise expression of columns (comparison, &, |, arithmetic)."""
    if isinstance(node, ast.Name):
        if node.id not in table.columns:
            raise KeyError(f"no column {node.id!r} (has {', '.join(map(str, table.columns[:12]))})")
        return table[node.id]
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Compare):
        if len(node.ops) > 1 or any(isinstance(n, ast.BinOp) and type(n.op) in _LOGIC
                                    for n in [node.left, *node.comparators]):
            raise SourceError(f"{ast.unparse(node)!r}: & and | bind before comparisons, as in Python; "
                              f"parenthesise each comparison: (z == 1) & (r2 >= 0.5)")
        if type(node.ops[0]) in _COMPARE:
            return _COMPARE[type(node.ops[0])](_column(node.left, table), _column(node.comparators[0], table))
    if isinstance(node, ast.BinOp) and type(node.op) in _LOGIC | _ARITHMETIC:
        return {**_LOGIC, **_ARITHMETIC}[type(node.op)](_column(node.left, table), _column(node.right, table))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Invert | ast.USub):
        operand = _column(node.operand, table)
        return ~operand if isinstance(node.op, ast.Invert) else -operand
    raise SourceError(f"unsupported row expression {ast.unparse(node)!r}")


def _scalar(value: object) -> Value:
    return value.item() if isinstance(value, np.generic) else value
