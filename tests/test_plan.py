"""`sfv plan` on a tiny sweep of a strongly planted world: recall rises with the cohort size, the
output has the layout docs/planning.md documents, and the smallest-cohort interpolation."""
import math
from dataclasses import fields

import numpy as np
import pandas as pd
import pytest
import torch
from threadpoolctl import threadpool_limits

from pipeline.cohort import Gender
from pipeline.estimator.stats_ridge import StatsRidgeEstimator
from pipeline.selection import plan
from pipeline.synth.voices import VoiceCohort, voice_cohort
from presets import params_with

# Few enough speakers that the ridge finds little, and four times as many; a link stronger than
# the default world's, so the larger cohort finds the strong AMs whatever the world seed.
SIZES = (30, 100)
COUPLING = 2.5
PARAMS = params_with(synth={"vertices": 2000})


@pytest.fixture(scope="module", autouse=True)
def one_blas_thread():
    with threadpool_limits(1):
        yield


@pytest.fixture(scope="module")
def result():
    settings = plan.PlanSettings(speakers=SIZES, seconds=(6.0,), genders=(Gender.FEMALE,), world_seeds=2,
                                 null_worlds=1, repeats=3, rule="permutation+bh", alpha=0.05, permutations=199,
                                 exceedances=3, evaluation_share=0.1, seed=0, coupling=COUPLING, target_recall=0.8,
                                 interval=0.9)
    original = plan.voice_cohort
    plan.voice_cohort = lambda *args: voice_cohort(*args, workers=1)
    try:
        return plan.plan_study(settings, StatsRidgeEstimator(), PARAMS, torch.device("cpu"))
    finally:
        plan.voice_cohort = original


def test_recall_rises_with_cohort_size(result):
    points = result["points"]["female/6"]
    small, large = (points[str(n)] for n in SIZES)
    assert large["recall"]["0.5-1"]["mean"] > small["recall"]["0.5-1"]["mean"] + 0.3
    assert large["recall"]["0.3-0.5"]["mean"] > small["recall"]["0.3-0.5"]["mean"]
    assert large["declared"]["mean"] > 2 * small["declared"]["mean"]
    strong = [w["recall"]["0.5-1"] for w in result["worlds"] if w["kind"] == "linked" and w["speakers"] == SIZES[1]]
    assert min(strong) >= 0.5, strong


def test_output_has_the_documented_keys(result):
    assert set(result) == {"settings", "oracle", "cohorts", "worlds", "points", "smallest_cohort",
                           "measurement_noise_sd"}
    assert result["measurement_noise_sd"] is None and result["settings"]["measurement"] == "none"
    assert len(result["cohorts"]) == 3 and {c["speakers"] for c in result["cohorts"]} == {max(SIZES)}
    assert set(result["settings"]) == {f.name for f in fields(plan.PlanSettings)} | {"r2_bins", "estimator"}
    bins = list(result["settings"]["r2_bins"])
    assert bins == ["0.05-0.1", "0.1-0.2", "0.2-0.3", "0.3-0.5", "0.5-1"]
    assert set(result["oracle"]["female"]) == {*bins, "below 0.05"} and sum(result["oracle"]["female"].values()) == 96
    assert len(result["worlds"]) == len(SIZES) * 3
    linked = next(w for w in result["worlds"] if w["kind"] == "linked")
    assert set(linked) == {"sex", "seconds", "speakers", "kind", "world_seed", "declared", "precision", "recall",
                           "mean_ratio", "recovered", "nmse", "wall_seconds", "cpu_seconds"}
    assert set(linked["recovered"]) == {*bins, "all"} and set(linked["nmse"]) == set(plan.NMSE_KEYS)
    point = result["points"]["female/6"][str(SIZES[1])]
    assert set(point) == {"declared", "precision", "recall", "mean_ratio", "recovered", "nmse", "null",
                          "wall_seconds_per_world", "cpu_seconds_per_world"}
    summary = point["recall"]["0.5-1"]
    assert set(summary) == {"mean", "low", "high", "sd", "min", "max", "worlds"} and summary["worlds"] == 2
    assert 0 <= summary["low"] <= summary["mean"] <= summary["high"] <= 1
    assert point["null"]["tested"] == 96 and point["null"]["share"] == point["null"]["declared"] / 96
    assert set(result["smallest_cohort"]["female/6"]) == set(bins)
    assert len(plan.markdown_table(result).splitlines()) == 3


