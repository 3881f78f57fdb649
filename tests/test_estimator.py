"""The estimator library: splits, z-scoring, the loss, fusion, the network, and learning."""
import numpy as np
import pandas as pd
import pytest
import torch

from pipeline.estimator.data import joined_features, repeat_data, standardiser
from pipeline.estimator.fusion import fuse, segment_starts
from pipeline.estimator.network import StackedVoiceCNN
from pipeline.cohort import Gender
from pipeline.estimator.base import RepeatData
from pipeline.estimator.training import gaussian_nll, train_group
from pipeline.face.ams import default_am_table
from pipeline.splits import make_splits
from pipeline.synth.link import oracle
from pipeline.synth.voices import voice_cohort
from presets import PLAIN_CNN, front_end, train_settings, voice_settings

IDS = [f"S{i:03d}" for i in range(50)]
# The strong-coupling world and what the CNN must reach on it (docs/testing.md quotes these).
STRONG_MEN = 160
STRONG_COUPLING = 1.6
STRONGEST_RATIO_BELOW = 0.8  # mean D_v2 ratio of the five best-explained AMs
EYE_BROW_RATIO = (0.85, 1.25)  # mean D_v2 ratio of the eye and brow AMs lies within


def test_splits_are_speaker_disjoint_complete_and_keep_the_evaluation_set():
    splits = make_splits(IDS, repeats=6, seed=3, gender="male", evaluation_share=0.1)
    held_out = None
    for _, rows in splits.groupby("repeat"):
        assert sorted(rows["speaker_id"]) == sorted(IDS)  # every speaker once per repeat
        assert rows["speaker_id"].is_unique
        e = set(rows.loc[rows["split"] == "e", "speaker_id"])
        assert len(e) == 5
        held_out = held_out or e
        assert e == held_out  # D_e is fixed
        counts = rows["split"].value_counts()
        assert (counts["t"], counts["v1"], counts["v2"]) == (35, 5, 5)  # 7/1/1 of the 45 others
    # Repeats differ, so the splits are fresh.
    v2 = [frozenset(r.loc[r["split"] == "v2", "speaker_id"]) for _, r in splits.groupby("repeat")]
    assert len(set(v2)) == 6


def test_splits_are_deterministic_and_extending_repeats_keeps_the_earlier_ones():
    a = make_splits(IDS, 4, seed=3, gender="female", evaluation_share=0.1)
    pd.testing.assert_frame_equal(a, make_splits(IDS, 4, seed=3, gender="female", evaluation_share=0.1))
    longer = make_splits(IDS, 7, seed=3, gender="female", evaluation_share=0.1)
    pd.testing.assert_frame_equal(a, longer[longer["repeat"] <= 4].reset_index(drop=True))
    assert not a.equals(make_splits(IDS, 4, seed=4, gender="female", evaluation_share=0.1))
    with pytest.raises(ValueError, match="too few"):
        make_splits(IDS[:4], 2, seed=0, gender="male", evaluation_share=0.1)


def test_targets_are_z_scored_with_training_speakers_only():
    rng = np.random.default_rng(0)
    targets = pd.DataFrame(rng.normal(50, 4, (10, 3)), index=[f"s{i}" for i in range(10)])
    split = {f"s{i}": "t" for i in range(7)} | {"s7": "v1", "s8": "v2", "s9": "e"}
    features = {s: [rng.standard_normal((30, 4)).astype(np.float32)] for s in targets.index}
    base, mean, sd = repeat_data(1, 0, split, features, targets)
    np.testing.assert_allclose(mean, targets.iloc[:7].mean())
    np.testing.assert_allclose(sd, targets.iloc[:7].std(ddof=1))
    # Changing a held-out speaker's AMs changes neither the statistics nor the training targets.
    targets.loc["s8"] += 1000.0
    moved, mean2, sd2 = repeat_data(1, 0, split, features, targets)
    np.testing.assert_array_equal(mean, mean2)
    np.testing.assert_array_equal(sd, sd2)
    np.testing.assert_array_equal(base.train_targets, moved.train_targets)
    assert moved.scored_targets[1, 0] > 100  # the held-out target itself is z-scored with D_t
    np.testing.assert_allclose(base.train_targets.mean(0), 0, atol=1e-12)
    assert standardiser(np.ones((5, 2)))[1].tolist() == [1.0, 1.0]  # a constant AM keeps SD 1


