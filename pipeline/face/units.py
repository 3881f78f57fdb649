"""A scan's length unit, found from its size: faces are a few hundred millimetres across.

A scan that shows a face (a mask, a head, a head with neck and shoulders) has a bounding-box
diagonal of 100 to 1,000 mm. The units real scanners and datasets write (m, cm, mm, µm) are a
decade or more apart, so exactly one of them, or none, puts a scan's diagonal in that range:
0.1-1 in metres, 10-100 in centimetres, 100-1,000 in millimetres, 10^5-10^6 in micrometres.
A size that fits none (1-10, 1,000-10^5) is not guessed at: the caller refuses the scan.
"""
from __future__ import annotations

import numpy as np

MM_PER_UNIT = {"m": 1000.0, "cm": 10.0, "mm": 1.0, "um": 0.001}
FACE_DIAGONAL_MM = (100.0, 1000.0)  # [low, high) of a face scan's bounding-box diagonal


def diagonal(vertices: np.ndarray) -> float:
    """The bounding-box diagonal of points [n, 3], in their own unit."""
    return float(np.linalg.norm(np.ptp(np.asarray(vertices, dtype=np.float64), axis=0)))


def scan_unit(vertices: np.ndarray) -> str | None:
    """The unit (a key of MM_PER_UNIT) in which points [n, 3] are a face-sized scan, or None."""
    size = diagonal(vertices)
    for unit, mm in MM_PER_UNIT.items():
        if FACE_DIAGONAL_MM[0] <= size * mm < FACE_DIAGONAL_MM[1]:
            return unit
    return None
