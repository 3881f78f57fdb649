"""embedding_ridge: the ridge on the embeddings stage's vectors (pipeline/estimator/embedding_ridge.py)."""
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch

from pipeline.audio.frontend import FrontEnd
from pipeline.config import AudioParams
from pipeline.errors import DatasetError
from pipeline.estimator.data import repeat_data
from pipeline.estimator.embedding_ridge import EmbeddingInput, EmbeddingRidgeEstimator, EmbeddingVoiceModel
from pipeline.estimator.null import permutation_table
from pipeline.estimator.ridge import StatsRidge
from pipeline.estimator.statistics import speaker_statistics
from pipeline.estimator.store import load_repeat, save_repeat
from pipeline.splits import make_splits

INPUT = EmbeddingInput(("egemaps",), (-1,), 10.0, 8, False)


def _world(n: int = 120, dim: int = 40, seed: int = 0):
    """Two recordings' vectors per speaker; AM 0 is carried by vector entries 0 and 1, AM 1 by nothing."""
    rng = np.random.default_rng(seed)
    ids = [f"s{i:03d}" for i in range(n)]
    latent = rng.standard_normal(n)
    targets = pd.DataFrame({"am_1": latent + 0.4 * rng.standard_normal(n), "am_2": rng.standard_normal(n)}, index=ids)
    vectors = {}
    for i, s in enumerate(ids):
        v = rng.standard_normal((2, dim))
        v[:, 0] += 2 * latent[i]
        v[:, 1] -= latent[i]
        vectors[s] = v
    logmels = {s: [rng.standard_normal((50, 8)).astype(np.float32)] for s in ids}
    return ids, targets, vectors, logmels