def test_gaussian_nll_and_its_optimum():
    f, m = torch.tensor([0.3, -1.0, 2.0]), torch.tensor([1.0, -1.5, 2.0 + 1e-2])
    g = torch.tensor([0.5, 2.0, 1.0])
    np.testing.assert_allclose(gaussian_nll(f, torch.log(g), m).numpy(), ((f - m) ** 2 / g + torch.log(g)).numpy(),
                               rtol=1e-6)
    log_var = torch.zeros(3, requires_grad=True)
    optimiser = torch.optim.LBFGS([log_var], max_iter=200, line_search_fn="strong_wolfe")

    def closure():
        optimiser.zero_grad()
        loss = gaussian_nll(f, log_var, m).sum()
        loss.backward()
        return loss
    optimiser.step(closure)
    np.testing.assert_allclose(torch.exp(log_var).detach().numpy(), ((f - m) ** 2).numpy(), rtol=1e-3)


def test_fusion_by_inverse_variance_on_hand_made_numbers():
    mean = np.array([[1.0, 10.0], [3.0, 20.0], [5.0, 30.0]])
    var = np.array([[1.0, 2.0], [1.0, 2.0], [0.5, 4.0]])
    m_hat, w, calibrated = fuse(mean, var)
    # AM 1: precisions 1, 1, 2 -> w = 1/4, m = (1 + 3 + 10) / 4 = 3.5
    # AM 2: precisions 0.5, 0.5, 0.25 -> w = 1/1.25 = 0.8, m = 0.8 * (5 + 10 + 7.5) = 18
    np.testing.assert_allclose(m_hat, [3.5, 18.0])
    np.testing.assert_allclose(w, [0.25, 0.8])
    np.testing.assert_allclose(calibrated, [0.75, 2.4])  # L * w with L = 3
    with pytest.raises(ValueError):
        fuse(mean, var[:2])


def test_segments_cover_a_recording():
    assert segment_starts(100, 300).tolist() == [0]
    assert segment_starts(900, 300).tolist() == [0, 300, 600]
    assert segment_starts(1000, 300).tolist() == [0, 300, 600]  # a 100-frame tail is dropped
    assert segment_starts(1100, 300).tolist() == [0, 300, 600, 800]  # a 200-frame tail is kept


