"""Reading annotated landmarks in the formats real data comes in, as named points.

- `.csv` with header `x,y,z`: the source's scheme, 65 rows, row i is `sfv{i+1}`;
- `.csv` with header `landmark,x,y,z`: any subset of the vocabulary (landmark_names.VOCABULARY);
- `.ljson` / `.json`: menpo's landmark JSON (versions 1-3) holding iBUG-68 in its order (0-based
  there, so point i is `ibug{i+1}`); a point written as nulls was not annotated and is left out;
- `.pp`: MeshLab's picked points, named from the vocabulary; inactive points are left out.

Coordinates stay as the file has them (scan coordinates, the scan's units). Every problem is a
DatasetError that names the speaker and the file, so a bad annotation stops the landmarks stage
at that speaker (or is skipped with its reason).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import numpy as np
import pandas as pd

from ..errors import DatasetError
from .io import SKIP_HINT
from .landmark_names import SCHEMES, VOCABULARY, VOCABULARY_TEXT

N_IBUG = SCHEMES["ibug"]
N_SFV = SCHEMES["sfv"]
CSV_HEADERS = (["x", "y", "z"], ["landmark", "x", "y", "z"])


@dataclass(frozen=True)
class NamedLandmarks:
    """Annotated points in file order: `names` [L] from the vocabulary, `points` float64 [L, 3]."""

    names: tuple[str, ...]
    points: np.ndarray


def read_landmark_file(path: Path, speaker_id: str, shown_as: str | None = None) -> NamedLandmarks:
    """The named landmarks of a .csv, .ljson/.json or .pp file, in its own coordinates and units."""
    path = Path(path)
    where = f"speaker {speaker_id}: {shown_as or path}"
    if not path.is_file():
        raise DatasetError(f"{where} does not exist. {SKIP_HINT}")
    if not path.read_bytes().strip():
        raise DatasetError(f"{where} is empty. {SKIP_HINT}")
    readers = {".csv": _read_csv, ".ljson": _read_ljson, ".json": _read_ljson, ".pp": _read_picked_points}
    reader = readers.get(path.suffix.lower())
    if reader is None:
        raise DatasetError(f"{where}: unknown landmark format {path.suffix!r}; expected .csv (header x,y,z or "
                           f"landmark,x,y,z), .ljson/.json (menpo, iBUG-68) or .pp (MeshLab picked points). "
                           f"{SKIP_HINT}")
    names, points = reader(path, where)
    return _checked(names, points, where)


def _read_csv(path: Path, where: str) -> tuple[list[str], np.ndarray]:
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except Exception as err:  # pandas raises several types for a ragged or binary file
        raise DatasetError(f"{where} cannot be read as a CSV ({err}). {SKIP_HINT}") from None
    columns = [str(c).strip() for c in table.columns]
    if columns not in CSV_HEADERS:
        raise DatasetError(f"{where} has header {','.join(columns)}; expected x,y,z (the 65 sfv landmarks in "
                           f"order) or landmark,x,y,z (named points). {SKIP_HINT}")
    table.columns = columns
    if columns == ["x", "y", "z"]:
        if len(table) != N_SFV:
            raise DatasetError(f"{where} has {len(table)} rows; a CSV with header x,y,z needs {N_SFV}, "
                               f"one per sfv landmark in order (name points with a landmark column to give fewer). "
                               f"{SKIP_HINT}")
        names = [f"sfv{i + 1}" for i in range(N_SFV)]
    else:
        names = table["landmark"].tolist()
    return names, table[["x", "y", "z"]].apply(pd.to_numeric, errors="coerce").to_numpy(np.float64)


def _read_ljson(path: Path, where: str) -> tuple[list[str], np.ndarray]:
    try:
        document = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as err:
        raise DatasetError(f"{where} cannot be read as JSON ({err}). {SKIP_HINT}") from None
    raw = _ljson_points(document, where)
    if len(raw) != N_IBUG:
        raise DatasetError(f"{where} has {len(raw)} points; menpo LJSON is read as iBUG-68, which has {N_IBUG}. "
                           f"{SKIP_HINT}")
    names, points = [], []
    for i, point in enumerate(raw):
        if not isinstance(point, list) or len(point) != 3:
            raise DatasetError(f"{where}: point {i} is {point!r}; expected [x, y, z] in scan coordinates "
                               f"(2-D points are an image's annotation). {SKIP_HINT}")
        if all(value is None for value in point):  # menpo writes a missing point as nulls
            continue
        names.append(f"ibug{i + 1}")
        points.append([_number(value) for value in point])
    return names, np.array(points, dtype=np.float64).reshape(-1, 3)


def _ljson_points(document: Any, where: str) -> list:
    """The raw point list of a menpo LJSON document: v3 groups (the only one, or the one of 68 points),
    v2 landmarks.points, v1 groups concatenated."""
    version = document.get("version") if isinstance(document, dict) else None
    try:
        if version == 3:
            groups = document["groups"]
            sizes = {name: len(group["landmarks"]["points"]) for name, group in groups.items()}
            chosen = list(sizes) if len(sizes) == 1 else [name for name, size in sizes.items() if size == N_IBUG]
            if len(chosen) != 1:
                raise DatasetError(f"{where} has landmark groups {sizes} (name: points); expected exactly one "
                                   f"with the {N_IBUG} iBUG-68 points. {SKIP_HINT}")
            return groups[chosen[0]]["landmarks"]["points"]
        if version == 2:
            return document["landmarks"]["points"]
        if version == 1:
            return [entry["point"] for group in document["groups"] for entry in group["landmarks"]]
    except (AttributeError, KeyError, TypeError) as err:
        raise DatasetError(f"{where} is not menpo LJSON version {version} (missing or malformed {err}). "
                           f"{SKIP_HINT}") from None
    raise DatasetError(f"{where} has LJSON version {version!r}; menpo LJSON versions 1, 2 and 3 are read. {SKIP_HINT}")


def _read_picked_points(path: Path, where: str) -> tuple[list[str], np.ndarray]:
    try:
        root = ElementTree.parse(path).getroot()
    except ElementTree.ParseError as err:
        raise DatasetError(f"{where} cannot be read as MeshLab picked points (XML: {err}). {SKIP_HINT}") from None
    active = [p.attrib for p in root.iter("point") if p.attrib.get("active", "1").strip() != "0"]
    names = [p.get("name", "") for p in active]
    return names, np.array([[_number(p.get(axis)) for axis in "xyz"] for p in active], dtype=np.float64).reshape(-1, 3)


def _number(value: Any) -> float:
    """A coordinate as a float; anything that is not a number becomes NaN, reported as not finite."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def _checked(names: list[str], points: np.ndarray, where: str) -> NamedLandmarks:
    names = [str(name).strip().lower() for name in names]
    if not names:
        raise DatasetError(f"{where} has no landmarks. {SKIP_HINT}")
    unknown = [name for name in names if name not in VOCABULARY]
    if unknown:
        raise DatasetError(f"{where}: unknown landmark name(s) {unknown[:5]}; names come from the vocabulary "
                           f"{VOCABULARY_TEXT}. {SKIP_HINT}")
    seen, repeated = set(), []
    for name in names:
        if name in seen and name not in repeated:
            repeated.append(name)
        seen.add(name)
    if repeated:
        raise DatasetError(f"{where}: landmark(s) {repeated} given more than once. {SKIP_HINT}")
    bad = ~np.isfinite(points).all(axis=1)
    if bad.any():
        raise DatasetError(f"{where}: landmark(s) {[n for n, b in zip(names, bad) if b]} have coordinates that are "
                           f"empty, NaN, infinite or not numbers. {SKIP_HINT}")
    return NamedLandmarks(tuple(names), points)



