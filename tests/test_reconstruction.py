"""Eigenface model and the AM-guided fit of its coefficients."""
import numpy as np
import pytest
import torch
from scipy.optimize import minimize

from pipeline.face.ams import default_am_table, measure
from pipeline.reconstruction.eigenface import Eigenface, fit_eigenface
from pipeline.reconstruction.fit import AmObjective, fit_coefficients

# The bars the fit must clear (docs/reconstruction.md quotes them from here).
MAX_ERROR_SHARE = 0.7  # all true AMs: mean per-vertex error below this share of the mean face's
MIN_IMPROVED = 0.75  # ... and at least this share of the held-out faces closer to the truth
SCIPY_SLACK = 0.01  # the batched fit's objective within this share of per-face L-BFGS-B's
HELD_OUT_FACES = 12  # women left out of the eigenface model, fitted from their true AMs


@pytest.fixture(scope="module")
def setup(cohort, template):
    """An eigenface model of 250 women, and HELD_OUT_FACES held-out women with their true AMs."""
    _, faces = cohort["F"]
    train, held_out = faces[:250], faces[250:250 + HELD_OUT_FACES]
    model = fit_eigenface(train, variance_share=0.99, max_components=0)
    table = default_am_table()
    idx = torch.from_numpy(template.landmark_idx)
    with torch.no_grad():
        train_ams = measure(torch.from_numpy(train), idx, table).numpy()
        true_ams = measure(torch.from_numpy(held_out), idx, table).numpy()
    mean, sd = train_ams.mean(0), train_ams.std(0, ddof=1)
    return model, table, template.landmark_idx, held_out, (true_ams - mean) / sd, mean, sd


def test_eigenface_keeps_the_variance_share_and_round_trips(setup, tmp_path):
    model, *_ = setup
    assert 5 < model.n_components < 249
    np.testing.assert_allclose(model.basis @ model.basis.T, np.eye(model.n_components), atol=1e-8)
    beta = np.random.default_rng(0).standard_normal((3, model.n_components))
    np.testing.assert_allclose(model.coefficients(model.shapes(beta)), beta, atol=1e-8)
    model.save(tmp_path / "m.npz")
    loaded = Eigenface.load(tmp_path / "m.npz")
    np.testing.assert_array_equal(loaded.basis, model.basis)
    assert fit_eigenface(np.repeat(model.mean[None], 5, 0) + 0.01 * np.random.default_rng(1).standard_normal(
        (5,) + model.mean.shape), variance_share=0.98, max_components=2).n_components == 2


def test_all_true_ams_move_the_face_from_the_mean_towards_the_truth(setup):
    model, table, idx, held_out, targets, mean, sd = setup
    objective = AmObjective.build(model, idx, table, targets, np.ones(len(table)), mean, sd, lam=1e-6)
    beta, _ = fit_coefficients(objective)
    fitted = model.shapes(beta)
    error_fit = np.linalg.norm(fitted - held_out, axis=2).mean()
    error_mean = np.linalg.norm(model.mean - held_out, axis=2).mean()
    # The best any coefficients can do is the truth's projection onto the model.
    error_best = np.linalg.norm(model.shapes(model.coefficients(held_out)) - held_out, axis=2).mean()
    assert error_fit < MAX_ERROR_SHARE * error_mean, (error_fit, error_mean, error_best)
    improved = np.linalg.norm(fitted - held_out, axis=2).mean(1) < np.linalg.norm(model.mean - held_out, axis=2).mean(1)
    assert improved.mean() >= MIN_IMPROVED


def test_no_selected_am_returns_the_mean_face(setup):
    model, table, idx, _, targets, mean, sd = setup
    objective = AmObjective.build(model, idx, table, targets, np.zeros(len(table)), mean, sd, lam=0.1)
    beta, values = fit_coefficients(objective)
    np.testing.assert_allclose(beta, 0.0, atol=1e-12)
    np.testing.assert_allclose(model.shapes(beta)[0], model.mean)
    assert values.max() == pytest.approx(0.0, abs=1e-20)


def test_batched_fit_matches_per_face_scipy(setup):
    model, table, idx, _, targets, mean, sd = setup
    weights = np.zeros(len(table))
    weights[np.argsort(-np.abs(targets).mean(0))[:10]] = 1.0  # ten AMs, as reconstruct.top_k
    objective = AmObjective.build(model, idx, table, targets, weights, mean, sd, lam=0.1)
    _, batched = fit_coefficients(objective)
    for s in range(4):
        single = AmObjective.build(model, idx, table, targets[s:s + 1], weights, mean, sd, lam=0.1)

        def value_and_grad(b):
            beta = torch.tensor(b[None], requires_grad=True)
            value = single.per_speaker(beta).sum()
            value.backward()
            return float(value.detach()), beta.grad.numpy()[0].copy()
        reference = minimize(value_and_grad, np.zeros(model.n_components), jac=True, method="L-BFGS-B",
                             options={"maxiter": 2000, "ftol": 1e-15, "gtol": 1e-10})
        assert batched[s] <= reference.fun * (1 + SCIPY_SLACK) + 1e-9, (batched[s], reference.fun)