def test_smallest_cohort_interpolates_on_log_speakers():
    # 0.8 lies halfway between 0.6 at 100 and 1.0 at 400: halfway on log(speakers) is 200.
    assert plan.smallest_cohort([50, 100, 400], [0.2, 0.6, 1.0], 0.8) == pytest.approx(200.0)
    assert plan.smallest_cohort([50, 100], [0.9, 1.0], 0.8) == 50.0  # the smallest size reaches it already
    assert plan.smallest_cohort([50, 100], [0.1, 0.7], 0.8) is None  # no size does
    assert plan.smallest_cohort([50, 100, 200], [None, 0.5, 0.9], 0.8) == pytest.approx(
        math.exp(math.log(100) + 0.75 * math.log(2)))
    # The first crossing counts, not a later dip.
    assert plan.smallest_cohort([50, 100, 200], [0.8, 0.7, 0.9], 0.8) == 50.0


def test_interval_is_a_prediction_interval_clipped_to_shares():
    out = plan.interval([0.5, 0.7, None], 0.9, plan.SHARE)
    assert out["worlds"] == 2 and out["mean"] == pytest.approx(0.6)
    assert out["low"] == 0.0 and out["high"] == 1.0  # t with 1 degree of freedom is wide
    assert plan.interval([None], 0.9)["mean"] is None



def test_both_sexes_pool_each_world_by_its_ams():
    """"both" weighs a sex's recall by its AMs in the bin, world seed by world seed."""
    settings = plan.PlanSettings(speakers=(50,), seconds=(20.0,), genders=(Gender.MALE, Gender.FEMALE), world_seeds=2,
                                 null_worlds=0, repeats=3, rule="permutation+bh", alpha=0.05, permutations=199,
                                 exceedances=3, evaluation_share=0.1, seed=0, coupling=1.6, target_recall=0.8,
                                 interval=0.9)
    recall = {("male", 0): 1.0, ("female", 0): 0.0, ("male", 1): 1.0, ("female", 1): 1 / 3}
    result = {"settings": {"r2_bins": {"0.5-1": [0.5, 1]}}, "oracle": {"male": {"0.5-1": 1}, "female": {"0.5-1": 3}},
              "worlds": [{"sex": sex, "seconds": 20.0, "speakers": 50, "kind": "linked", "world_seed": k,
                          "recall": {"0.5-1": value}} for (sex, k), value in recall.items()],
              "points": {}, "smallest_cohort": {}}
    plan._pool_sexes(result, settings)
    pooled = result["points"]["both/20"]["50"]["recall"]["0.5-1"]
    assert (pooled["min"], pooled["max"]) == (pytest.approx(0.25), pytest.approx(0.5))
    assert result["smallest_cohort"]["both/20"] == {"0.5-1": None}


def test_measurement_noise_gives_the_measured_ams_their_correlation_with_the_truth():
    r, truth_sd = np.array([0.95, 0.8, 0.5]), np.array([2.0, 0.5, 10.0])
    table = pd.DataFrame({"am": ["am_7", "am_2", "am_3"], "r": r, "truth_sd": truth_sd})
    sd = plan.measurement_noise(table, np.array([2, 3, 7]))  # the table's rows follow am_ids, not file order
    np.testing.assert_allclose(sd, truth_sd[[1, 2, 0]] * np.sqrt(1 / r[[1, 2, 0]] ** 2 - 1))
    true = np.random.default_rng(0).standard_normal((20_000, 3)) * truth_sd[[1, 2, 0]]
    cohort = VoiceCohort(features=[], ams=true, latents=np.zeros((len(true), 0)), am_ids=np.array([2, 3, 7]),
                         snr_db=np.zeros(len(true)))
    once, again = (plan.measured(cohort, sd, 4, Gender.MALE).ams for _ in range(2))
    np.testing.assert_array_equal(once, again)
    got = [np.corrcoef(once[:, k], true[:, k])[0, 1] for k in range(3)]
    np.testing.assert_allclose(got, r[[1, 2, 0]], atol=0.01)
    assert plan.measured(cohort, None, 4, Gender.MALE) is cohort


def test_measurement_noise_refuses_a_table_without_truth():
    with pytest.raises(ValueError, match="truth_sd"):
        plan.measurement_noise(pd.DataFrame({"am": ["am_1"], "r": [0.9]}), np.array([1]))
    without = pd.DataFrame({"am": ["am_1", "am_2"], "r": [np.nan, 0.9], "truth_sd": [np.nan, 1.0]})
    with pytest.raises(ValueError, match="no r or truth_sd for am_1"):
        plan.measurement_noise(without, np.array([1, 2]))
