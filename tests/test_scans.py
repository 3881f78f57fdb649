"""Simulated scans lie on the true surface, are clean meshes, and degrade it as specified."""
from __future__ import annotations

import numpy as np
import pytest
import trimesh
from scipy.spatial import Delaunay, cKDTree

from pipeline.face.rigid import invert as invert_pose
from pipeline.face.rigid import transform as apply_pose
from pipeline.synth.scans import annotate_landmarks, random_pose, simulate_scan

SETTINGS = dict(n_vertices=4000, max_rotation_deg=20.0, max_translation_mm=50.0, noise_mm=0.3,
                n_holes=0, hole_radius_mm=5.0)


@pytest.fixture(scope="module")
def surface() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A smooth face-like height field with a nose over an elliptical disc (70 x 95 mm)."""
    rng = np.random.default_rng(7)
    t = np.linspace(0.0, 2.0 * np.pi, 180, endpoint=False)
    rim = np.column_stack([70.0 * np.cos(t), 95.0 * np.sin(t)])
    r, a = 0.985 * np.sqrt(rng.random(3000)), 2.0 * np.pi * rng.random(3000)
    uv = np.vstack([rim, np.column_stack([70.0 * r * np.cos(a), 95.0 * r * np.sin(a)])])
    faces = Delaunay(uv).simplices.astype(np.int64)
    p0, p1, p2 = (uv[faces[:, k]] for k in range(3))
    d1, d2 = p1 - p0, p2 - p0
    cw = d1[:, 0] * d2[:, 1] - d1[:, 1] * d2[:, 0] < 0
    faces[cw] = faces[cw][:, ::-1]
    x, y = uv[:, 0], uv[:, 1]
    z = 30.0 * np.exp(-(x ** 2 + y ** 2) / (2 * 40.0 ** 2)) + 15.0 * np.exp(
        -(x ** 2 + (y + 10.0) ** 2) / (2 * 8.0 ** 2))
    return np.column_stack([uv, z]), faces, uv


def _scan(surface, seed: int, **overrides):
    vertices, faces, uv = surface
    return simulate_scan(vertices, faces, uv, np.random.default_rng(seed),
                         **{**SETTINGS, **overrides})


def _in_true_frame(scan) -> trimesh.Trimesh:
    back = apply_pose(scan.vertices, invert_pose(scan.pose))
    return trimesh.Trimesh(back, scan.faces, process=False)


def _n_components(faces: np.ndarray) -> int:
    labels = trimesh.graph.connected_component_labels(
        trimesh.graph.face_adjacency(faces=faces), node_count=len(faces))
    return int(labels.max()) + 1


def _n_boundary_loops(faces: np.ndarray) -> int:
    edges = np.sort(faces[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2), axis=1)
    boundary = edges[trimesh.grouping.group_rows(edges, require_count=1)]
    return len(trimesh.graph.connected_components(boundary, min_len=1))


@pytest.fixture(scope="module")
def keep_clear(surface) -> np.ndarray:
    vertices = surface[0]
    return vertices[np.random.default_rng(3).choice(len(vertices), 25, replace=False)]


@pytest.fixture(scope="module")
def whole_and_holed(surface, keep_clear):
    """The same resampled surface (same seed) without and with three 5 mm holes."""
    return (_scan(surface, 11, keep_clear=keep_clear),
            _scan(surface, 11, n_holes=3, keep_clear=keep_clear))


def test_resampled_mesh_is_a_clean_new_mesh(surface, whole_and_holed):
    for scan in whole_and_holed:
        assert scan.vertices.dtype == np.float64 and scan.faces.dtype == np.int64
        assert np.isfinite(scan.vertices).all()
        assert scan.faces.min() == 0 and scan.faces.max() == len(scan.vertices) - 1
        mesh = _in_true_frame(scan)
        assert mesh.is_winding_consistent
        assert _n_components(scan.faces) == 1
        assert (mesh.face_normals[:, 2] > 0).mean() > 0.99  # normals out of the face (+z)
    whole = whole_and_holed[0]
    assert len(whole.vertices) == SETTINGS["n_vertices"] != len(surface[0])
    assert len(np.unique(whole.faces)) == len(whole.vertices)


def test_noise_free_scan_lies_on_the_true_surface(surface):
    true = trimesh.Trimesh(surface[0], surface[1], process=False)
    scan = _scan(surface, 1, noise_mm=0.0, n_holes=2, hole_radius_mm=(2.0, 5.0))
    _, distance, _ = trimesh.proximity.closest_point(true, _in_true_frame(scan).vertices)
    assert distance.max() < 1e-6
    # ... and it covers the whole surface, boundary included.
    assert np.isclose(_in_true_frame(_scan(surface, 1, noise_mm=0.0)).area, true.area, rtol=0.01)


def test_scanner_noise_has_the_requested_rms(surface, whole_and_holed):
    true = trimesh.Trimesh(surface[0], surface[1], process=False)
    scan = _in_true_frame(whole_and_holed[0])
    _, distance, _ = trimesh.proximity.closest_point(true, scan.vertices)
    assert np.sqrt(np.mean(distance ** 2)) == pytest.approx(0.3, abs=0.05)


def _euler_zyx(rotation: np.ndarray) -> np.ndarray:
    """(a, b, c) in degrees with rotation = Rz(c) Ry(b) Rx(a)."""
    return np.rad2deg([np.arctan2(rotation[2, 1], rotation[2, 2]), -np.arcsin(rotation[2, 0]),
                       np.arctan2(rotation[1, 0], rotation[0, 0])])


def test_pose_is_a_proper_rigid_transform_within_bounds(surface):
    rng = np.random.default_rng(0)
    poses = [random_pose(rng, 20.0, 50.0) for _ in range(300)] + [_scan(surface, 5).pose]
    for pose in poses:
        rotation = pose[:3, :3]
        assert np.allclose(rotation @ rotation.T, np.eye(3), atol=1e-12)
        assert np.linalg.det(rotation) == pytest.approx(1.0)
        assert np.array_equal(pose[3], [0.0, 0.0, 0.0, 1.0])
        assert np.all(np.abs(_euler_zyx(rotation)) <= 20.0 + 1e-9)
        assert np.all(np.abs(pose[:3, 3]) <= 50.0)
        assert np.allclose(invert_pose(pose) @ pose, np.eye(4), atol=1e-12)
    angles = np.array([_euler_zyx(p[:3, :3]) for p in poses[:-1]])
    assert np.all(np.abs(angles).max(0) > 18.0)  # the whole range is used, on every axis


def test_holes_are_clean_sized_and_clear_of_the_landmarks(whole_and_holed, keep_clear):
    whole, holed = whole_and_holed
    assert _n_boundary_loops(whole.faces) == 1
    assert _n_boundary_loops(holed.faces) == 1 + 3
    whole_mesh, holed_mesh = _in_true_frame(whole), _in_true_frame(holed)
    assert whole_mesh.area - holed_mesh.area == pytest.approx(3 * np.pi * 5.0 ** 2, rel=0.2)

    # Same seed, same surface before the cut: the faces that are gone make up the holes.
    distance, _ = cKDTree(holed_mesh.triangles_center).query(whole_mesh.triangles_center)
    assert np.sort(distance)[len(holed.faces) - 1] < 1e-6  # every kept face is a face of `whole`
    removed = np.flatnonzero(distance > 1e-6)
    assert len(removed) == len(whole.faces) - len(holed.faces)
    centres = whole_mesh.triangles_center[removed]
    clearance = cKDTree(keep_clear).query(centres)[0]
    assert clearance.min() >= 5.0
    labels = trimesh.graph.connected_component_labels(
        trimesh.graph.face_adjacency(faces=whole.faces[removed]), node_count=len(removed))
    assert labels.max() + 1 == 3
    hole_centres = np.array([centres[labels == k].mean(0) for k in range(3)])
    assert cKDTree(keep_clear).query(hole_centres)[0].min() >= 5.0 + 5.0 - 1.5


def test_holes_with_random_radii_stay_one_piece(surface, keep_clear):
    scan = _scan(surface, 2, n_holes=4, hole_radius_mm=(2.0, 5.0), keep_clear=keep_clear)
    assert _n_components(scan.faces) == 1 and _n_boundary_loops(scan.faces) == 1 + 4
    assert _in_true_frame(scan).is_winding_consistent


def test_impossible_holes_are_refused(surface):
    with pytest.raises(ValueError, match="no place for a clean hole"):
        _scan(surface, 0, n_holes=1, keep_clear=surface[0][::5])


def test_annotation_errors_follow_the_noise_model():
    rng = np.random.default_rng(4)
    true = rng.normal(0.0, 50.0, (20000, 3))
    pose = random_pose(rng, 20.0, 50.0)
    rate, sd, lo, hi = 0.05, 1.0, 5.0, 15.0
    annotation = annotate_landmarks(true, pose, rng, noise_mm=sd, mislabel_rate=rate,
                                    mislabel_mm=(lo, hi))
    assert annotation.points.shape == true.shape and annotation.mislabelled.dtype == bool
    offset = apply_pose(annotation.points, invert_pose(pose)) - true  # back in the true frame
    assert np.allclose(np.linalg.norm(offset, axis=1), annotation.error_mm)

    bad = annotation.mislabelled
    assert abs(bad.mean() - rate) < 4.0 * np.sqrt(rate * (1.0 - rate) / len(bad))
    good = offset[~bad]
    assert np.allclose(good.std(axis=0), sd, rtol=0.05)
    assert np.allclose(good.mean(axis=0), 0.0, atol=0.05)
    assert annotation.error_mm[~bad].mean() == pytest.approx(np.sqrt(8.0 / np.pi) * sd, rel=0.03)
    gross = annotation.error_mm[bad]
    assert gross.min() >= lo and gross.max() <= hi
    assert gross.mean() == pytest.approx(0.5 * (lo + hi), abs=0.5)
    direction = offset[bad] / gross[:, None]
    assert np.allclose(direction.mean(axis=0), 0.0, atol=0.1)


def test_same_seed_same_scan_other_seed_other_scan(surface, keep_clear):
    settings = dict(n_holes=2, keep_clear=keep_clear)
    first, again, other = (_scan(surface, seed, **settings) for seed in (21, 21, 22))
    for field in ("vertices", "faces", "pose"):
        assert np.array_equal(getattr(first, field), getattr(again, field))
    assert not np.array_equal(first.pose, other.pose)
    assert not np.array_equal(first.vertices, other.vertices)

    true = surface[0][:65]
    marks = [annotate_landmarks(true, first.pose, np.random.default_rng(seed), noise_mm=1.0,
                                mislabel_rate=0.1, mislabel_mm=(5.0, 15.0)) for seed in (1, 1, 2)]
    assert np.array_equal(marks[0].points, marks[1].points)
    assert np.array_equal(marks[0].mislabelled, marks[1].mislabelled)
    assert not np.array_equal(marks[0].points, marks[2].points)
