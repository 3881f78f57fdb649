"""The stats_ridge estimator: statistics, the fit, its variance, and the permutation null."""
import numpy as np
import pandas as pd
import pytest

from pipeline.cohort import Gender
from pipeline.estimator.data import repeat_data
from pipeline.config import SfvParams
from pipeline.estimator.null import permutation_table
from pipeline.estimator.ridge import RepeatRows, StatsRidge, mean_ratios, sequential_ratios
from pipeline.estimator.statistics import speaker_statistics, statistic_names
from pipeline.estimator.stats_ridge import fit_repeat
from pipeline.face.ams import default_am_table
from pipeline.selection.significance import decide, permutation_test
from pipeline.splits import make_splits
from pipeline.synth.link import oracle
from pipeline.synth.voices import voice_cohort
from presets import binomial_bound, front_end, voice_settings

# What the ridge must reach (docs/testing.md quotes these).
CERTAIN_HALF_SHARE = 0.6  # the most certain half of the speakers keeps less than this share of the MSE
NASAL_RATIO_BELOW = 0.7  # mean D_v2 ratio of the five best-explained nose AMs in the nasal world
EYE_BROW_RATIO = (0.9, 1.15)  # ...and of the eye and brow AMs
# The permutation test's level: NULL_WORLDS null worlds of NULL_AMS AMs declare at most NULL_BOUND.
NULL_WORLDS = 30
NULL_AMS = 8
NULL_BOUND = 24


