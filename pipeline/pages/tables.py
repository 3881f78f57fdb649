"""Whole Markdown tables rendered from a committed CSV file.

    <!--table reports/selection/male.csv | am_id as AM | label | mean_ratio:.3f as mean ratio | where z == 1-->
    | AM | label | mean ratio |
    |---:|---|---:|
    | 3 | 15-19 | 0.912 |
    <!--/table-->

Each `|`-separated item after the file is a column (`name[:format] [as header]`) or the one
`where CONDITION` over the columns (values.py's row expressions). Rows keep the file's order.
"""
from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .markers import Problem, format_value, in_code
from .values import SourceError, _column, _read_table

TABLE = re.compile(r"<!--table (?P<spec>[^\n]*?)-->\n(?P<body>.*?)<!--/table-->", re.S)


@dataclass(frozen=True)
class Column:
    name: str
    format: str
    header: str


@dataclass(frozen=True)
class TableQuote:
    source: str
    columns: tuple[Column, ...]
    where: str

    @classmethod
    def parse(cls, spec: str) -> TableQuote:
        source, *items = [part.strip() for part in spec.split(" | ")]
        columns, where = [], ""
        for item in items:
            if item.startswith("where "):
                where = item.removeprefix("where ").strip()
                continue
            field, _, header = item.partition(" as ")
            name, _, fmt = field.strip().partition(":")
            columns.append(Column(name.strip(), fmt.strip(), header.strip() or name.strip()))
        if not columns:
            raise SourceError(f"{spec!r}: name at least one column: <!--table FILE | column[:format] [as header]-->")
        return cls(source, tuple(columns), where)

    def render(self, root: Path) -> str:
        path = root / self.source
        if not path.is_file() or path.suffix.lower() != ".csv":
            raise SourceError(f"{self.source}: no such CSV file")
        table = _read_table(path)
        if self.where:
            kept = _column(ast.parse(self.where, mode="eval").body, table)
            if not isinstance(kept, pd.Series) or kept.dtype != bool:
                raise SourceError(f"{self.source}: where {self.where!r} is not a condition")
            table = table[kept]
        missing = [c.name for c in self.columns if c.name not in table.columns]
        if missing:
            raise SourceError(f"{self.source}: no columns {missing}")
        numeric = [pd.api.types.is_numeric_dtype(table[c.name]) for c in self.columns]
        lines = ["| " + " | ".join(c.header for c in self.columns) + " |",
                 "|" + "|".join("---:" if n else "---" for n in numeric) + "|"]
        for _, row in table.iterrows():
            cells = [_cell(row[c.name], c.format) for c in self.columns]
            lines.append("| " + " | ".join(cells) + " |")
        return "\n".join(lines) + "\n"


def _cell(value: object, fmt: str) -> str:
    """A formatted cell; an empty one (NaN in the file) is a dash."""
    if pd.isna(value):
        return "—"
    return format_value(value.item() if hasattr(value, "item") else value, fmt)


def render_tables(text: str, root: Path, page: str) -> tuple[str, list[Problem]]:
    """The page with every table block rewritten from its CSV, and what could not be."""
    problems: list[Problem] = []
    code = in_code(text)

    def replace(match: re.Match) -> str:
        if code(match.start()):
            return match.group(0)
        try:
            body = TableQuote.parse(match["spec"]).render(root)
        except (SourceError, ValueError, SyntaxError) as err:
            problems.append(Problem(page, text.count("\n", 0, match.start()) + 1, str(err)))
            return match.group(0)
        return f"<!--table {match['spec']}-->\n{body}<!--/table-->"

    return TABLE.sub(replace, text), problems
