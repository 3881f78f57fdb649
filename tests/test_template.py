import numpy as np
import torch
import trimesh

from pipeline.face.ams import default_am_table, measure
from pipeline.face.template import N_LANDMARKS, REGIONS, build_template, landmark_uv


def _mesh(t):
    return trimesh.Trimesh(t.vertices, t.faces, process=False)


def _dist(t, a, b):
    return float(np.linalg.norm(t.landmarks[a - 1] - t.landmarks[b - 1]))


def test_template_is_one_oriented_manifold_open_disc(template):
    mesh = _mesh(template)
    assert template.vertices.shape == (6790, 3)
    assert np.isfinite(template.vertices).all()
    assert len(mesh.split(only_watertight=False)) == 1
    assert mesh.is_winding_consistent
    assert not mesh.is_watertight  # open surface
    # Manifold: every edge in one or two faces; a disc has Euler characteristic 1.
    _, counts = np.unique(mesh.edges_sorted, axis=0, return_counts=True)
    assert counts.max() <= 2
    assert mesh.euler_number == 1
    # Oriented out of the face (+z) and no degenerate triangles.
    assert (mesh.face_normals[:, 2] > 0).mean() > 0.95
    assert mesh.area_faces.min() > 1e-3


def test_vertex_count_follows_the_parameter_and_build_is_deterministic():
    small = build_template(3000)
    assert small.vertices.shape == (3000, 3)
    again = build_template(3000)
    np.testing.assert_array_equal(small.vertices, again.vertices)
    np.testing.assert_array_equal(small.faces, again.faces)


def test_landmarks_are_distinct_vertices_at_their_places(template):
    idx = template.landmark_idx
    assert idx.shape == (N_LANDMARKS,) and len(np.unique(idx)) == N_LANDMARKS
    np.testing.assert_allclose(template.uv[idx], landmark_uv(), atol=1e-9)
    # Symmetric pairs mirror each other across x = 0.
    for right, left in ((1, 10), (11, 23), (15, 19), (32, 38), (39, 45), (57, 63)):
        a, b = template.landmarks[right - 1], template.landmarks[left - 1]
        assert a[0] < 0 < b[0]
        np.testing.assert_allclose(a * [-1, 1, 1], b, atol=0.6)


def test_anatomy_is_a_face_not_a_blob(template):
    lm = template.landmarks
    z = lm[:, 2]
    assert np.argmax(z) == 30  # pronasale is the most anterior landmark
    assert z[30] - z[34] > 15  # nose tip protrudes over subnasale
    assert z[14] < z[27] and z[18] < z[27]  # eyes sit deeper than nasion
    assert z[26] > z[27]  # glabella before nasion
    assert z[41] > z[50] and z[47] > z[51]  # lips before stomion and sublabiale
    assert z[52] > z[51]  # pogonion before sublabiale
    y = lm[:, 1]
    assert y[59] > y[26] > y[27] > y[30] > y[34] > y[50] > y[52] > y[53]  # top to bottom


def test_all_96_ams_finite_and_main_ones_in_adult_ranges(template):
    table = default_am_table()
    ams = measure(torch.from_numpy(template.vertices)[None], torch.from_numpy(template.landmark_idx), table)[0]
    assert ams.shape == (96,) and torch.isfinite(ams).all()
    ranges = {  # adult means +- ~3 SD (Farkas 1994)
        (32, 38): (28, 42),  # alar width
        (39, 45): (42, 62),  # mouth width
        (15, 19): (25, 41),  # intercanthal width
        (11, 23): (80, 100),  # biocular width
        (28, 54): (100, 135),  # n-me face height
        (60, 54): (160, 205),  # tr-me
        (28, 31): (40, 60),  # nose length n-prn
        (57, 63): (120, 150),  # bizygomatic
    }
    for (a, b), (lo, hi) in ranges.items():
        assert lo <= _dist(template, a, b) <= hi, (a, b, _dist(template, a, b))
    by_label = dict(zip(table.label, ams.tolist()))
    assert 75 < by_label["28-31-35"] < 110  # nasal tip angle n-prn-sn (adults ~85-100 deg)
    assert by_label["32-38/28-31"] < 1.0


def test_regions_cover_the_face(template):
    counts = np.bincount(template.region, minlength=len(REGIONS))
    assert (counts > 50).all()
    nose = REGIONS.index("nose")
    assert template.region[template.landmark_idx[30]] == nose
    assert template.region[template.landmark_idx[50]] == REGIONS.index("mouth")