def test_a_row_is_the_mean_of_the_recordings_vectors_then_the_log_mel_statistics():
    vectors = np.array([[1.0, 2.0], [3.0, 6.0]])
    assert INPUT.row(vectors, None).tolist() == [2.0, 4.0]
    logmels = [np.random.default_rng(0).standard_normal((30, 4))]
    with_logmel = EmbeddingInput(("egemaps",), (-1,), 10.0, 8, True)
    row = with_logmel.row(vectors, logmels)
    assert row.shape == (2 + 4 * 17 // 2,)
    assert np.array_equal(row[2:], speaker_statistics(logmels))
    assert EmbeddingInput.from_spec(with_logmel.spec()) == with_logmel


def test_it_learns_the_carried_am_and_not_the_other_and_is_stats_ridge_on_the_rows():
    ids, targets, vectors, logmels = _world()
    estimator = EmbeddingRidgeEstimator(INPUT)
    inputs = estimator.speaker_inputs(logmels, vectors)
    assert all(len(r) == 1 and r[0].shape == (1, 40) for r in inputs.values())
    splits = make_splits(ids, 3, 0, "male", evaluation_share=0.1)
    ratios = []
    for r, part in splits.groupby("repeat"):
        data, _, _ = repeat_data(r, r, dict(zip(part["speaker_id"], part["split"])), inputs, targets)
        (result,) = estimator.fit([data], torch.device("cpu"))
        v2 = np.array([s == "v2" for s in data.scored_splits])
        ratios.append(((result.mean_z[v2] - data.scored_targets[v2]) ** 2).mean(0)
                      / (data.scored_targets[v2] ** 2).mean(0))
        # The same ridge stats_ridge fits, on the speakers' rows.
        train = np.stack([vectors[s].mean(0) for s in part.speaker_id[part.split == "t"]])
        v1 = [s for s, sp in zip(data.scored_ids, data.scored_splits) if sp == "v1"]
        ridge = StatsRidge(clip=True).fit(train, data.train_targets, np.stack([vectors[s].mean(0) for s in v1]),
                                 data.scored_targets[np.array(data.scored_splits) == "v1"])
        np.testing.assert_allclose(ridge.predict(np.stack([vectors[s].mean(0) for s in data.scored_ids]))[0],
                                   result.mean_z, rtol=1e-10, atol=1e-12)
    ratio = np.mean(ratios, axis=0)
    assert ratio[0] < 0.4 and ratio[1] > 0.9, ratio


def test_a_stored_repeat_keeps_its_encoders_and_predicts_alike(tmp_path):
    ids, targets, vectors, logmels = _world(60)
    estimator = EmbeddingRidgeEstimator(INPUT)
    inputs = estimator.speaker_inputs(logmels, vectors)
    split = dict(zip(ids, ["t"] * 40 + ["v1"] * 8 + ["v2"] * 8 + ["e"] * 4))
    data, mean, sd = repeat_data(1, 1, split, inputs, targets)
    (result,) = estimator.fit([data], torch.device("cpu"))
    path = tmp_path / "repeat_001.npz"
    save_repeat(path, result, estimator=estimator.name, fingerprint="f", front_end=FrontEnd.from_params(AudioParams()),
                am_ids=np.array([1, 2]), target_mean=mean, target_sd=sd, scored_ids=data.scored_ids,
                scored_splits=data.scored_splits)
    stored = load_repeat(path)
    assert isinstance(stored.model, EmbeddingVoiceModel) and stored.model.inputs == INPUT
    new_voice = [INPUT.row(vectors["s059"], None)[None]]
    np.testing.assert_allclose(stored.predict(new_voice, torch.device("cpu"))[0],  # stored as float32
                               result.model.predict(new_voice, torch.device("cpu"))[0], rtol=1e-6)


def test_missing_vectors_name_the_speaker():
    ids, _, vectors, logmels = _world(10)
    del vectors["s003"]
    with pytest.raises(DatasetError, match="s003"):
        EmbeddingRidgeEstimator(INPUT).speaker_inputs(logmels, vectors)


def test_its_permutation_null_shuffles_the_rows_it_fits():
    """The null reads the same rows as the fit: the carried AM is never reached by a shuffling."""
    ids, targets, vectors, logmels = _world(80)
    estimator = EmbeddingRidgeEstimator(INPUT)
    splits = make_splits(ids, 3, 0, "male", evaluation_share=0.1)
    null = estimator.permutation_null(splits, estimator.speaker_inputs(logmels, vectors), targets, 200, 10, 0, "null")
    direct = permutation_table(splits, {s: [v.mean(0)[None]] for s, v in vectors.items()}, targets, 200, 10, 0, "null",
                               lambda r: r[0][0], clip=True)
    pd.testing.assert_frame_equal(null, direct)
    carried = null[null.am_id == 1].mean_ratio.to_numpy()
    assert len(carried) == 201 and (carried[1:] > carried[0]).all()


def test_a_missing_measure_counts_as_the_training_mean():
    """A Praat measure of a recording without voicing is NaN; the ridge fills it with D_t's mean."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((60, 5))
    y = x[:, :1] + 0.1 * rng.standard_normal((60, 1))
    holed = x.copy()
    holed[[3, 7], 2] = np.nan
    holed[:, 4] = np.nan  # a measure no training speaker has
    model = StatsRidge().fit(holed[:40], y[:40], holed[40:50], y[40:50])
    assert np.isfinite(model.coef_).all()
    assert model.x_mean_[2] == pytest.approx(np.nanmean(holed[:40, 2]))
    filled = holed[50:].copy()
    filled[:, 4] = 0.0
    filled[0, 2] = np.nan
    mean, var = model.predict(filled)
    at_mean = filled.copy()
    at_mean[0, 2] = model.x_mean_[2]
    np.testing.assert_allclose(mean, model.predict(at_mean)[0])
    assert np.isfinite(var).all()


def test_predict_embeds_a_new_voice_with_the_encoders_the_repeats_recorded(tmp_path):
    """`sfv predict`'s input for an embedding model: the row of the real eGeMAPS vector of the
    voice's speech, as the embeddings stage computes it."""
    from pipeline.embeddings import EncoderSet
    from pipeline.predict import model_inputs

    ids, targets, vectors, logmels = _world(60, dim=88)
    estimator = EmbeddingRidgeEstimator(INPUT)
    split = dict(zip(ids, ["t"] * 40 + ["v1"] * 8 + ["v2"] * 8 + ["e"] * 4))
    data, mean, sd = repeat_data(1, 1, split, estimator.speaker_inputs(logmels, vectors), targets)
    (result,) = estimator.fit([data], torch.device("cpu"))
    save_repeat(tmp_path / "r.npz", result, estimator=estimator.name, fingerprint="f",
                front_end=FrontEnd.from_params(AudioParams()), am_ids=np.array([1, 2]), target_mean=mean,
                target_sd=sd, scored_ids=data.scored_ids, scored_splits=data.scored_splits)
    stored = load_repeat(tmp_path / "r.npz")
    t = np.arange(32000) / 16000
    speech = [(0.3 * np.sign(np.sin(2 * np.pi * 120 * t)) * np.exp(-((t % 0.5) - 0.25) ** 2 / 0.02)).astype(np.float32)]
    inputs = model_inputs([stored], logmels["s000"], speech, 16000, torch.device("cpu"))
    expected = EncoderSet.build(INPUT.settings(), torch.device("cpu")).embed(speech, 16000)
    assert len(inputs) == 1 and inputs[0].shape == (1, 88)
    np.testing.assert_allclose(inputs[0][0], expected[0], rtol=1e-6)
    assert np.isfinite(stored.predict(inputs, torch.device("cpu"))[0]).all()
    # A log-mel model (no `inputs`) reads the log-mels themselves.
    log_mel_repeat = SimpleNamespace(model=object())
    assert model_inputs([log_mel_repeat], logmels["s000"], speech, 16000, torch.device("cpu")) is logmels["s000"]


def test_a_new_row_is_clipped_to_the_range_training_spans():
    """A dimension that is zero in all but one training speaker (a ReLU unit of GE2E) must not
    let a new speaker's value there, dozens of D_t SDs out, throw the prediction off."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((60, 6))
    x[:, 5] = 0.0
    x[0, 5] = 1e-3
    y = x[:, :1] + 0.1 * rng.standard_normal((60, 1))
    clipped, plain = (StatsRidge(clip=c).fit(x[:40], y[:40], x[40:50], y[40:50]) for c in (True, False))
    new = x[50:].copy()
    new[:, 5] = 0.5  # 500 times the one training value
    assert np.abs(clipped.predict(new)[0] - clipped.predict(x[50:])[0]).max() < 1.0
    np.testing.assert_allclose(clipped.predict(x[:40])[0], plain.predict(x[:40])[0])  # inside the range: the same
    restored = StatsRidge.from_state(clipped.state())
    assert restored.clip and np.allclose(restored.predict(new)[0], clipped.predict(new)[0], rtol=1e-5)
    assert not StatsRidge.from_state(plain.state()).clip
