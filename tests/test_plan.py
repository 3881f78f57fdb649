"""`sfv plan` on a tiny sweep of a strongly planted world: recall rises with the cohort size, the
output has the layout docs/planning.md documents, and the smallest-cohort interpolation."""
import math
from dataclasses import fields

import pytest
import torch
from threadpoolctl import threadpool_limits

from pipeline.cohort import Gender
from pipeline.estimator.stats_ridge import StatsRidgeEstimator
from pipeline.selection import plan
from pipeline.synth.voices import voice_cohort
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
    assert set(result) == {"settings", "oracle", "cohorts", "worlds", "points", "smallest_cohort"}
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
