"""Simulated scans lie on the true surface, are clean meshes, and degrade it as specified;
the scan options (head, clutter, full rotation, unit) change what they should and nothing else."""
from __future__ import annotations

import hashlib
from dataclasses import replace

import numpy as np
import pytest
import trimesh
from scipy.spatial import Delaunay, cKDTree

from pipeline.config import parse_params
from pipeline.errors import ParamsError
from pipeline.face.io import read_scan, read_scan_mm
from pipeline.face.landmark_files import read_landmark_file
from pipeline.face.rigid import invert as invert_pose
from pipeline.face.rigid import transform as apply_pose
from pipeline.synth.clutter import BLOBS_PER_UNIT, STRANDS_PER_UNIT, hair_bumps
from pipeline.synth.cohort import simulate_person
from pipeline.synth.head import draw_head_shape
from pipeline.synth.scans import (UNITS, annotate_landmarks, boundary_loops, in_unit, random_pose, simulate_scan,
                                  true_frame)
from pipeline.synth.writer import write_person
from presets import scan_settings, voice_settings

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


# ---- the scan options: synth.scan.head, clutter, rotation_deg = 180, unit ----

VOICE = voice_settings(seconds=5.0, recordings=1)
SMALL_SCAN = {"vertices": (4000, 4000)}
OPTIONS = {"plain": {}, "whole": {"head": "whole"}, "front": {"head": "front"}, "clutter": {"clutter": 1.0},
           "cm": {"unit": "cm"}, "turned": {"rotation_deg": 180.0}}


def _digest(*arrays: np.ndarray) -> str:
    h = hashlib.sha256()
    for a in arrays:
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def _everything(person) -> str:
    return _digest(person.factors, person.vertices, person.scan.vertices, person.scan.faces, person.scan.pose,
                   person.annotation.points, person.annotation.mislabelled, person.annotation.error_mm,
                   person.latents, *[r.audio for r in person.recordings])


@pytest.mark.parametrize("speaker_id, sex, index, seed, digest", [
    ("M0001", "M", 0, 3, "8e7b0c3928283596862fa1c804c9da2c41ac11ea933c2c45810c13870341247d"),
    ("F0002", "F", 4, 0, "629629d9dca5f9aa2fa4a5aa53666c94173431dc23c19ed003b49ba997acc2db"),
])
def test_with_the_options_off_a_person_is_byte_identical_to_before_them(shape_model, speaker_id, sex, index,
                                                                         seed, digest):
    # Digests of the code before the scan options existed (commit 0967a86), default settings.
    person = simulate_person(shape_model, speaker_id, sex, index, seed, scan_settings(), VOICE)
    assert _everything(person) == digest


@pytest.fixture(scope="module")
def people(shape_model):
    """One person (F0002 of seed 0) with each scan option on by itself, small face scans."""
    return {name: simulate_person(shape_model, "F0002", "F", 4, 0, scan_settings(**SMALL_SCAN, **options), VOICE)
            for name, options in OPTIONS.items()}


@pytest.mark.parametrize("name", [n for n in OPTIONS if n != "plain"])
def test_an_option_leaves_the_face_annotation_and_voice_as_they_were(people, name):
    plain, other = people["plain"], people[name]
    for field in ("factors", "vertices", "latents"):
        assert np.array_equal(getattr(plain, field), getattr(other, field)), field
    assert np.array_equal(plain.recordings[0].audio, other.recordings[0].audio)
    assert np.array_equal(plain.annotation.mislabelled, other.annotation.mislabelled)
    assert np.array_equal(plain.annotation.error_mm, other.annotation.error_mm)
    assert not np.array_equal(plain.scan.vertices, other.scan.vertices)
    if name == "turned":  # a new rotation from the same draws: same translation, same scan in the true frame
        assert np.array_equal(plain.scan.pose[:3, 3], other.scan.pose[:3, 3])
        assert np.array_equal(plain.scan.faces, other.scan.faces)
        assert np.allclose(true_frame(plain.scan), true_frame(other.scan), atol=1e-9)
    elif name != "cm":  # the head and the clutter only add surface to the scan of the face
        assert np.array_equal(plain.scan.pose, other.scan.pose)
        assert np.array_equal(plain.annotation.points, other.annotation.points)
        assert len(other.scan.vertices) > len(plain.scan.vertices)
        index = {row.tobytes(): i for i, row in enumerate(other.scan.vertices)}
        moved = np.array([index[row.tobytes()] for row in plain.scan.vertices])  # KeyError if a vertex moved
        triangles = {tuple(f) for f in other.scan.faces.tolist()}
        assert all(tuple(f) in triangles for f in moved[plain.scan.faces].tolist())


