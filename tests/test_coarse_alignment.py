"""Finding the face without landmarks (pipeline/face/coarse.py): the scan's unit, the rigid start
on a real face in any orientation and on a whole head, and refusing what is no face.

Thresholds hold margins over what scripts/rigid_start.py measured (docs/geometry.md, "Finding
the face without landmarks"): the rigid start alone puts the menpo3d face's ibug18..68 a median
5.1-5.4 mm from their annotations, the registration after it 3.0-3.2 mm; faces score 3.8 mm at
most, a sphere 6.7, heads without a face 4.8-6.3 (the threshold, face.max_start_mm, is 4.3).
"""
import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
import trimesh
from scipy.spatial.transform import Rotation

from pipeline.face.coarse import find_face
from pipeline.face.units import MM_PER_UNIT, scan_size, scan_unit
from pipeline.face.io import read_scan
from pipeline.face.landmark_files import read_landmark_file
from pipeline.face.landmark_names import CONTOUR, read_ibug_vertices
from pipeline.face.register import RegistrationSettings, TemplateFitter
from pipeline.face.rigid import invert, transform
from presets import DEFAULTS

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"
MICROMETRES_TO_MM = 0.001
START_MEDIAN_MM = 7.0
REGISTERED_MEDIAN_MM = 4.5


@pytest.fixture(scope="module")
def head_scan():
    """scripts/rigid_start.py's test head: the face on a cranium with hair, ears, neck, shoulders."""
    spec = importlib.util.spec_from_file_location("rigid_start", ROOT / "scripts" / "rigid_start.py")
    script = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = script  # its dataclasses look their module up there
    spec.loader.exec_module(script)
    return script.head_scan


@pytest.fixture(scope="module")
def face():
    """The menpo3d face in mm, its triangles, its annotated ibug18..68 (mm) and their template vertices."""
    vertices, faces = read_scan(DATA / "standard_face.ply", "standard_face")
    annotated = read_landmark_file(DATA / "standard_face.ljson", "standard_face")
    on_template = read_ibug_vertices()
    names = [n for n in annotated.names if n not in CONTOUR]
    truth = np.stack([p for n, p in zip(annotated.names, annotated.points) if n not in CONTOUR]) * MICROMETRES_TO_MM
    return vertices * MICROMETRES_TO_MM, faces, truth, np.array([on_template[n] for n in names])


def _posed(vertices: np.ndarray, rotation: np.ndarray, shift: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pose = np.eye(4)
    pose[:3, :3], pose[:3, 3] = rotation, shift
    return transform(vertices, pose), pose


def _start_error(template, fit, truth_in_scan, truth_vertices) -> np.ndarray:
    """Distances (mm) of the template's landmark vertices, put on the scan by the start alone."""
    return np.linalg.norm(transform(template.vertices[truth_vertices], invert(fit.to_template)) - truth_in_scan, axis=1)


# --- the unit -------------------------------------------------------------------------------


@pytest.mark.parametrize("unit, mm_per_unit", list(MM_PER_UNIT.items()))
def test_unit_of_a_face_and_of_a_head(face, head_scan, unit, mm_per_unit):
    vertices, faces, _, _ = face
    head, _ = head_scan(vertices, faces, np.random.default_rng(0))
    assert 150.0 < scan_size(vertices) < 250.0 and 300.0 < scan_size(head) < 500.0
    assert scan_unit(vertices / mm_per_unit) == unit
    assert scan_unit(head / mm_per_unit) == unit


def test_stray_vertices_do_not_change_the_unit(face):
    vertices = face[0]
    strays = np.vstack([vertices, np.full((20, 3), 5000.0)])  # a few vertices 5 m away
    assert scan_unit(strays) == "mm"


@pytest.mark.parametrize("size", [2.0, 3000.0, 1e-3, 1e7])
def test_a_size_no_unit_fits_has_no_unit(face, size):
    vertices = face[0]
    assert scan_unit(vertices * size / scan_size(vertices)) is None


# --- the face -------------------------------------------------------------------------------


@pytest.mark.parametrize("rotation", [
    Rotation.from_euler("z", 180, degrees=True),  # upside down
    Rotation.from_euler("y", 180, degrees=True),  # facing away
    Rotation.random(random_state=3),
], ids=["upside_down", "facing_away", "random"])
def test_the_face_is_found_in_any_orientation(template, face, rotation):
    vertices, faces, truth, truth_vertices = face
    scan, pose = _posed(vertices, rotation.as_matrix(), np.array([120.0, -40.0, 300.0]))
    fit = find_face(template, scan, faces)
    assert np.median(_start_error(template, fit, transform(truth, pose), truth_vertices)) < START_MEDIAN_MM
    assert fit.score_mm <= DEFAULTS.face.max_start_mm


def test_the_face_is_found_on_a_head_with_neck_ears_hair_and_shoulders(template, face, head_scan):
    vertices, faces, truth, truth_vertices = face
    head, head_faces = head_scan(vertices, faces, np.random.default_rng(1))
    scan, pose = _posed(head, Rotation.random(random_state=4).as_matrix(), np.array([-80.0, 10.0, 50.0]))
    assert len(head) > 2 * len(vertices)  # the face is the smaller part
    fit = find_face(template, scan, head_faces)
    assert np.median(_start_error(template, fit, transform(truth, pose), truth_vertices)) < START_MEDIAN_MM
    assert fit.score_mm <= DEFAULTS.face.max_start_mm


def test_registration_from_the_start_lands_the_landmarks(template, face):
    """The whole path without landmarks: unit, start, TemplateFitter (its own start replaced)."""
    vertices, faces, truth, truth_vertices = face
    scan_mm, pose = _posed(vertices, Rotation.random(random_state=5).as_matrix(), np.array([30.0, 0.0, -90.0]))
    stored = scan_mm / MICROMETRES_TO_MM  # as the file has it
    unit = scan_unit(stored)
    assert unit == "um"
    fitter = TemplateFitter(template, RegistrationSettings.from_params(DEFAULTS.face))
    registered = fitter.register(stored * MM_PER_UNIT[unit], faces, None)
    assert registered.guides == 0 and registered.start_mm <= DEFAULTS.face.max_start_mm
    landed = transform(registered.vertices[truth_vertices], registered.to_scan)
    assert np.median(np.linalg.norm(landed - transform(truth, pose), axis=1)) < REGISTERED_MEDIAN_MM


@pytest.mark.parametrize("shape", ["sphere", "noise"])
def test_what_is_no_face_scores_badly(template, shape):
    rng = np.random.default_rng(6)
    if shape == "sphere":  # a head-sized ball: smooth, symmetric, no nose
        mesh = trimesh.creation.icosphere(subdivisions=5, radius=100.0)
        vertices, faces = np.asarray(mesh.vertices), np.asarray(mesh.faces)
    else:  # triangles between random points in a head-sized box
        vertices, faces = rng.uniform(-100.0, 100.0, (3000, 3)), rng.integers(0, 3000, (6000, 3))
    fit = find_face(template, vertices, faces)
    assert fit.score_mm > DEFAULTS.face.max_start_mm + 2.0


def test_a_head_without_a_face_is_refused(template, head_scan):
    """The hardest shape measured: ears, hair bumps and blobs offer nose-like bumps."""
    vertices, faces = head_scan(template.vertices, template.faces, np.random.default_rng(7))
    no_face = faces.min(axis=1) >= len(template.vertices)  # head_scan puts the face first
    fit = find_face(template, vertices, faces[no_face])
    assert fit.score_mm > DEFAULTS.face.max_start_mm
