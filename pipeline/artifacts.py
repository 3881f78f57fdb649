"""Reading and writing the pipeline's tables, one way everywhere.

Speaker IDs are strings as written: '001' keeps its zeros and 'NA' or 'nan' stay IDs, while
every other column keeps pandas' usual missing-value reading. Writes go through a temporary
file in the same folder and a rename, so a killed stage never leaves half a file.
"""
from __future__ import annotations

import json
import shutil
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .errors import DatasetError, OutputError

# pandas' default missing-value strings (pandas.read_csv, "na_values").
_NA = ["", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN", "<NA>", "N/A",
       "NA", "NULL", "NaN", "None", "n/a", "nan", "null"]


def read_table(path: str | Path, **kwargs) -> pd.DataFrame:
    """pd.read_csv with the speaker_id column (when there is one) read as exact strings."""
    columns = pd.read_csv(path, nrows=0, **{k: v for k, v in kwargs.items() if k in ("sep",)}).columns
    if "speaker_id" not in columns:
        return pd.read_csv(path, **kwargs)
    na = {c: _NA for c in columns if c != "speaker_id"}
    return pd.read_csv(path, dtype={"speaker_id": str}, keep_default_na=False, na_values=na, **kwargs)


def write_atomically(path: str | Path, write) -> None:
    """write(partial path) then rename it onto path: the one way files are written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    try:
        write(partial)
        partial.replace(path)
    except OSError as err:
        raise OutputError(f"{path} cannot be written ({_why(err)}); nothing was left behind. Is the disk full, "
                          f"or the folder read-only?") from None
    finally:
        partial.unlink(missing_ok=True)


def _why(err: OSError) -> str:
    """An OSError without its file name (the message names the file already)."""
    return err.strerror if err.strerror else str(err)


@contextmanager
def partial_folder(folder: str | Path) -> Iterator[Path]:
    """A sibling <folder>.partial to fill, moved onto `folder` when the block ends and removed
    when it raises: a failed stage (bad input, a full disk) leaves neither folder half-written."""
    folder = Path(folder)
    partial = folder.with_name(folder.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    try:
        partial.mkdir(parents=True)
        yield partial
        shutil.rmtree(folder, ignore_errors=True)
        partial.rename(folder)
    except OSError as err:
        raise OutputError(f"{folder} was not written ({err}); nothing was left behind. Is the disk full, "
                          f"or the folder read-only?") from None
    finally:
        shutil.rmtree(partial, ignore_errors=True)


def read_output(path: str | Path, made_by: str) -> pd.DataFrame:
    """read_table of an earlier stage's table, with an error naming that stage when it is missing."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: not found (the {made_by} stage writes it)")
    return read_table(path)


def write_csv(table: pd.DataFrame, path: str | Path, float_format: str | None = "%.6g") -> None:
    """table to path (no index), atomically."""
    write_atomically(path, lambda p: table.to_csv(p, index=False, float_format=float_format))


def write_text(text: str, path: str | Path) -> None:
    """text to path, atomically."""
    write_atomically(path, lambda p: p.write_text(text))


def write_bytes(data: bytes, path: str | Path) -> None:
    """data to path, atomically."""
    write_atomically(path, lambda p: p.write_bytes(data))


def write_json(data: Any, path: str | Path, sort_keys: bool = True) -> None:
    """data as indented JSON (sorted keys, so diffs stay small), atomically."""
    write_text(json.dumps(data, indent=2, sort_keys=sort_keys) + "\n", path)


def read_json(path: str | Path, made_by: str) -> Any:
    """A JSON output of an earlier stage, with an error naming that stage when it is missing."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: not found (the {made_by} stage writes it)")
    return json.loads(path.read_text())


def save_npy(array: np.ndarray, path: str | Path) -> None:
    """np.save to exactly path, atomically."""
    def write(p: Path) -> None:
        with open(p, "wb") as handle:
            np.save(handle, array)
    write_atomically(path, write)


def save_npz(path: str | Path, **arrays: Any) -> None:
    """np.savez to exactly path, atomically."""
    def write(p: Path) -> None:
        with open(p, "wb") as handle:
            np.savez(handle, **arrays)
    write_atomically(path, write)


def speaker_id_problem(speaker_id: str) -> str | None:
    """Why `speaker_id` cannot be a file name (stages write <folder>/<speaker_id>.npy and the
    like), or None: a '/' or '..' in an ID would write outside the repository (issue 31)."""
    if not speaker_id.strip():
        return "is empty"
    if "/" in speaker_id or "\\" in speaker_id:
        return "contains a path separator ('/' or '\\')"
    if ".." in speaker_id:
        return "contains '..'"
    control = [c for c in speaker_id if unicodedata.category(c) == "Cc"]
    if control:
        return f"contains the control character(s) {''.join(control)!r}"
    return None


def speaker_file(folder: str | Path, speaker_id: str, suffix: str) -> Path:
    """folder/<speaker_id><suffix>, the one way a stage turns an ID into a file name: refused
    unless it resolves inside `folder`, whatever table the ID came from (issue 31)."""
    folder = Path(folder)
    name = f"{speaker_id}{suffix}"
    path = folder / name
    problem = speaker_id_problem(speaker_id)
    if problem is None and not path.resolve().is_relative_to(folder.resolve()):
        problem = "resolves outside the folder"
    if problem:
        raise DatasetError(f"speaker {speaker_id!r}: refusing the file name {name!r} in {folder}: the ID "
                           f"{problem}. IDs come from manifest.csv, which may not hold such IDs (docs/own-data.md).")
    return path