def test_statistics_by_hand_and_pooled_within_recordings():
    a = np.array([[1.0, -1.0], [-1.0, 1.0], [1.0, 1.0]])
    b = np.array([[-1.0, -1.0], [2.0, 0.0]])
    stats = speaker_statistics([a, b])
    names = statistic_names(2)
    assert len(stats) == len(names) == 2 * 15 // 2 and names[4] == "corr_1_2"
    x = np.vstack([a, b])
    value = dict(zip(names, stats))
    assert value["skew_1"] == pytest.approx((x[:, 0] ** 3).mean())
    assert value["kurtosis_2"] == pytest.approx((x[:, 1] ** 4).mean())
    assert value["corr_1_2"] == pytest.approx((x[:, 0] * x[:, 1]).mean())
    # Frame-to-frame terms stay inside each recording: a's two steps and b's one, never a -> b.
    steps = np.array([-2.0, 2.0, 3.0])
    assert value["delta_sd_1"] == pytest.approx(steps.std())
    assert value["lag1_1"] == pytest.approx(np.mean([-1.0, -1.0, -2.0]))
    assert value["q50_1"] == pytest.approx(1.0)
    assert speaker_statistics([np.ones((5, 64), np.float32)]).shape == (64 * 77 // 2,)
    with pytest.raises(ValueError):
        speaker_statistics([np.ones((1, 2))])


def test_ridge_recovers_a_linear_signal_and_its_leave_one_out_is_exact():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((80, 30))
    y = np.stack([x[:, 0] + 0.3 * rng.standard_normal(80), rng.standard_normal(80)], axis=1)
    model = StatsRidge().fit(x[:60], y[:60], x[60:70], y[60:70])
    mean, var = model.predict(x[70:])
    error = ((mean - y[70:]) ** 2).mean(0) / ((y[70:] - y[:60].mean(0)) ** 2).mean(0)
    assert error[0] < 0.3 and error[1] > 0.9  # learns the carried AM, not the noise one
    assert var.shape == mean.shape and (var > 0).all()
    # Leave-one-out residuals of the closed form against refitting without each speaker.
    from pipeline.estimator.ridge import _basis
    basis = _basis(x[:60])
    residuals = model._leave_one_out(basis, y[:60], model.alpha_index_)
    for i in (0, 17):
        keep = np.arange(60) != i
        xs = basis.standardise(x[:60][keep])  # the closed form holds the standardisation fixed
        centre = xs.mean(0)
        for k in range(2):
            ys = y[:60][keep, k]
            w = np.linalg.solve((xs - centre).T @ (xs - centre) + model.alpha_[k] * np.eye(30),
                                (xs - centre).T @ (ys - ys.mean()))
            predicted = (basis.standardise(x[i:i + 1]) - centre) @ w + ys.mean()
            assert residuals[i, k] == pytest.approx(y[i, k] - predicted[0], abs=1e-8)
    restored = StatsRidge.from_state(model.state())
    np.testing.assert_allclose(restored.predict(x[70:])[0], mean, rtol=1e-5, atol=1e-5)


def test_the_variance_ranks_errors_where_the_noise_varies_by_speaker():
    """A recording-quality factor moves many statistics at once and scales every AM's noise:
    the half of the speakers the variance calls most certain has clearly smaller errors."""
    shares, calibration = [], []
    for seed in range(3):
        rng = np.random.default_rng(seed)
        quality = rng.standard_normal(300)
        signal = rng.standard_normal((300, 3))
        x = rng.standard_normal((300, 200)) + 3 * np.outer(quality, rng.standard_normal(200))
        x[:, :30] += signal @ rng.standard_normal((3, 30))
        y = signal @ rng.standard_normal((3, 6)) + rng.standard_normal((300, 6)) * np.exp(0.7 * quality)[:, None]
        model = StatsRidge().fit(x[:150], y[:150], x[150:200], y[150:200])
        mean, var = model.predict(x[200:])
        error = (mean - y[200:]) ** 2
        certain = np.argsort(var[:, 0])[:50]
        shares.append(error[certain].mean() / error.mean())
        calibration.append((error / var).mean())
    assert max(shares) < CERTAIN_HALF_SHARE, shares
    assert 0.6 < np.mean(calibration) < 1.5, calibration
    # Where noise does not vary, every speaker gets the held-out residual variance.
    rng = np.random.default_rng(5)
    x = rng.standard_normal((120, 40))
    y = rng.standard_normal((120, 3))
    model = StatsRidge().fit(x[:80], y[:80], x[80:100], y[80:100])
    assert np.ptp(model.predict(x[100:])[1], axis=0).max() < 1e-9 or (model.index_slope_ == 0).all()


@pytest.fixture(scope="module")
def nasal_world(shape_model):
    """150 women whose nose speaks through the nasal latents alone (coupling 1.6, 6-s voices)."""
    voice = voice_settings(seconds=6.0, recordings=1, coupling=1.6, planted=("nasal",))
    cohort = voice_cohort(150, Gender.FEMALE, voice, 4, front_end(), shape_model)
    r2 = oracle(shape_model, default_am_table(), 1.6, ("nasal",), np.random.default_rng(1), 2000)["r2_female"].to_numpy()
    return cohort, r2


def test_the_ridge_learns_what_the_voice_carries_in_a_voice_world(nasal_world):
    """The nasal link, which the CNN did not find at this size: D_v2 ratios well below 1 for
    the best-explained nose AMs, about 1 for the eye and brow AMs."""
    cohort, r2 = nasal_world
    ids = [f"s{i:03d}" for i in range(len(cohort.ams))]
    splits = make_splits(ids, 3, 0, "female", evaluation_share=0.1)
    targets = pd.DataFrame(cohort.ams, index=ids)
    features = {s: [f] for s, f in zip(ids, cohort.features)}
    ratios = []
    for r, part in splits.groupby("repeat"):
        data, _, _ = repeat_data(r, r, dict(zip(part["speaker_id"], part["split"])), features, targets)
        result = fit_repeat(data)
        v2 = np.array([s == "v2" for s in data.scored_splits])
        ratios.append(((result.mean_z[v2] - data.scored_targets[v2]) ** 2).mean(0)
                      / (data.scored_targets[v2] ** 2).mean(0))
        assert (result.var_z > 0).all() and result.n_segments.tolist() == [1] * len(v2)
    ratios = np.mean(ratios, axis=0)
    table = default_am_table()
    strongest = np.argsort(-r2)[:5]
    eye_brow = np.array([(row[row >= 0] < 26).all() for row in table.landmarks])
    assert r2[strongest].min() > 0.4
    assert ratios[strongest].mean() < NASAL_RATIO_BELOW, ratios[strongest]
    assert EYE_BROW_RATIO[0] < ratios[eye_brow].mean() < EYE_BROW_RATIO[1], ratios[eye_brow]


def _rows(n: int, repeats: int, seed: int) -> list[RepeatRows]:
    splits = make_splits([str(i) for i in range(n)], repeats, seed, "male", evaluation_share=0.01)
    out = []
    for _, part in splits.groupby("repeat"):
        part = part[part["split"] != "e"]
        idx = {name: part.loc[part["split"] == name, "speaker_id"].astype(int).to_numpy() for name in ("t", "v1", "v2")}
        out.append(RepeatRows(idx["t"], idx["v1"], idx["v2"]))
    return out


def _table(statistic: list[np.ndarray] | np.ndarray) -> pd.DataFrame:
    """The train stage's permutation table from per-AM statistics (observed first)."""
    columns = list(statistic.T) if isinstance(statistic, np.ndarray) else statistic
    return pd.DataFrame({"permutation": np.concatenate([np.arange(len(c)) for c in columns]),
                         "am_id": np.repeat(np.arange(1, len(columns) + 1), [len(c) for c in columns]),
                         "mean_ratio": np.concatenate(columns)})


@pytest.mark.parametrize("exceedances", [5, 1000])
def test_the_permutation_test_holds_its_level_in_null_worlds(exceedances):
    """No link between statistics and AMs: over NULL_WORLDS worlds x NULL_AMS AMs, the share
    declared at alpha 0.05 stays within what an exact test allows (the binomial bound), for the
    sequential p (stop at 5 exceedances) and the fixed-B one (never stops)."""
    declared, tested = 0, 0
    for world in range(NULL_WORLDS):
        rng = np.random.default_rng(100 + world)
        x, y = rng.standard_normal((63, 40)), rng.standard_normal((63, NULL_AMS))
        rows = _rows(64, 4, world)
        rows = [RepeatRows(r.train[r.train < 63], r.select[r.select < 63], r.score[r.score < 63]) for r in rows]
        statistic = sequential_ratios(x, y, rows, 99, exceedances, world)
        p = permutation_test(_table(statistic), np.arange(1, NULL_AMS + 1), exceedances)
        declared += int((p < 0.05).sum())
        tested += NULL_AMS
    assert NULL_BOUND == binomial_bound(tested, 0.05)
    assert 1 <= declared <= NULL_BOUND, declared


def test_sequential_shuffling_draws_the_fixed_shufflings_and_stops_at_the_h_th_exceedance():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((70, 30))
    y = np.stack([x[:, 0] + 0.5 * rng.standard_normal(70), rng.standard_normal(70), rng.standard_normal(70)], axis=1)
    rows = [RepeatRows(r.train[r.train < 70], r.select[r.select < 70], r.score[r.score < 70]) for r in _rows(71, 3, 2)]
    fixed = mean_ratios(x, y, rows, 300, 7)
    sequential = sequential_ratios(x, y, rows, 300, 4, 7, block=32)
    for k, column in enumerate(sequential):
        np.testing.assert_allclose(column, fixed[:len(column), k], rtol=1e-12)  # the same shufflings, in order
        hits = np.cumsum(column[1:] <= column[0])
        if len(column) < 301:
            assert hits[-1] == 4 and (len(hits) == 1 or hits[-2] == 3)
    assert len(sequential[0]) == 301 and len(sequential[1]) < 100 and len(sequential[2]) < 100


def test_the_sequential_p_value_by_hand():
    """Besag & Clifford: h / n_h once the h-th shuffled value <= observed came at shuffling n_h,
    else (1 + hits) / (1 + n); a table that ran on past n_h gives the same p as one that stopped."""
    stopped = [0.5, 0.9, 0.4, 0.8, 0.3]  # 2nd exceedance at shuffling 4 -> 2 / 4
    ran_on = stopped + [0.1, 0.2, 0.95]
    short = [0.5, 0.9, 0.45, 0.8, 0.7, 0.6]  # 1 exceedance in 5 -> (1 + 1) / 6
    p = permutation_test(_table([np.array(stopped), np.array(ran_on), np.array(short)]), np.array([1, 2, 3]), 2)
    np.testing.assert_allclose(p, [0.5, 0.5, 2 / 6])
    assert permutation_test(_table([np.array(short)]), np.array([1]), 1000)[0] == pytest.approx(2 / 6)
    with pytest.raises(ValueError, match="lacks AMs"):
        permutation_test(_table([np.array(short)]), np.array([1, 2]), 2)


def test_the_default_permutation_test_declares_a_lone_planted_am():
    """96 AMs of which one is carried by the voice (r2 about 0.5), 120 speakers, 10 repeats:
    the default shuffling (at most sfv.permutations, stopping at sfv.permutation_exceedances)
    resolves its p below alpha / 96 and Benjamini-Hochberg declares it, and nothing else; a fixed
    B = 1,000 cannot (p >= 1/1001 > 0.05/96). The 95 others stop after a few dozen shufflings."""
    defaults = SfvParams()
    rng = np.random.default_rng(11)
    ids = [f"s{i:03d}" for i in range(120)]
    features = {s: [rng.standard_normal((40, 4))] for s in ids}
    loudness = np.array([features[s][0][:, 0].mean() for s in ids])
    ams = rng.standard_normal((120, 96))
    ams[:, 40] = loudness / loudness.std() + rng.standard_normal(120)
    targets = pd.DataFrame(ams, index=ids, columns=[f"am_{k}" for k in range(1, 97)])
    splits = make_splits(ids, 10, 3, Gender.MALE, defaults.evaluation_share)
    table = permutation_table(splits, features, targets, defaults.permutations, defaults.permutation_exceedances,
                              seed=4, desc="one planted AM")
    shuffles = table.groupby("am_id").size() - 1
    assert shuffles.loc[41] == defaults.permutations and shuffles.drop(41).max() < 400
    p = permutation_test(table, np.arange(1, 97), defaults.permutation_exceedances)
    z, _ = decide(p, defaults.alpha, defaults.fdr)
    assert defaults.fdr == "bh" and np.flatnonzero(z).tolist() == [40], (p[40], np.sort(p)[:3])
    fixed = table[table["permutation"] <= 1000]
    z_fixed, _ = decide(permutation_test(fixed, np.arange(1, 97), 1001), defaults.alpha, defaults.fdr)
    assert z_fixed.sum() == 0


def test_the_permutation_test_finds_a_real_link_and_its_observed_row_is_the_fit():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((90, 40))
    y = np.stack([x[:, 1] + 0.5 * rng.standard_normal(90), rng.standard_normal(90)], axis=1)
    rows = _rows(91, 4, 1)
    rows = [RepeatRows(r.train[r.train < 90], r.select[r.select < 90], r.score[r.score < 90]) for r in rows]
    statistic = mean_ratios(x, y, rows, 99, 0)
    p = permutation_test(_table(statistic), np.array([1, 2]), 100)
    assert p[0] == pytest.approx(0.01) and p[1] > 0.05
    expected = []
    for r in rows:
        model = StatsRidge().fit(x[r.train], y[r.train], x[r.select], y[r.select])
        mean, _ = model.predict(x[r.score])
        expected.append(((mean - y[r.score]) ** 2).sum(0) / ((y[r.score] - y[r.train].mean(0)) ** 2).sum(0))
    np.testing.assert_allclose(statistic[0], np.mean(expected, axis=0), rtol=1e-10)