def read_named_vertices(path: Path, n_vertices: int) -> dict[str, int]:
    """A `landmark,vertex` CSV naming points of the vocabulary at 0-based vertices of a topology
    with `n_vertices` vertices (face.transfer_guides): name -> vertex."""
    path = Path(path)
    try:
        table = pd.read_csv(path, dtype={"landmark": str})
    except (OSError, ValueError) as err:
        raise DatasetError(f"{path} cannot be read as a CSV ({err}).") from None
    if list(table.columns) != ["landmark", "vertex"]:
        raise DatasetError(f"{path} has columns {list(table.columns)}; expected landmark,vertex.")
    names = [str(n).strip().lower() for n in table["landmark"]]
    unknown = sorted(set(names) - set(VOCABULARY))
    if unknown:
        raise DatasetError(f"{path}: unknown landmark name(s) {unknown[:5]}; the vocabulary is {VOCABULARY_TEXT}.")
    if len(set(names)) != len(names):
        raise DatasetError(f"{path}: a landmark is named more than once.")
    vertices = pd.to_numeric(table["vertex"], errors="coerce").to_numpy()
    bad = ~np.isfinite(vertices) | (vertices < 0) | (vertices >= n_vertices) | (vertices != np.round(vertices))
    if bad.any():
        raise DatasetError(f"{path}: vertex {table['vertex'].iloc[int(np.flatnonzero(bad)[0])]!r} of "
                           f"{names[int(np.flatnonzero(bad)[0])]} is not a vertex of a {n_vertices}-vertex topology.")
    return dict(zip(names, vertices.astype(int).tolist()))
