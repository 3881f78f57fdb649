import numpy as np
import pytest
import torch

from pipeline.face.ams import default_am_table, measure
from pipeline.synth.shape_model import FACTOR_NAMES, FACTORS, MEAN_SHIFT_MM, correlation_matrix


def _ams(faces, template):
    with torch.no_grad():
        return measure(torch.from_numpy(faces), torch.from_numpy(template.landmark_idx), default_am_table()).numpy()


def _am_by_label(table, label):
    return list(table.label).index(label)


def test_at_least_twenty_named_factors_with_valid_correlations():
    assert len(FACTORS) >= 20 and len(set(FACTOR_NAMES)) == len(FACTORS)
    corr = correlation_matrix()
    np.testing.assert_allclose(corr, corr.T)
    assert np.linalg.eigvalsh(corr).min() > 0


def test_measured_factors_are_exactly_the_measured_distances(shape_model, cohort, template):
    values, faces = cohort["F"]
    lm = faces[:, template.landmark_idx]
    pairs = shape_model.measure_pairs
    dist = np.linalg.norm(lm[:, pairs[:, 0]] - lm[:, pairs[:, 1]], axis=-1)
    np.testing.assert_allclose(dist, values[:, shape_model.measured], atol=1e-4)


@pytest.mark.parametrize("name", ["face_height", "face_width", "jaw_width", "nose_width", "mouth_width", "lower_face_height"])
def test_cohort_matches_norms_and_males_are_larger(cohort, name):
    i = FACTOR_NAMES.index(name)
    factor = FACTORS[i]
    for sex, (mean, sd) in (("M", factor.male), ("F", factor.female)):
        v = cohort[sex][0][:, i]
        assert abs(v.mean() - mean) < 4 * sd / np.sqrt(len(v))
        assert 0.8 * sd < v.std(ddof=1) < 1.2 * sd
    assert cohort["M"][0][:, i].mean() > cohort["F"][0][:, i].mean()


def test_sex_differences_show_in_the_ams(cohort, template):
    table = default_am_table()
    male, female = _ams(cohort["M"][1], template), _ams(cohort["F"][1], template)
    for label in ("32-38", "39-45", "57-63", "56-64", "60-54"):  # alar, mouth, bizygomatic, bigonial, face height
        k = _am_by_label(table, label)
        diff = male[:, k].mean() - female[:, k].mean()
        se = np.sqrt(male[:, k].var() / len(male) + female[:, k].var() / len(female))
        assert diff > 4 * se, label


def test_am_correlations_follow_the_factor_blocks(cohort, template):
    table = default_am_table()
    ams = _ams(cohort["F"][1], template)
    r = np.corrcoef(ams, rowvar=False)
    k = {label: _am_by_label(table, label) for label in ("32-38", "33-37", "11-15", "15-19", "13-17", "57-63", "56-64")}
    # Nose widths are independent of eye measures (different blocks, no shared factor).
    for nose in ("32-38", "33-37"):
        for eye in ("11-15", "15-19", "13-17"):
            assert abs(r[k[nose], k[eye]]) < 0.2, (nose, eye)
    # Face and jaw width share the size block; both alar widths move with nose width.
    assert r[k["57-63"], k["56-64"]] > 0.35
    assert r[k["32-38"], k["33-37"]] > 0.5


def test_residual_is_smooth_with_the_set_size(shape_model, template):
    rng = np.random.default_rng(1)
    res = np.stack([shape_model.residual(rng) for _ in range(200)])
    rms = np.sqrt((res ** 2).sum(-1).mean())
    assert abs(rms - 0.8) < 0.12
    # Smooth: along mesh edges the residual changes far less than its size.
    edges = np.unique(np.sort(template.faces[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2), axis=1), axis=0)
    jump = np.linalg.norm(res[:, edges[:, 0]] - res[:, edges[:, 1]], axis=-1)
    assert np.sqrt((jump ** 2).mean()) < 0.1 * rms


def test_eigenfaces_have_a_long_tail(cohort, template):
    faces = np.concatenate([cohort["M"][1], cohort["F"][1]]).reshape(600, -1)
    sv = np.linalg.svd(faces - faces.mean(0), compute_uv=False)
    share = np.cumsum(sv ** 2) / np.sum(sv ** 2)
    # The factors alone span len(FACTORS) directions; the residual carries variance beyond them.
    assert share[len(FACTORS) - 1] < 0.998
    assert np.searchsorted(share, 0.999) > len(FACTORS) + 10