def test_eigenface_stage_leaves_out_the_evaluation_speakers(cohort, tmp_path):
    import json

    import pandas as pd
    from presets import params_with, paths_under

    from pipeline.stages import run_stage

    faces = np.concatenate([cohort["M"][1][:8], cohort["F"][1][:8]]).astype(np.float32)
    ids = [f"M{i}" for i in range(8)] + [f"F{i}" for i in range(8)]
    paths = paths_under(tmp_path)
    paths.registered.parent.mkdir(parents=True)
    np.save(paths.registered, faces)
    pd.DataFrame({"speaker_id": ids, "gender": ["M"] * 8 + ["F"] * 8}).to_csv(paths.face_speakers, index=False)
    paths.splits.mkdir(parents=True)
    for gender, prefix in (("male", "M"), ("female", "F")):
        split = ["e", "e"] + ["t"] * 6
        pd.DataFrame({"repeat": 1, "speaker_id": [f"{prefix}{i}" for i in range(8)], "split": split}).to_csv(
            paths.splits / f"{gender}.csv", index=False)
    run_stage("eigenface", None, params_with(reconstruct={"variance_share": 1.0}), paths)
    male = Eigenface.load(paths.eigenface / "male.npz")
    np.testing.assert_allclose(male.mean, faces[2:8].astype(np.float64).mean(0), atol=1e-4)
    summary = json.loads(paths.eigenface_summary.read_text())
    assert summary["female"]["faces"] == 6 and summary["female"]["components"] == 5


def test_ensemble_over_repeats_and_the_guiding_ams():
    import pandas as pd

    from pipeline.reconstruction.targets import ensemble_predictions, guiding_ams

    predictions = pd.DataFrame({
        "repeat": [1, 2, 1, 2, 1], "split": ["e", "e", "e", "e", "v2"], "speaker_id": ["a", "a", "a", "a", "b"],
        "am_id": [1, 1, 2, 2, 1], "mean": [10.0, 14.0, 1.0, 1.0, 99.0], "var": [1.0, 3.0, 2.0, 2.0, 1.0]})
    ensemble = ensemble_predictions(predictions).set_index("am_id")
    # AM 1: precisions 1 and 1/3 -> w = 0.75, mean = 0.75 * (10 + 14/3) = 11; uncertainty 2 * 0.75
    assert ensemble.loc[1, "mean"] == pytest.approx(11.0) and ensemble.loc[1, "uncertainty"] == pytest.approx(1.5)
    assert ensemble.loc[2, "uncertainty"] == pytest.approx(2.0) and set(ensemble["speaker_id"]) == {"a"}
    selection = pd.DataFrame({"am_id": [1, 2, 3, 4], "z": [1, 0, 1, 1], "ci_u": [0.9, 0.1, 0.7, 0.95]})
    assert guiding_ams(selection, 2).tolist() == [3, 1]
    assert guiding_ams(selection.assign(z=0), 2).tolist() == []


def test_face_fit_bundle_round_trips_and_fits_like_the_objective(setup, tmp_path):
    """The saved fit (what `sfv predict` loads) gives the faces the objective gives."""
    from pipeline.reconstruction.bundle import FaceFit

    model, table, idx, held_out, targets, mean, sd = setup
    guides = np.zeros(len(table), bool)
    guides[[3, 10, 40]] = True
    fit = FaceFit(table, mean, sd, guides.copy(), np.linspace(0.5, 1.5, len(table)), guides, 0.5, idx,
                  np.array([[0, 1, 2]]))
    fit.save(tmp_path / "fit.npz")
    loaded = FaceFit.load(tmp_path / "fit.npz")
    assert loaded.table.label == table.label and loaded.lam == 0.5
    raw = targets[:3] * sd + mean
    faces, beta, values = loaded.fit(model, raw)
    objective = AmObjective.build(model, idx, table, targets[:3], guides.astype(float), mean, sd, lam=0.5)
    expected, _ = fit_coefficients(objective)
    np.testing.assert_allclose(beta, expected, atol=1e-8)
    np.testing.assert_allclose(faces, model.shapes(expected), atol=1e-6)
