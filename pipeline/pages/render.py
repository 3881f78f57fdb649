"""Render, check and audit the results pages of a checkout."""
from __future__ import annotations

import difflib
import subprocess
from pathlib import Path

from ..artifacts import write_text
from .audit import Figure, unsourced
from .markers import MARKER, Problem, quotes, render
from .tables import TABLE, render_tables
from .values import clear_cache

# Pages another renderer writes: `sfv params-doc` renders docs/parameters.md from config.py.
GENERATED = ("docs/parameters.md",)


def pages(root: Path) -> list[str]:
    """The README and every page under docs/, as paths relative to `root`."""
    found = ["README.md"] + sorted(str(p.relative_to(root)) for p in (root / "docs").glob("*.md"))
    return [p for p in found if p not in GENERATED and (root / p).is_file()]


def rendered(root: Path, page: str) -> tuple[str, list[Problem]]:
    """A page's text with its tables and quoted values rendered from their sources."""
    text = (root / page).read_text()
    text, table_problems = render_tables(text, root, page)
    text, value_problems = render(text, root, page)
    return text, table_problems + value_problems


def write(root: Path) -> tuple[list[str], list[Problem]]:
    """Render every page in place: the pages that changed, and the quotes that did not resolve.
    Those keep their old text, so one missing source (an experiment still running) does not
    hold back the figures of every other page."""
    clear_cache()
    results = {page: rendered(root, page) for page in pages(root)}
    problems = [p for _, found in results.values() for p in found]
    changed = [page for page, (text, _) in results.items() if text != (root / page).read_text()]
    for page in changed:
        write_text(results[page][0], root / page)
    return changed, problems


def check(root: Path) -> list[Problem | Figure]:
    """Everything wrong with the pages: quotes that do not resolve or name a file git does not
    track, text that differs from its source, and figures with no source."""
    clear_cache()
    tracked = _tracked(root)
    out: list[Problem | Figure] = []
    for page in pages(root):
        text = (root / page).read_text()
        new, problems = rendered(root, page)
        out += problems
        out += _differences(text, new, page)
        out += unsourced(text, page)
        if tracked is not None:
            for match in [*quotes(MARKER, text), *quotes(TABLE, text)]:
                source = match["spec"].split()[0]
                if source not in tracked:
                    out.append(Problem(page, text.count("\n", 0, match.start()) + 1,
                                       f"{source} is not committed (a DVC output or an untracked file)"))
    return out


def _tracked(root: Path) -> set[str] | None:
    """The files git tracks under `root` (None outside a git checkout)."""
    done = subprocess.run(["git", "-C", str(root), "ls-files", "-z"], capture_output=True, text=True)
    if done.returncode:
        return None
    return set(done.stdout.split("\0")) - {""}


def _differences(old: str, new: str, page: str) -> list[Problem]:
    """Each quoted value whose text differs from its source; whole lines where a table differs."""
    out = []
    old_lines, new_lines = old.splitlines(), new.splitlines()
    matcher = difflib.SequenceMatcher(a=old_lines, b=new_lines, autojunk=False)
    for tag, a0, a1, b0, b1 in matcher.get_opcodes():
        if tag == "equal":
            continue
        if a1 - a0 == b1 - b0:
            for line, (before, after) in enumerate(zip(old_lines[a0:a1], new_lines[b0:b1]), start=a0 + 1):
                pairs = list(zip(MARKER.finditer(before), MARKER.finditer(after)))
                changed = [(x, y) for x, y in pairs if x["text"] != y["text"]]
                if changed:
                    out += [Problem(page, line, f"{x['spec'].strip()}: the page says {x['text']!r}, its source "
                                                f"gives {y['text']!r}") for x, y in changed]
                else:
                    out.append(Problem(page, line, f"the page says {before[:120]!r}, its sources give {after[:120]!r}"))
        else:
            out.append(Problem(page, a0 + 1, f"the page says {' / '.join(old_lines[a0:a1])[:160]!r}, its sources "
                                             f"give {' / '.join(new_lines[b0:b1])[:160]!r}"))
    return out
