"""Quoted values in Markdown pages, rendered in place from the files they come from.

A quoted value is written

    <!--v reports/metrics.json male.nmse.all_100:.3f-->0.906<!--/v-->

The comment names the committed file, the expression over it (pipeline/pages/values.py) and a
format; the text between the comments is what a reader sees, and `sfv docs` rewrites it from
the file. Markdown renderers hide the comments, so a page reads as plain prose and tables.
Formats are Python's format specs, with `%` written the house way ("33 %") and `dur` for
seconds as "5 min 4 s"; negative numbers take the typographic minus.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

from .values import SourceError, Value, resolve

MARKER = re.compile(r"<!--v (?P<spec>[^\n]*?)-->(?P<text>[^\n]*?)<!--/v-->")
CODE_BLOCK = re.compile(r"^```.*?^```", re.S | re.M)
INLINE_CODE = re.compile(r"`[^`\n]*`")
MINUS = "\u2212"


def in_code(text: str):
    """A test of whether a position of `text` lies in a fenced block or inline code, where a
    marker is an example and not a quote."""
    spans = [m.span() for m in CODE_BLOCK.finditer(text)]
    blanked = CODE_BLOCK.sub(lambda m: " " * len(m.group(0)), text)
    spans += [m.span() for m in INLINE_CODE.finditer(blanked)]
    return lambda position: any(start <= position < end for start, end in spans)


def quotes(pattern: re.Pattern, text: str) -> list[re.Match]:
    """The matches of `pattern` outside code."""
    code = in_code(text)
    return [m for m in pattern.finditer(text) if not code(m.start())]


@dataclass(frozen=True)
class Quote:
    """One quoted value: its file, expression and format, as the page writes them."""

    source: str
    expression: str
    format: str

    @classmethod
    def parse(cls, spec: str) -> Quote:
        source, _, rest = spec.strip().partition(" ")
        if not rest.strip():
            raise SourceError(f"{spec!r}: write <!--v FILE EXPRESSION[:FORMAT]-->")
        expression, fmt = _split_format(rest.strip())
        return cls(source, expression, fmt)

    def render(self, root: Path) -> str:
        return format_value(resolve(root, self.source, self.expression), self.format)


def _split_format(text: str) -> tuple[str, str]:
    """EXPRESSION[:FORMAT]: the format follows the last colon outside brackets and quotes."""
    depth, quote, cut = 0, "", -1
    for i, ch in enumerate(text):
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == ":" and depth == 0:
            cut = i
    return (text, "") if cut < 0 else (text[:cut].strip(), text[cut + 1:].strip())


def format_value(value: Value, fmt: str) -> str:
    if isinstance(value, str):
        return format(value, fmt)
    if isinstance(value, float) and not math.isfinite(value):
        raise SourceError(f"the value is {value}")
    if fmt == "dur":
        text = _duration(float(value))
    elif fmt.endswith("%"):
        text = format(value, fmt).removesuffix("%") + " %"
    else:
        text = format(value, fmt) if fmt else (str(value) if isinstance(value, int) else f"{value:g}")
    return text.replace("-", MINUS, 1) if text.startswith("-") else text


def _duration(seconds: float) -> str:
    total = round(seconds)
    if total < 60:
        return f"{total} s"
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours} h {minutes} min" if hours else f"{minutes} min {secs} s"


@dataclass(frozen=True)
class Problem:
    page: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.page}:{self.line}: {self.message}"


def render(text: str, root: Path, page: str) -> tuple[str, list[Problem]]:
    """The page with every quoted value rewritten from its source, and what could not be."""
    problems: list[Problem] = []
    code = in_code(text)

    def replace(match: re.Match) -> str:
        if code(match.start()):
            return match.group(0)
        try:
            return f"<!--v {match['spec']}-->{Quote.parse(match['spec']).render(root)}<!--/v-->"
        except (SourceError, ValueError) as err:
            problems.append(Problem(page, text.count("\n", 0, match.start()) + 1, str(err)))
            return match.group(0)

    return MARKER.sub(replace, text), problems