def test_unit_scaling_is_exact_for_scan_pose_and_annotation(people):
    plain, cm = people["plain"], people["cm"]
    assert (plain.scan.unit, cm.scan.unit) == ("mm", "cm")
    assert np.array_equal(cm.scan.vertices, plain.scan.vertices * 0.1)
    assert np.array_equal(cm.annotation.points, plain.annotation.points * 0.1)
    assert np.array_equal(cm.scan.pose[:3], plain.scan.pose[:3] * 0.1)
    assert np.array_equal(cm.scan.faces, plain.scan.faces)
    for unit, scale in UNITS.items():
        scan, annotation = in_unit(plain.scan, plain.annotation, unit)
        assert np.array_equal(scan.vertices, plain.scan.vertices * scale)
        assert np.array_equal(annotation.points, plain.annotation.points * scale)
        # The pose maps the true face (mm) onto the scan in its unit.
        assert np.allclose(apply_pose(plain.vertices[:5], scan.pose),
                           apply_pose(plain.vertices[:5], plain.scan.pose) * scale, rtol=1e-12, atol=1e-9 * scale)


@pytest.mark.parametrize("unit", ["m", "um"])
def test_scan_and_landmark_files_share_their_unit(people, tmp_path, unit, template):
    plain = people["plain"]
    scan, annotation = in_unit(plain.scan, plain.annotation, unit)
    row = write_person(tmp_path, replace(plain, scan=scan, annotation=annotation))
    vertices, _ = read_scan(tmp_path / row["scan"], plain.speaker_id)
    points = read_landmark_file(tmp_path / row["landmarks"], plain.speaker_id).points
    scale = UNITS[unit]
    assert np.allclose(vertices, plain.scan.vertices * scale, rtol=1e-6, atol=1e-4 * scale)
    assert np.allclose(points, plain.annotation.points * scale, rtol=0, atol=1e-4 * scale)  # 1e-4 mm
    good = ~plain.annotation.mislabelled
    gap = cKDTree(vertices).query(points[good])[0] / scale  # mm
    assert np.percentile(gap, 90) < 5.0  # the annotation lies on the scan, in the same unit and frame
    in_mm, _, found = read_scan_mm(tmp_path / row["scan"], plain.speaker_id)  # and sfv finds the unit
    assert found == unit and np.allclose(in_mm, plain.scan.vertices, atol=1e-3)


def _measures(face: np.ndarray, template) -> dict[str, float]:
    marks = face[template.landmark_idx]
    return {"zy": float(np.linalg.norm(marks[56] - marks[62])), "n_me": float(np.linalg.norm(marks[27] - marks[53])),
            "nasion_y": marks[27, 1], "menton_y": marks[53, 1], "glabella_z": marks[26, 2]}


def test_a_whole_head_scan_has_a_head_and_neck_of_adult_size(people, template):
    plain, whole = people["plain"], people["whole"]
    face, head = true_frame(plain.scan), true_frame(whole.scan)
    m = _measures(plain.vertices, template)
    low, high = 0.96, 1.04  # each head proportion varies by +-4 % around the face's; noise 0.3 mm
    assert 1.10 * m["zy"] * low - 2 < np.ptp(head[:, 0]) < 1.10 * m["zy"] * high + 2  # eu-eu ~ 150 mm
    top = head[:, 1].max() - m["nasion_y"]
    assert 0.95 * m["n_me"] * low - 2 < top < 0.95 * m["n_me"] * high + 2  # vertex above the nasion
    assert m["glabella_z"] - head[:, 2].min() > 1.42 * m["zy"] * low - 2  # g-op ~ 190 mm
    neck = m["menton_y"] - head[:, 1].min()
    assert 40 - 2 < neck < 80 + 2  # the neck is cut 40-80 mm below the menton
    assert head[:, 2].max() == face[:, 2].max()  # nothing new in front of the face
    assert np.ptp(head[:, 1]) > 1.4 * np.ptp(face[:, 1]) and np.ptp(head[:, 2]) > 2.5 * np.ptp(face[:, 2])


@pytest.mark.parametrize("name", ["whole", "front"])
def test_a_head_scan_is_one_clean_piece_joined_to_the_face(people, name):
    plain, headed = people["plain"], people[name]
    mesh = trimesh.Trimesh(true_frame(headed.scan), headed.scan.faces, process=False)
    assert _n_components(headed.scan.faces) == 1 and mesh.is_winding_consistent
    assert np.unique(headed.scan.faces).size == len(headed.scan.vertices)
    outward = np.sum(mesh.face_normals * (mesh.triangles_center - mesh.vertices.mean(axis=0)), axis=1) > 0
    assert outward.mean() > 0.95
    # The face's rim is sewn to the head: what stays open is the face's holes and one cut.
    assert len(boundary_loops(headed.scan.faces)) == _n_boundary_loops(plain.scan.faces)
    edges = mesh.edges_unique_length
    assert np.percentile(edges, 99.9) < 3 * np.median(edges)  # no stretched triangles where the chart is


def test_the_front_of_a_head_is_cut_behind_the_ears(people, template):
    whole, front = true_frame(people["whole"].scan), true_frame(people["front"].scan)
    m = _measures(people["plain"].vertices, template)
    half_length = 0.71 * m["zy"]
    assert front[:, 2].min() > m["glabella_z"] - half_length * 1.04 * 1.15 - 2  # at most 15 % behind the centre
    assert front[:, 2].min() - whole[:, 2].min() > 0.7 * half_length
    assert np.isclose(front[:, 1].max(), whole[:, 1].max(), atol=3) and np.isclose(np.ptp(front[:, 0]),
                                                                                     np.ptp(whole[:, 0]), atol=3)


