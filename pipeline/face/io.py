"""Reading face geometry from a dataset root: raw scans, landmark files, registered-face CSVs.

Every reader checks what it reads and raises a DatasetError that names the speaker and the
file, so a broken mesh stops the stage at the speaker that has it instead of surfacing later
as a NaN in a registration or an AM.
"""
from __future__ import annotations

from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import trimesh

from ..artifacts import write_bytes, write_csv
from ..errors import DatasetError
from .units import MM_PER_UNIT, scan_unit, size_message

N_LANDMARKS = 65
SKIP_HINT = "Fix the file, or set data.on_error: skip to drop this speaker."


def read_scan(path: Path, speaker_id: str, shown_as: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Vertices float64 [S, 3] and triangles int64 [G, 3] of a .ply/.obj/.stl scan."""
    where = f"speaker {speaker_id}: {shown_as or path}"
    if not Path(path).is_file():
        raise DatasetError(f"{where} does not exist. {SKIP_HINT}")
    try:
        mesh = trimesh.load(path, process=False)
        if isinstance(mesh, trimesh.Scene):  # e.g. an OBJ with several groups
            mesh = mesh.to_mesh() if mesh.geometry else trimesh.Trimesh()
    except Exception as err:  # trimesh raises many types for a damaged or foreign file
        raise DatasetError(f"{where} cannot be read as a mesh ({type(err).__name__}: {err}). {SKIP_HINT}") from None
    vertices = np.asarray(getattr(mesh, "vertices", np.empty((0, 3))), dtype=np.float64)
    faces = np.asarray(getattr(mesh, "faces", np.empty((0, 3))), dtype=np.int64)
    if len(vertices) == 0:
        raise DatasetError(f"{where} has no vertices. {SKIP_HINT}")
    if faces.ndim != 2 or len(faces) == 0:
        raise DatasetError(f"{where} has no faces (a point cloud?); registration needs a triangle mesh. {SKIP_HINT}")
    bad = ~np.isfinite(vertices).all(axis=1)
    if bad.any():
        raise DatasetError(f"{where} has {int(bad.sum())} vertices that are NaN or infinite "
                           f"(first: vertex {int(np.flatnonzero(bad)[0])}). {SKIP_HINT}")
    if faces.min() < 0 or faces.max() >= len(vertices):
        raise DatasetError(f"{where} has faces that refer to vertices it does not have. {SKIP_HINT}")
    return vertices, faces


def read_mesh(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Vertices float64 [T, 3] and triangles int64 [F, 3] of a mesh the pipeline wrote (the template, a reconstruction)."""
    mesh = trimesh.load(path, process=False)
    return np.asarray(mesh.vertices, dtype=np.float64), np.asarray(mesh.faces, dtype=np.int64)


def read_triangles(path: Path) -> np.ndarray:
    """The triangles int64 [F, 3] of a mesh the pipeline wrote."""
    return read_mesh(path)[1]


def write_mesh(path: Path, vertices: np.ndarray, faces: np.ndarray) -> None:
    """Binary little-endian PLY, float32 vertices, no timestamps (reproducible bytes)."""
    mesh = trimesh.Trimesh(vertices=np.asarray(vertices, np.float64), faces=faces, process=False)
    write_bytes(trimesh.exchange.ply.export_ply(mesh, encoding="binary", include_attributes=False), path)


def read_scan_mm(path: Path, speaker_id: str, shown_as: str | None = None) -> tuple[np.ndarray, np.ndarray, str]:
    """`read_scan` with the vertices in millimetres, and the unit the file was found to be in
    (units.py); a scan no unit makes face-sized is refused."""
    vertices, faces = read_scan(path, speaker_id, shown_as)
    unit = scan_unit(vertices)
    if unit is None:
        raise DatasetError(f"speaker {speaker_id}: {shown_as or path} {size_message(vertices)}. Is it a face "
                           f"scan? {SKIP_HINT}")
    return vertices * MM_PER_UNIT[unit], faces, unit


def read_faces_csv(path: Path) -> tuple[list[str], np.ndarray]:
    """IDs and vertices float64 [N, T, 3] of a registered-face CSV (ID, all x, all y, all z)."""
    if not Path(path).is_file():
        raise DatasetError(f"{path} does not exist.")
    try:
        table = pd.read_csv(path, dtype={0: str})
    except Exception as err:
        raise DatasetError(f"{path} cannot be read as a CSV ({err}).") from None
    width = table.shape[1] - 1
    if table.columns[0] != "ID" or width <= 0 or width % 3:
        raise DatasetError(f"{path} has {table.shape[1]} columns starting with {table.columns[0]!r}; "
                           "expected 1 + 3T: ID, then all x, all y, all z of the T vertices.")
    ids = [str(i).strip() for i in table["ID"]]
    seen: set[str] = set()
    for line, sid in enumerate(ids, start=2):
        if sid in seen:
            raise DatasetError(f"{path}, line {line}: speaker {sid} appears more than once.")
        seen.add(sid)
    values = table.iloc[:, 1:].apply(pd.to_numeric, errors="coerce").to_numpy(np.float64)
    bad = ~np.isfinite(values).all(axis=1)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise DatasetError(f"{path}: speaker {ids[first]} (line {first + 2}) has coordinates that are "
                           f"empty, NaN or not numbers ({int(bad.sum())} such row(s)).")
    n_vertices = width // 3
    return ids, values.reshape(len(ids), 3, n_vertices).transpose(0, 2, 1).copy()


def read_faces_csv_mm(path: Path) -> tuple[list[str], np.ndarray, str]:
    """`read_faces_csv` in millimetres, and the unit found from the mean face's size (units.py)."""
    ids, vertices = read_faces_csv(path)
    unit = scan_unit(vertices.mean(axis=0))
    if unit is None:
        raise DatasetError(f"{path}: the mean face {size_message(vertices.mean(axis=0))}.")
    return ids, vertices * MM_PER_UNIT[unit], unit


def write_faces_csv(path: Path, ids: list[str], vertices: np.ndarray) -> None:
    """The registered-face CSV layout of `read_faces_csv`, for exchange with other tools."""
    vertices = np.asarray(vertices, dtype=np.float64)
    n_vertices = vertices.shape[1]
    columns = [f"{axis}{i + 1}" for axis in "xyz" for i in range(n_vertices)]
    table = pd.DataFrame(vertices.transpose(0, 2, 1).reshape(len(ids), -1), columns=columns)
    table.insert(0, "ID", ids)
    write_csv(table, path, "%.4f")


def read_landmark_vertices(path: Path | None = None, n_landmarks: int = N_LANDMARKS) -> np.ndarray:
    """0-based vertex index of each landmark, int64 [n_landmarks], from a (landmark, vertex_index) CSV.

    Without a path, the 6,790-vertex indices of the source authors' topology shipped with sfv.
    """
    source = path or resources.files("pipeline").joinpath("data/landmark_vertices_6790.csv")
    with source.open("r") as f:
        table = pd.read_csv(f)
    if list(table.columns) != ["landmark", "vertex_index"] or sorted(table["landmark"]) != list(range(1, n_landmarks + 1)):
        raise DatasetError(f"{source}: expected columns landmark,vertex_index with landmarks 1..{n_landmarks} once each.")
    return table.sort_values("landmark")["vertex_index"].to_numpy(np.int64).copy()
