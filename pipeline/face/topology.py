"""A triangulation for faces that arrive as vertex lists only (the registered-face CSV)."""
from __future__ import annotations

import numpy as np
from scipy.spatial import Delaunay


def triangulate_frontal(vertices: np.ndarray, max_edge_ratio: float = 4.0) -> np.ndarray:
    """Triangles int64 [F, 3] over a face's vertices [T, 3], counter-clockwise seen from the front.

    A face scan is close to a height field over its frontal plane, so a Delaunay triangulation
    of the projection onto the two main axes is a valid surface; triangles with an edge longer
    than `max_edge_ratio` times the median edge (across the concave parts of the outline) are
    dropped. Normals point to the front, the side to which the middle of the face stands out.
    """
    vertices = np.asarray(vertices, dtype=np.float64)
    centred = vertices - vertices.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    plane = centred @ vt[:2].T
    triangles = Delaunay(plane).simplices.astype(np.int64)
    corners = vertices[triangles]
    edges = np.linalg.norm(corners - np.roll(corners, 1, axis=1), axis=2)
    triangles = triangles[edges.max(axis=1) <= max_edge_ratio * np.median(edges)]
    # Orient every triangle the same way in the plane, then towards the side most normals face.
    p = plane[triangles]
    d1, d2 = p[:, 1] - p[:, 0], p[:, 2] - p[:, 0]
    signed = d1[:, 0] * d2[:, 1] - d1[:, 1] * d2[:, 0]
    triangles = np.where((signed < 0)[:, None], triangles[:, ::-1], triangles)
    normals = np.cross(vertices[triangles[:, 1]] - vertices[triangles[:, 0]],
                       vertices[triangles[:, 2]] - vertices[triangles[:, 0]])
    # A face bulges towards its front: the middle of the plane stands out from the rim.
    height = centred @ vt[2]
    radius = np.linalg.norm(plane, axis=1)
    middle, rim = radius <= np.quantile(radius, 0.1), radius >= np.quantile(radius, 0.9)
    front = vt[2] if height[middle].mean() >= height[rim].mean() else -vt[2]
    if normals.sum(axis=0) @ front < 0:
        triangles = triangles[:, ::-1]
    return triangles
