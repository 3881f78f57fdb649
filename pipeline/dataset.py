"""The dataset root's manifest (docs/own-data.md), read and checked."""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .artifacts import speaker_id_problem
from .cohort import GENDER_CODES
from .errors import DatasetError

MANIFEST_COLUMNS = ("speaker_id", "gender", "audio", "scan", "landmarks")
SKIPPED_COLUMNS = ["speaker_id", "stage", "reason"]  # reports/skipped*.csv


def skip_reason(err: Exception) -> str:
    """An error as a skip record (data.on_error: skip): without its advice to skip."""
    return re.sub(r"\s*[^.]*data\.on_error: skip[^.]*\.\s*$", "", str(err))


@dataclass(frozen=True)
class Speaker:
    speaker_id: str
    gender: str  # 'M' | 'F'
    audio: tuple[str, ...]  # recordings, relative to the root
    scan: str | None
    landmarks: str | None


def read_manifest(root: str | Path) -> list[Speaker]:
    """Speakers of `root`/manifest.csv in file order."""
    path = Path(root) / "manifest.csv"
    if not path.is_file():
        raise DatasetError(f"{path} does not exist: a dataset root needs a manifest.csv (docs/own-data.md).")
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError:
        raise DatasetError(f"{path} is empty; it needs the header {','.join(MANIFEST_COLUMNS)} and one row per "
                           f"speaker (docs/own-data.md).") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as err:
        raise DatasetError(f"{path} cannot be read as CSV ({' '.join(str(err).split())}).") from None
    missing = [c for c in MANIFEST_COLUMNS if c not in table.columns]
    if missing and len(table.columns) == 1 and any(sep in table.columns[0] for sep in ";\t"):
        raise DatasetError(f"{path}: the header {table.columns[0]!r} is one column; manifest.csv must be "
                           f"comma-separated (this one looks separated by ';' or tabs).")
    if missing:
        raise DatasetError(f"{path}: missing column(s) {missing}; expected {list(MANIFEST_COLUMNS)}.")
    if table.empty:
        raise DatasetError(f"{path} has a header but no speaker; add one row per speaker (docs/own-data.md).")
    speakers = []
    seen: set[str] = set()
    for line, row in enumerate(table.itertuples(index=False), start=2):
        sid = row.speaker_id.strip()
        problem = speaker_id_problem(sid)
        if problem:
            raise DatasetError(f"{path}, line {line}: speaker_id {sid!r} {problem}; IDs become file names, so "
                               f"they may not hold '/', '\\', '..' or control characters.")
        if sid in seen:
            raise DatasetError(f"{path}, line {line}: speaker {sid} appears more than once.")
        seen.add(sid)
        if row.gender not in GENDER_CODES:
            raise DatasetError(f"{path}, line {line}: speaker {sid} has gender {row.gender!r}; expected M or F.")
        audio = tuple(p.strip() for p in row.audio.split(";") if p.strip())
        for column, value in [("audio", a) for a in audio] + [("scan", row.scan.strip()),
                                                              ("landmarks", row.landmarks.strip())]:
            outside = _outside(Path(root), value) if value else None
            if outside:
                raise DatasetError(f"{path}, line {line}: speaker {sid} has {column} path {value!r} {outside}; "
                                   f"paths must be relative and inside it, so that DVC tracks every file it reads.")
        speakers.append(Speaker(sid, row.gender, audio, row.scan.strip() or None, row.landmarks.strip() or None))
    return speakers


def _outside(root: Path, relative: str) -> str | None:
    """How `relative` leaves the root (absolute, '..', or a symlink out of it), or None."""
    if Path(relative).is_absolute():
        return "outside the root (an absolute path)"
    base = root.resolve()
    if not (base / relative).resolve().is_relative_to(base):
        steps = [Path(root, *Path(relative).parts[:k]) for k in range(1, len(Path(relative).parts) + 1)]
        link = next((p for p in steps if p.is_symlink() and not p.resolve().is_relative_to(base)), None)
        if link is not None:
            return (f"outside the root: {link.relative_to(root)} is a symlink to {link.resolve()}; copy the "
                    f"file into the root instead")
        return "outside the root"
    return None
