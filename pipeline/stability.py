"""Two runs' outputs, byte for byte, and by how much the numbers differ where the bytes do.

A hash says only whether an output moved. Whether the move matters depends on its size against
the numbers the file holds (a WAV sample off by one 16-bit step is not a mesh off by a
millimetre), so every file that differs is read as numbers and its largest absolute
difference kept. scripts/bit_stability.py compares runs under different thread counts, SIMD
paths and process pools with it (docs/reproducibility.md).
"""
from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd

from .spread import flatten, is_number

# Speaker IDs (M0001, F0012) and a recording's number (F0012_1): outputs per speaker form one group.
SPEAKER_ID = re.compile(r"[MF]\d{4}(_\d+)?")


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def numbers(path: Path) -> np.ndarray | None:
    """The numbers a file holds, flattened, as float64; None for a file that is not numbers (a PNG).

    WAV samples stay in their integer steps (16-bit LSBs); a CSV gives its numeric columns;
    a JSON its numeric leaves in key order; an NPZ its numeric arrays in key order (a text array,
    such as the hash of the input a cache was built from, is left to the file's md5)."""
    suffix = path.suffix
    if suffix == ".npy":
        return np.load(path).astype(np.float64).ravel()
    if suffix == ".npz":
        with np.load(path) as arrays:
            held = [arrays[k] for k in sorted(arrays.files)]
            return np.concatenate([np.empty(0), *(a.astype(np.float64).ravel() for a in held if a.dtype.kind in "biuf")])
    if suffix == ".wav":
        from scipy.io import wavfile

        return wavfile.read(path)[1].astype(np.float64).ravel()
    if suffix == ".ply":
        import trimesh

        mesh = trimesh.load(path, process=False)
        return np.concatenate([np.asarray(mesh.vertices, np.float64).ravel(), np.asarray(mesh.faces, np.float64).ravel()])
    if suffix == ".csv":
        return pd.read_csv(path).select_dtypes("number").to_numpy(np.float64).ravel()
    if suffix == ".json":
        leaves = sorted(flatten(json.loads(path.read_text())).items())
        return np.array([float(value) for _, value in leaves if is_number(value)], dtype=np.float64)
    return None


def difference(a: Path, b: Path) -> dict[str, float | list[int]]:
    """How two versions of one output differ: the largest |difference| of their numbers, the
    share of numbers that differ and the largest |number| (for scale). Empty for files that
    hold no numbers; `shape_differs` (both sizes) when they hold different counts."""
    x, y = numbers(a), numbers(b)
    if x is None or y is None:
        return {}
    if x.shape != y.shape:
        return {"shape_differs": [int(x.size), int(y.size)]}
    if x.size == 0:
        return {"max_abs_diff": 0.0, "share_differing": 0.0, "max_abs_value": 0.0}
    same = (x == y) | (np.isnan(x) & np.isnan(y))
    gap = np.abs(x - y)[~same]
    return {"max_abs_diff": float(gap.max()) if gap.size else 0.0, "share_differing": float((~same).mean()),
            "max_abs_value": float(np.nanmax(np.abs(x))) if not np.isnan(x).all() else 0.0}


def ulps(a: np.ndarray, b: np.ndarray) -> float:
    """The largest distance between two float arrays in units in the last place of the smaller
    magnitude (0 when equal; NaN in both counts as equal): how far a kernel's result moved,
    independent of its scale."""
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {a.shape} and {b.shape}")
    same = (a == b) | (np.isnan(a) & np.isnan(b))
    if same.all():
        return 0.0
    scale = np.spacing(np.minimum(np.abs(a), np.abs(b))[~same])
    with np.errstate(over="ignore"):  # a sign change near zero is an enormous count, inf at worst
        return float(np.max(np.abs(a - b)[~same] / scale))


def group_of(relative: str) -> str:
    """An output's group: its path with speaker IDs generalised to `<id>`."""
    return SPEAKER_ID.sub("<id>", relative)


def compare_folders(reference: Path, other: Path, ignore: frozenset[str] = frozenset()) -> dict[str, dict]:
    """Per output group of `reference` (paths relative to it, minus `ignore`): files, files
    byte-identical in `other`, files missing there, and over the rest the largest of
    `difference`'s numbers and how many changed their count of numbers."""
    groups: dict[str, dict] = {}
    files = sorted(p.relative_to(reference).as_posix() for p in reference.rglob("*") if p.is_file())
    for relative in files:
        if relative in ignore:
            continue
        entry = groups.setdefault(group_of(relative), {"files": 0, "identical": 0})
        entry["files"] += 1
        mine = other / relative
        if not mine.is_file():
            entry["missing"] = entry.get("missing", 0) + 1
            continue
        if md5(reference / relative) == md5(mine):
            entry["identical"] += 1
            continue
        diff = difference(reference / relative, mine)
        for key in ("max_abs_diff", "share_differing", "max_abs_value"):
            if key in diff:
                entry[key] = max(entry.get(key, 0.0), diff[key])
        if "shape_differs" in diff:
            entry["shape_differs"] = entry.get("shape_differs", 0) + 1
    return dict(sorted(groups.items()))


def differing(groups: dict[str, dict]) -> list[str]:
    """The groups of `compare_folders` with a file that is not byte-identical (or missing)."""
    return sorted(name for name, entry in groups.items() if entry["identical"] < entry["files"])


COLUMNS = ["setting", "group", "files", "identical", "missing", "shape_differs", "max_abs_diff", "share_differing",
           "max_abs_value"]


def comparison_table(compared: dict[str, dict[str, dict]]) -> pd.DataFrame:
    """One row per setting and output group of `compare_folders` results by setting: counts
    (0 where none) and the sizes of the differences (empty where every file is identical)."""
    rows = [{"setting": setting, "group": group, **{k: entry.get(k, 0) for k in ("files", "identical", "missing",
                                                                               "shape_differs")},
             **{k: entry.get(k) for k in ("max_abs_diff", "share_differing", "max_abs_value")}}
            for setting, groups in compared.items() for group, entry in groups.items()]
    return pd.DataFrame(rows, columns=COLUMNS)