def test_stacked_copies_are_independent_networks():
    """Copy m of a stacked network computes what a single network with its weights does, and
    its gradients depend on its own batch only."""
    torch.manual_seed(0)
    stacked = StackedVoiceCNN(3, 5, n_mels=8).eval()
    stacked.reset_parameters([11, 12, 13])
    single = StackedVoiceCNN(1, 5, n_mels=8).eval()
    single.reset_parameters([12])
    np.testing.assert_array_equal(single.copy_state(0)["body.0.weight"], stacked.copy_state(1)["body.0.weight"])
    x = torch.randn(4, 3, 8, 40)
    mean, log_var = stacked(x)
    mean1, log_var1 = single(x[:, 1:2])
    torch.testing.assert_close(mean[:, 1], mean1[:, 0], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(log_var[:, 1], log_var1[:, 0], rtol=1e-5, atol=1e-5)
    stacked.train()
    mean, _ = stacked(x)
    mean[:, 0].sum().backward()
    grad = stacked.body[0].weight.grad.view(3, -1)
    assert grad[0].abs().sum() > 0 and grad[1].abs().sum() == 0 and grad[2].abs().sum() == 0


@pytest.fixture(scope="module")
def strong_cohort(shape_model):
    """Voices of men whose vocal tract tracks face height strongly (the vocal-tract link
    alone), with their true AMs and the oracle's r2."""
    voice = voice_settings(seconds=5.0, recordings=1, coupling=STRONG_COUPLING, planted=("vocal_tract",))
    cohort = voice_cohort(STRONG_MEN, Gender.MALE, voice, 11, front_end(), shape_model)
    table = default_am_table()
    r2 = oracle(shape_model, table, STRONG_COUPLING, ("vocal_tract",), np.random.default_rng(1),
                2000)["r2_male"].to_numpy()
    return cohort, r2, table


def test_the_estimator_learns_planted_ams_and_not_eye_ams(strong_cohort):
    """D_v2 error ratio against the D_t-mean predictor: below 1 for the five AMs the voice
    explains best, about 1 for AMs of the eyes and brows, which no voice parameter touches."""
    cohort, r2, table = strong_cohort
    ids = [str(i) for i in range(len(cohort.features))]
    splits = make_splits(ids, repeats=2, seed=5, gender="male", evaluation_share=0.05)
    targets = pd.DataFrame(cohort.ams, index=ids)
    features = {s: [f] for s, f in zip(ids, cohort.features)}
    repeats = []
    for r, rows in splits.groupby("repeat"):
        data, _, _ = repeat_data(r, 100 + r, dict(zip(rows["speaker_id"], rows["split"])), features, targets)
        repeats.append(data)
    settings = train_settings(iterations=250, batch_size=64, segment_frames=(150, 250), eval_every=50,
                              **{**PLAIN_CNN, "lr": 0.01})
    results = train_group(repeats, settings, False, torch.device("cpu"))
    ratios = []
    for data, result in zip(repeats, results):
        v2 = np.array([s == "v2" for s in data.scored_splits])
        error = ((result.mean_z[v2] - data.scored_targets[v2]) ** 2).mean(0)
        chance = (data.scored_targets[v2] ** 2).mean(0)  # the D_t mean is 0 in the z-scale
        ratios.append(error / chance)
        assert (result.var_z > 0).all() and np.isfinite(result.mean_z).all()
    ratios = np.mean(ratios, axis=0)
    strongest = np.argsort(-r2)[:5]
    eye_brow = np.array([(row[row >= 0] < 26).all() for row in table.landmarks])
    assert r2[strongest].min() > 0.5 and np.abs(r2[eye_brow]).max() < 0.02
    assert ratios[strongest].mean() < STRONGEST_RATIO_BELOW, ratios[strongest]
    assert EYE_BROW_RATIO[0] < ratios[eye_brow].mean() < EYE_BROW_RATIO[1], ratios[eye_brow]


def _tiny_repeat(repeat: int, rng: np.random.Generator) -> RepeatData:
    frames = [rng.standard_normal((60, 8)).astype(np.float32) for _ in range(10)]
    return RepeatData(repeat, 100 + repeat, frames[:6], rng.standard_normal((6, 3)), [f"s{i}" for i in range(4)],
                      ["v1", "v1", "v2", "e"], [[f] for f in frames[6:]], rng.standard_normal((4, 3)))


def test_a_repeat_trains_alike_in_any_group_and_after_any_other_training():
    """With masks and dropout on, a repeat's predictions do not depend on the repeats it is
    stacked with, nor on what the process trained before (no global random state)."""
    rng = np.random.default_rng(0)
    a, b = _tiny_repeat(1, rng), _tiny_repeat(2, rng)
    settings = train_settings(iterations=6, batch_size=4, segment_frames=(20, 30), eval_every=3, warmup_steps=2,
                              lr=0.1, time_mask_frames=5, band_mask=2, dropout=0.3)
    cpu = torch.device("cpu")
    alone = train_group([a], settings, False, cpu)[0]
    torch.manual_seed(123)  # whatever the global state is
    stacked = train_group([b, a], settings, False, cpu)[1]
    again = train_group([a], settings, False, cpu)[0]
    np.testing.assert_allclose(stacked.mean_z, alone.mean_z, rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(again.mean_z, alone.mean_z)
    np.testing.assert_array_equal(again.var_z, alone.var_z)


def test_repeats_share_one_copy_of_the_training_frames():
    """Every repeat's D_t reads the same joined arrays (memory stays one copy of the features
    whatever the repeats), with the frames a repeat joining its own would have."""
    rng = np.random.default_rng(0)
    ids = [f"S{i}" for i in range(12)]
    features = {s: [rng.standard_normal((n, 4)).astype(np.float32) for n in (5, 7)] for s in ids}
    targets = pd.DataFrame(rng.standard_normal((12, 3)), index=ids)
    joined = joined_features(features)
    splits = make_splits(ids, repeats=2, seed=1, gender="male", evaluation_share=0.1)
    built = []
    for r, rows in splits.groupby("repeat"):
        split = dict(zip(rows["speaker_id"], rows["split"]))
        shared = repeat_data(r, r, split, features, targets, joined=joined)[0]
        alone = repeat_data(r, r, split, features, targets)[0]
        for a, b in zip(shared.train_features, alone.train_features):
            np.testing.assert_array_equal(a, b)
        built.append(shared)
    first = {id(a) for a in built[0].train_features}
    assert first & {id(a) for a in built[1].train_features}  # the same objects, not copies
    assert all(any(a is j for j in joined.values()) for a in built[0].train_features)