def test_eye_factors_leave_nose_and_mouth_alone(shape_model, template):
    lower = [n - 1 for n in (31, 32, 35, 38, 39, 42, 45, 48, 51)]
    for name in ("intercanthal_width", "eye_width", "eye_height", "brow_height", "brow_ridge"):
        field = shape_model.fields[FACTOR_NAMES.index(name)]
        moved = np.linalg.norm(field[template.landmark_idx[lower]], axis=1).max()
        assert moved < 0.02 * np.linalg.norm(field, axis=1).max(), name


def test_invalid_sex_is_an_error(shape_model):
    with pytest.raises(ValueError, match="sex"):
        shape_model.sample_factors(np.random.default_rng(0), "X", 1)


def test_fields_are_continuous_across_the_midline(shape_model, template):
    # Sideways motion must vanish at x = 0 (continuously), or faces crease along the midline.
    x = template.uv[:, 0]
    near = np.abs(x) < 1.0
    for name, field in zip(FACTOR_NAMES, shape_model.fields):
        assert np.all(np.abs(field[near, 0]) <= 0.05 * np.abs(x[near]) + 1e-9), name


def test_sampled_faces_have_no_folded_triangles(shape_model, cohort):
    for sex in ("M", "F"):
        assert not any(shape_model.folds(face) for face in cohort[sex][1])
    # The check itself sees a fold: push the nose tip through the upper lip.
    folded = shape_model.template.vertices.copy()
    folded[shape_model.template.landmark_idx[30], 1] -= 15.0
    assert shape_model.folds(folded)


# Landmark distances (1-based landmarks) that synth.mean_shift = 1 moves, by these many mm ...
SHIFTED = {"ch-ch": ((39, 45), 8.0), "en-en": ((15, 19), 4.0), "n-sn": ((28, 35), 5.0), "go-go": ((56, 64), -8.0)}
# ... and some it leaves alone.
UNSHIFTED = {"al-al": (32, 38), "zy-zy": (57, 63), "ex-en": (11, 15), "n-me": (28, 54), "sn-sto": (35, 51)}


def _distances(faces, template, pairs):
    marks = faces[:, template.landmark_idx]
    return {name: np.linalg.norm(marks[:, a - 1] - marks[:, b - 1], axis=1) for name, (a, b) in pairs.items()}


def _faces(model, n):
    """(factor values [n, F], faces [n, T, 3]): person i from a stream of its own, sexes alternating."""
    drawn = [model.sample_face(np.random.default_rng([11, i]), "MF"[i % 2]) for i in range(n)]
    return np.stack([v for v, _ in drawn]), np.stack([f for _, f in drawn])


def test_mean_shift_moves_the_cohort_mean_by_the_named_amounts(shape_model, template):
    assert set(MEAN_SHIFT_MM) <= set(FACTOR_NAMES)
    shifted = shape_model.shifted(1.0)
    assert shifted.template is shape_model.template  # the template stays what it is
    plain_values, plain = _faces(shape_model, 200)
    moved_values, moved = _faces(shifted, 200)
    pairs = {name: pair for name, (pair, _) in SHIFTED.items()} | UNSHIFTED
    before, after = _distances(plain, template, pairs), _distances(moved, template, pairs)
    for name, (_, amount) in SHIFTED.items():  # the mean of 200 faces moves away from the template by the amount
        assert (after[name].mean() - before[name].mean()) == pytest.approx(amount, abs=0.5), name
    # The same stream draws the same person, moved: exactly for measured distances, n-sn as the
    # remainder of n-me over sn-me (not collinear: 5.0-5.4). A few draws fold in one world only and are
    # drawn again, so they are not the same person.
    same = np.all(np.isclose(moved_values - plain_values, shifted.mean_offset, atol=1e-9), axis=1)
    assert same.mean() > 0.9
    for name, (_, amount) in SHIFTED.items():
        change = after[name][same] - before[name][same]
        np.testing.assert_allclose(change, amount, atol=0.4 if name == "n-sn" else 1e-3, err_msg=name)
    for name in UNSHIFTED:
        np.testing.assert_allclose(after[name][same], before[name][same], atol=1e-3, err_msg=name)


def test_no_mean_shift_draws_the_same_faces(shape_model):
    for i in range(5):
        unshifted = shape_model.shifted(0.0).sample_face(np.random.default_rng([12, i]), "MF"[i % 2])
        plain = shape_model.sample_face(np.random.default_rng([12, i]), "MF"[i % 2])
        assert all(np.array_equal(a, b) for a, b in zip(unshifted, plain))
