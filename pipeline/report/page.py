"""One self-contained HTML page: escaped tables, PNGs inlined as data URIs, inline CSS.

The page must open offline from a file: nothing refers to the network or to other files.
"""
from __future__ import annotations

import base64
import html
import subprocess
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path

import pandas as pd

CSS = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 0 auto; max-width: 1100px; padding: 1em 2em; color: #222; }
h1 { margin-bottom: 0.2em; } h2 { border-bottom: 1px solid #ccc; padding-top: 0.6em; }
nav a { margin-right: 1em; } .meta { color: #555; }
table { border-collapse: collapse; margin: 0.6em 0 1em; font-size: 13px; }
th, td { border: 1px solid #ddd; padding: 3px 8px; text-align: right; }
th { background: #f4f4f4; } td.text, th.text { text-align: left; }
img { max-width: 100%; border: 1px solid #eee; margin: 0.4em 0; }
pre { background: #f7f7f7; padding: 0.8em; overflow-x: auto; font-size: 12px; }
.note { color: #555; font-size: 13px; }
.viewer-panels { display: flex; gap: 1em; flex-wrap: wrap; }
.viewer figure { margin: 0; } .viewer canvas { border: 1px solid #ddd; cursor: grab; touch-action: none; }
.viewer figcaption { font-size: 12px; color: #555; max-width: 420px; }
.colour-bar { display: flex; align-items: center; gap: 0.5em; font-size: 12px; margin-top: 0.5em; }
.colour-bar div { width: 320px; height: 14px; border: 1px solid #ccc; }
.hint { font-size: 12px; color: #777; }
"""


def esc(value) -> str:
    return html.escape(str(value))


def table(frame: pd.DataFrame, digits: int = 3, text_columns: tuple[str, ...] = ()) -> str:
    """A DataFrame as an HTML table; floats rounded, text columns left-aligned."""
    def cell(column: str, value) -> str:
        kind = "text" if column in text_columns else ""
        if isinstance(value, float):
            shown = "–" if pd.isna(value) else f"{value:.{digits}f}"
        else:
            shown = esc(value)
        return f'<td class="{kind}">{shown}</td>'
    head = "".join(f'<th class="{"text" if c in text_columns else ""}">{esc(c)}</th>' for c in frame.columns)
    rows = "".join("<tr>" + "".join(cell(c, v) for c, v in zip(frame.columns, row)) + "</tr>"
                   for row in frame.itertuples(index=False))
    return f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"


def image(png: bytes, alt: str) -> str:
    return f'<img alt="{esc(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode("ascii")}">'


def paragraph(text: str, note: bool = False) -> str:
    return f'<p class="{"note" if note else ""}">{esc(text)}</p>'


@dataclass
class Page:
    title: str
    meta: str
    sections: list[tuple[str, str, str]] = field(default_factory=list)  # (anchor, heading, body html)

    def add(self, anchor: str, heading: str, *parts: str) -> None:
        self.sections.append((anchor, heading, "\n".join(parts)))

    def render(self) -> str:
        nav = " ".join(f'<a href="#{a}">{esc(h)}</a>' for a, h, _ in self.sections)
        body = "\n".join(f'<section id="{a}"><h2>{esc(h)}</h2>\n{b}\n</section>' for a, h, b in self.sections)
        return (f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
                f'<meta name="viewport" content="width=device-width, initial-scale=1">'
                f"<title>{esc(self.title)}</title><style>{CSS}</style></head>\n"
                f'<body><h1>{esc(self.title)}</h1><p class="meta">{self.meta}</p><nav>{nav}</nav>\n{body}\n'
                f"</body></html>\n")


def revision_note(directory: Path) -> str:
    """The git commit of `directory` (and whether the work tree differs from it), and the DVC and sfv versions."""
    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=directory, capture_output=True, text=True,
                                  check=True).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            return ""
    commit = git("rev-parse", "--short", "HEAD") or "no git commit"
    dirty = " (with uncommitted changes)" if git("status", "--porcelain", "--untracked-files=no") else ""
    return esc(f"Made from git {commit}{dirty} with DVC {version('dvc')}, sfv {version('sfv')}.")