def test_head_shapes_draw_the_same_whatever_the_extent(template):
    shapes = [draw_head_shape(template.vertices, template.landmark_idx, extent, np.random.default_rng(2))
              for extent in ("front", "whole")]
    assert shapes[0].cut_y == shapes[1].cut_y and np.array_equal(shapes[0].cranium_axes, shapes[1].cranium_axes)
    assert np.isfinite(shapes[0].cut_z) and shapes[1].cut_z == -np.inf
    with pytest.raises(ValueError, match="head extent"):
        draw_head_shape(template.vertices, template.landmark_idx, "none", np.random.default_rng(2))


def test_clutter_is_strands_and_blobs_around_the_scan(people, template):
    plain, cluttered = people["plain"], people["clutter"]
    face, junk = true_frame(plain.scan), true_frame(cluttered.scan)
    pieces = trimesh.Trimesh(junk, cluttered.scan.faces, process=False).split(only_watertight=False)
    assert len(pieces) == 1 + STRANDS_PER_UNIT + BLOBS_PER_UNIT
    tree = cKDTree(face)
    hairline = plain.vertices[template.landmark_idx[59], 1]
    closed = [p for p in pieces if p.is_watertight]
    strands = [p for p in pieces if not p.is_watertight and len(p.vertices) < len(face)]
    assert len(closed) == BLOBS_PER_UNIT and len(strands) == STRANDS_PER_UNIT
    for blob in closed:  # centred 10-50 mm off the surface, 6-20 mm across (and lumpy)
        assert 10 - 2 < tree.query(blob.centroid)[0] < 50 + 2
        assert 6 * 0.7 < np.ptp(blob.vertices, axis=0).max() < 20 * 1.3
    for strand in strands:  # rooted above the hairline (less 10 mm), lying over the surface
        assert np.max(strand.vertices[:, 1]) > hairline - 10 - 1.2
        assert 6 * 0.4 * 20 * 0.8 < strand.area < 6 * 1.2 * 80 * 1.1  # a hexagonal tube, r 0.4-1.2, 20-80 mm long
        assert np.median(tree.query(strand.vertices)[0]) < 4.0 + 1.2 + 2.0


def test_hair_bumps_push_the_scalp_out_and_nothing_else():
    rng = np.random.default_rng(5)
    sphere = rng.normal(size=(4000, 3))
    sphere = 90 * sphere / np.linalg.norm(sphere, axis=1, keepdims=True)
    face = sphere[sphere[:, 2] > 60]  # the scanned face the head joins, in front
    bumped = hair_bumps(sphere, np.zeros(3), face, 20.0, 1.0, rng)
    lift = np.linalg.norm(bumped, axis=1) - np.linalg.norm(sphere, axis=1)
    assert np.allclose(np.cross(bumped, sphere), 0, atol=1e-9)  # radially out
    assert lift.min() > -1e-9 and lift.max() > 1.0
    still = (sphere[:, 1] <= 20) | (sphere[:, 2] > 60)  # below the hairline, on the face
    assert np.array_equal(bumped[still], sphere[still]) and lift[~still].mean() > 0.1
    assert np.array_equal(hair_bumps(sphere, np.zeros(3), face, 20.0, 0.0, rng), sphere)


def test_full_rotation_is_uniform_and_draws_what_a_partial_one_draws():
    full = [random_pose(np.random.default_rng([9, i]), 180.0, 50.0) for i in range(4000)]
    partial = [random_pose(np.random.default_rng([9, i]), 20.0, 50.0) for i in range(4000)]
    assert all(np.array_equal(f[:3, 3], p[:3, 3]) for f, p in zip(full, partial))
    rotations = np.stack([f[:3, :3] for f in full])
    assert np.allclose(rotations @ rotations.transpose(0, 2, 1), np.eye(3), atol=1e-12)
    assert np.allclose(np.linalg.det(rotations), 1.0)
    for axis in np.eye(3):  # forward, up, sideways: every octant, each about 1/8 of the time
        turned = rotations @ axis
        octant = (turned > 0) @ [1, 2, 4]
        assert np.all(np.abs(np.bincount(octant, minlength=8) / len(turned) - 1 / 8) < 0.025)
    # Uniform over rotations: E[trace] = 0 and the angle's cosine has mean -1/2.
    assert abs(np.trace(rotations, axis1=1, axis2=2).mean()) < 0.06
    angles = np.rad2deg(np.arccos(np.clip((np.trace(rotations, axis1=1, axis2=2) - 1) / 2, -1, 1)))
    assert angles.max() > 170


@pytest.mark.parametrize("key, value", [("rotation_deg", 181), ("head", "back"), ("unit", "inch"), ("clutter", -1),
                                        ("clutter", 6)])
def test_bad_scan_options_are_errors_that_name_the_key(key, value):
    with pytest.raises(ParamsError, match=rf"synth\.scan\.{key}"):
        parse_params({"synth": {"scan": {key: value}}})
