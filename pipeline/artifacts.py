"""Reading and writing the pipeline's tables, one way everywhere.

Speaker IDs are strings as written: '001' keeps its zeros and 'NA' or 'nan' stay IDs, while
every other column keeps pandas' usual missing-value reading. Writes go through a temporary
file in the same folder and a rename, so a killed stage never leaves half a file.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

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


def write_csv(table: pd.DataFrame, path: str | Path, float_format: str = "%.6g") -> None:
    """table to path (no index), atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    table.to_csv(partial, index=False, float_format=float_format)
    partial.replace(path)


def write_text(text: str, path: str | Path) -> None:
    """text to path, atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text)
    partial.replace(path)
