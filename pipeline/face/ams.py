"""Anthropometric measurements (AMs): the table that defines them and a batched torch measure.

The table is read and validated once, so a typo in a landmark number fails at load with the
file, row and am_id rather than producing a silently wrong measurement later. The measure is
one vectorised, differentiable function so that it can sit inside a loss on generated faces.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import torch

from ..errors import AmTableError

KINDS: dict[str, int] = {"distance": 2, "proportion": 4, "angle": 3}
"""Each AM kind and how many landmarks it uses."""

_COLUMNS = ("am_id", "kind", "label", "landmarks", "duplicate_of")



@dataclass(frozen=True)
class AmTable:
    """The AM definitions: K measurements on 1-based landmark numbers."""

    am_id: np.ndarray  # int64 [K]
    kind: tuple[str, ...]  # 'distance' | 'proportion' | 'angle'
    label: tuple[str, ...]
    landmarks: np.ndarray  # int64 [K, 4], 0-based landmark indices, -1 where unused
    duplicate_of: np.ndarray  # int64 [K], 0 where not a duplicate

    def __len__(self) -> int:
        return len(self.kind)

    def subset(self, rows: np.ndarray) -> AmTable:
        """The AMs at these row positions (0-based, table order)."""
        rows = np.asarray(rows, dtype=np.int64)
        return AmTable(self.am_id[rows], tuple(self.kind[i] for i in rows), tuple(self.label[i] for i in rows),
                       self.landmarks[rows], self.duplicate_of[rows])

    def rows_of_kind(self, kind: str) -> np.ndarray:
        """Row positions (0-based, table order) of the AMs of one kind."""
        if kind not in KINDS:
            raise ValueError(f"unknown AM kind {kind!r}; expected one of {sorted(KINDS)}")
        return np.flatnonzero(np.asarray(self.kind) == kind)

    def ids_of_kind(self, kind: str) -> np.ndarray:
        """am_ids of the AMs of one kind, in table order."""
        return self.am_id[self.rows_of_kind(kind)]


def read_am_table(path: str | Path, n_landmarks: int = 65) -> AmTable:
    """Read and validate an AM table CSV (columns am_id,kind,label,landmarks,duplicate_of)."""
    path = Path(path)
    if not path.is_file():
        raise AmTableError(f"{path}: AM table not found (face.ams in params.yaml names it).")
    with path.open(newline="") as f:
        return _parse(csv.DictReader(f), str(path), n_landmarks)


def default_am_table() -> AmTable:
    """The project's 96-AM table, shipped as package data."""
    resource = resources.files("pipeline").joinpath("data/ams_96.csv")
    with resource.open("r", newline="") as f:
        return _parse(csv.DictReader(f), str(resource), 65)


def _parse(reader: csv.DictReader, source: str, n_landmarks: int) -> AmTable:
    missing = [c for c in _COLUMNS if c not in (reader.fieldnames or ())]
    if missing:
        raise AmTableError(f"{source}: missing column(s) {missing}; expected {list(_COLUMNS)}")
    ids: list[int] = []
    kinds: list[str] = []
    labels: list[str] = []
    landmarks: list[list[int]] = []
    dups: list[int] = []
    for i, row in enumerate(reader, start=1):
        raw_id = (row["am_id"] or "").strip()
        where = f"{source}: row {i} (line {reader.line_num}), am_id {raw_id or '?'}"
        try:
            am_id = int(raw_id)
            numbers = [int(tok) for tok in (row["landmarks"] or "").split()]
            dup = int((row["duplicate_of"] or "").strip() or 0)
        except ValueError as exc:
            raise AmTableError(f"{where}: not an integer ({exc})") from None
        kind = (row["kind"] or "").strip()
        if am_id in ids:
            raise AmTableError(f"{where}: am_id {am_id} appears more than once")
        if kind not in KINDS:
            raise AmTableError(f"{where}: unknown kind {kind!r}; expected one of {sorted(KINDS)}")
        if len(numbers) != KINDS[kind]:
            raise AmTableError(
                f"{where}: a {kind} takes {KINDS[kind]} landmarks, got {len(numbers)} ({numbers})"
            )
        bad = [n for n in numbers if not 1 <= n <= n_landmarks]
        if bad:
            raise AmTableError(f"{where}: landmark number(s) {bad} outside 1..{n_landmarks}")
        if dup and dup not in ids:
            raise AmTableError(f"{where}: duplicate_of {dup} is not an earlier am_id")
        ids.append(am_id)
        kinds.append(kind)
        labels.append((row["label"] or "").strip())
        landmarks.append([n - 1 for n in numbers] + [-1] * (4 - len(numbers)))
        dups.append(dup)
    return AmTable(
        am_id=np.asarray(ids, dtype=np.int64),
        kind=tuple(kinds),
        label=tuple(labels),
        landmarks=np.asarray(landmarks, dtype=np.int64).reshape(-1, 4),
        duplicate_of=np.asarray(dups, dtype=np.int64),
    )


def measure_landmarks(points: torch.Tensor, table: AmTable) -> torch.Tensor:
    """AM values [..., K] of landmark sets [..., L, 3]: distances (mm), ratios, angles (degrees).

    Each kind is computed on its own rows only (not on padded -1 slots with torch.where), so
    no zero-length vector enters a norm and the gradient stays finite.
    """
    if points.ndim < 2 or points.shape[-1] != 3 or not points.is_floating_point():
        raise ValueError(
            f"points must be a float tensor [..., L, 3], got {points.dtype} {tuple(points.shape)}"
        )
    needed = int(table.landmarks.max()) + 1 if len(table) else 0
    if needed > points.shape[-2]:
        raise ValueError(f"the AM table uses landmark {needed}, points has only {points.shape[-2]}")
    rows = {k: table.rows_of_kind(k) for k in KINDS}

    def gather(kind: str) -> torch.Tensor:  # [..., K_kind, n, 3]
        idx = torch.as_tensor(table.landmarks[rows[kind], : KINDS[kind]], device=points.device)
        return points[..., idx, :]

    d = gather("distance")
    distance = torch.linalg.vector_norm(d[..., 0, :] - d[..., 1, :], dim=-1)
    p = gather("proportion")
    proportion = torch.linalg.vector_norm(p[..., 0, :] - p[..., 1, :], dim=-1) / (
        torch.linalg.vector_norm(p[..., 2, :] - p[..., 3, :], dim=-1)
    )
    a = gather("angle")
    arm1, arm2 = a[..., 0, :] - a[..., 1, :], a[..., 2, :] - a[..., 1, :]
    sin = torch.linalg.vector_norm(torch.linalg.cross(arm1, arm2, dim=-1), dim=-1)
    cos = (arm1 * arm2).sum(-1)
    angle = torch.rad2deg(torch.atan2(sin, cos))

    values = torch.cat([distance, proportion, angle], dim=-1)
    order = np.argsort(np.concatenate([rows[k] for k in KINDS]))  # kind-grouped -> table order
    return values[..., torch.as_tensor(order, device=points.device)]


def measure(vertices: torch.Tensor, landmark_idx: torch.Tensor, table: AmTable) -> torch.Tensor:
    """AM values [N, K] of faces [N, T, 3] whose landmark l sits at vertex landmark_idx[l].

    landmark_idx is 0-based, length L; gathering the L landmarks first keeps one code path.
    """
    if landmark_idx.ndim != 1:
        raise ValueError(f"landmark_idx must be 1-D [L], got shape {tuple(landmark_idx.shape)}")
    return measure_landmarks(vertices[..., landmark_idx.to(vertices.device), :], table)
