"""Evaluation of reconstructions (errors, dropping by uncertainty, CMP ratios, 1:2 matching)
and the direct voice -> eigenface-coefficient regression baseline."""
import numpy as np
import pytest
from presets import PLAIN_CNN, train_settings
import torch

from pipeline.reconstruction.evaluation import (CMP_RATIOS, OUTER_EYES, cmp_ratios, face_distances, matching_1v2,
                                                matching_interval, most_certain, paired_gain, ratio_errors,
                                                region_means, vertex_errors)
from pipeline.reconstruction.regression import (RegressionSettings, load_network, predict_coefficients, regression_loss,
                                                train_regression)


def test_vertex_errors_and_region_means_by_hand():
    truth = np.zeros((2, 3, 3))
    faces = truth.copy()
    faces[0, :, 0] = [3.0, 0.0, 0.0]
    faces[1, :, 1] = [0.0, 4.0, 2.0]
    errors = vertex_errors(faces, truth)
    np.testing.assert_allclose(errors, [[3, 0, 0], [0, 4, 2]])
    assert region_means(errors, np.array(["nose", "chin", "chin"])) == pytest.approx({"nose": 1.5, "chin": 1.5})


def test_most_certain_keeps_the_lowest_uncertainty():
    uncertainty = np.array([0.4, 0.1, 0.9, 0.2, 0.3, 0.3])
    assert most_certain(uncertainty, 0.0).all()
    np.testing.assert_array_equal(most_certain(uncertainty, 0.5), [False, True, False, True, True, False])
    assert most_certain(uncertainty[:1], 0.5).sum() == 1


def test_matching_perfect_mean_face_and_swapped():
    rng = np.random.default_rng(0)
    truth = rng.standard_normal((6, 50, 3))
    assert matching_1v2(face_distances(truth, truth)) == 1.0
    mean_face = np.repeat(truth.mean(0, keepdims=True), 6, axis=0)
    assert matching_1v2(face_distances(mean_face, truth)) == 0.5  # every pair is won once and lost once
    # Faces k = 0..3 are one point at x = k; each reconstruction sits at x = k + 0.5, so it ties
    # with the next face (half a win) and beats the rest: (3 * 2.5 + 3) / 12 comparisons.
    line = np.zeros((4, 1, 3))
    line[:, 0, 0] = np.arange(4)
    assert matching_1v2(face_distances(line + [0.5, 0, 0], line)) == pytest.approx(10.5 / 12)


def test_matching_interval_covers_the_estimate_and_is_deterministic():
    rng = np.random.default_rng(1)
    truth = rng.standard_normal((12, 40, 3))
    faces = truth + 6.0 * rng.standard_normal(truth.shape)
    d = face_distances(faces, truth)
    low, high = matching_interval(d, 500, 0.95, seed=3)
    assert low <= matching_1v2(d) <= high and 0 <= low < high <= 1
    assert (low, high) == matching_interval(d, 500, 0.95, seed=3)


def test_paired_gain_is_the_mean_difference_with_a_paired_interval():
    rng = np.random.default_rng(0)
    shared = rng.normal(2.0, 0.5, 40)  # speakers differ a lot; the method helps each a little
    baseline, method = shared + 0.1, shared + rng.normal(0.0, 0.02, 40)
    gain, low, high = paired_gain(baseline, method, 2000, 0.95, 1)
    assert gain == pytest.approx((baseline - method).mean())
    assert 0 < low < gain < high  # pairing removes the speaker spread: the interval excludes 0
    assert high - low < 0.03
    assert paired_gain(baseline, method, 2000, 0.95, 1) == (gain, low, high)


def test_cmp_ratios_are_scale_free_and_zero_error_on_the_truth():
    rng = np.random.default_rng(2)
    landmarks = rng.normal(size=(4, 65, 3)) * 30
    ratios = cmp_ratios(landmarks)
    a, b = CMP_RATIOS["MR"]
    expected = (np.linalg.norm(landmarks[:, a - 1] - landmarks[:, b - 1], axis=1)
                / np.linalg.norm(landmarks[:, OUTER_EYES[0] - 1] - landmarks[:, OUTER_EYES[1] - 1], axis=1))
    np.testing.assert_allclose(ratios["MR"], expected)
    assert ratio_errors(2.0 * landmarks, landmarks) == pytest.approx({k: 0.0 for k in CMP_RATIOS})
    wider = landmarks.copy()
    wider[:, a - 1] += 0.1 * (landmarks[:, a - 1] - landmarks[:, b - 1])  # mouth width x 1.1
    assert ratio_errors(wider, landmarks)["MR"] == pytest.approx(0.1)


def test_regression_loss_by_hand():
    predicted = torch.tensor([[1.0, 0.0], [0.0, 0.0]])
    target = torch.tensor([[0.0, 0.0], [0.0, 2.0]])
    # L2: (1 + 4) / 2. Triplets: |p0 - t0| = 1, |p0 - t1| = sqrt(5); |p1 - t1| = 2, |p1 - t0| = 0.
    l2 = regression_loss(predicted, target, 0.0, 1.0, torch.tensor([1, 0]))
    assert float(l2) == pytest.approx(2.5)
    both = regression_loss(predicted, target, 1.0, 1.0, torch.tensor([1, 0]))
    triplet = (max(0.0, 1 - np.sqrt(5) + 1) + max(0.0, 2 - 0 + 1)) / 2
    assert float(both) == pytest.approx(2.5 + triplet, rel=1e-4)


def test_regression_learns_a_coefficient_the_voice_carries():
    """Coefficient 1 shifts one mel band of a speaker's frames, coefficient 2 is noise: the
    network beats the zero predictor on held-out speakers for the first and not the second."""
    rng = np.random.default_rng(4)

    def speakers(n):
        targets = rng.standard_normal((n, 2))
        frames = [rng.standard_normal((160, 16)).astype(np.float32) for _ in range(n)]
        for f, t in zip(frames, targets):
            f[:, 3] += 3.0 * t[0]
        return frames, targets

    train_x, train_y = speakers(48)
    val_x, val_y = speakers(16)
    train = train_settings(iterations=150, batch_size=16, segment_frames=(60, 80), warmup_steps=10, eval_every=25,
                           **{**PLAIN_CNN, "lr": 0.01})
    settings = RegressionSettings(train, triplet_weight=0.1, margin=1.0, seed=5)
    result = train_regression(train_x, train_y, [[f] for f in val_x], val_y, settings)
    assert result.best_step > 0 and len(result.log) == 6
    net = load_network(result.state, 2, 16)
    test_x, test_y = speakers(24)
    predicted = predict_coefficients(net, [[f] for f in test_x], train.eval_frames, 16)
    error = ((predicted - test_y) ** 2).mean(0)
    chance = (test_y ** 2).mean(0)
    assert error[0] < 0.6 * chance[0], (error, chance)
    assert error[1] > 0.7 * chance[1], (error, chance)
