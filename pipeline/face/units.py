"""A scan's length unit, found from its size: a face or head is a few hundred millimetres across.

The size is the scan's largest extent along its principal axes, taken between the 1 % and 99 %
quantiles so stray vertices do not count. A plausible scan is 60 to 600 mm across, from a
cropped face to a head with neck and shoulders; that range spans a factor of ten, and the
units real scanners and datasets write (m, cm, mm, µm) are ten or more apart, so at most one of
them puts a scan in it: 0.06-0.6 m, 6-60 cm, 60-600 mm, 6·10⁴-6·10⁵ µm. A size that fits none
is not guessed at: the caller refuses the scan.
"""
from __future__ import annotations

import numpy as np

MM_PER_UNIT = {"m": 1000.0, "cm": 10.0, "mm": 1.0, "um": 0.001}
SCAN_SIZE_MM = (60.0, 600.0)  # [low, high) of a plausible scan's largest extent
SIZE_QUANTILE = 0.01
MAX_POINTS = 20000  # the principal axes come from at most this many of the points


def scan_size(vertices: np.ndarray) -> float:
    """Largest extent of points [n, 3] along their principal axes, between the 1 % and 99 % quantiles."""
    centred = np.asarray(vertices, dtype=np.float64)
    centred = centred - centred.mean(axis=0)
    _, _, axes = np.linalg.svd(centred[:: max(1, len(centred) // MAX_POINTS)], full_matrices=False)
    low, high = np.quantile(centred @ axes.T, [SIZE_QUANTILE, 1.0 - SIZE_QUANTILE], axis=0)
    return float((high - low).max())


def scan_unit(vertices: np.ndarray) -> str | None:
    """The unit (a key of MM_PER_UNIT) in which points [n, 3] are a plausible face scan, or None."""
    size = scan_size(vertices)
    for unit, mm in MM_PER_UNIT.items():
        if SCAN_SIZE_MM[0] <= size * mm < SCAN_SIZE_MM[1]:
            return unit
    return None


def size_message(vertices: np.ndarray) -> str:
    """Why no unit fits, for an error that names the file."""
    ranges = ", ".join(f"{SCAN_SIZE_MM[0] / mm:g}-{SCAN_SIZE_MM[1] / mm:g} {unit}" for unit, mm in MM_PER_UNIT.items())
    return (f"is {scan_size(vertices):.4g} units across (its largest extent); in no unit is that a face or head "
            f"scan ({ranges})")
