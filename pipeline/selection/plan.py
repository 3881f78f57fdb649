"""How many speakers a study needs: the power study's worlds swept over the cohort size.

A lab asks this before it records anyone. `sfv power` answers "what does this estimator find in
a world of 150?"; this sweep asks the same of worlds of every size, several world seeds per
size, so each point carries the spread a single study would see. Per sex, speech length and
cohort size (speakers per sex):
- in linked worlds (at the study's coupling): recall of the pipeline's own rule (sfv.test with
  sfv.fdr) by oracle-r² bin, precision, NMSE (Tables 1/2 keys), the mean D_v2 error ratio per
  bin and the share of the oracle r² it recovers, (1 − ratio) / r²;
- in null worlds (coupling 0): the share of AMs the rule declares (all false).
The oracle (which AM the voice carries and how much) is the power study's, fixed by `seed`; the
world seeds vary the speakers, their voices and the splits. Each world is drawn once at the
largest size and every smaller size takes its first speakers, so the sizes differ by their
cohort, not by the luck of the draw, and synthesis (most of the cost) is paid once per world.
The worlds' AMs are the true ones unless a measurement error is given (`measurement_noise`):
the pipeline measures AMs on registered scans, which adds error the voice cannot predict.
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, fields, replace

import numpy as np
import pandas as pd
import torch
from scipy import stats

from ..audio.frontend import FrontEnd
from ..cohort import Gender
from ..config import Params
from ..estimator.base import VoiceEstimator
from ..face.ams import default_am_table
from ..face.template import build_template
from ..seeds import null_world_seed, world_oracle_rng
from ..synth.cohort import VoiceSettings
from ..synth.link import LINK_GROUPS, oracle
from ..synth.shape_model import build_shape_model
from ..synth.voices import VoiceCohort, voice_cohort
from .power import decisions, run_world
from .ratios import error_ratios
from .table import nmse_summary, ratio_matrix

# Lower edges of the oracle-r² bins; each bin runs to the next edge, the last to 1. An AM below
# the first edge counts as one the voice does not carry (for precision).
R2_BINS = (0.05, 0.1, 0.2, 0.3, 0.5)
NMSE_KEYS = ("all_100", "all_50", "predictable")
SHARE = (0.0, 1.0)
MEASUREMENT_KEY = 98  # seeds the measurement error apart from everything seeds.py draws


@dataclass(frozen=True)
class PlanSettings:
    """The sweep (the `sfv plan` command line; params.yaml for the rest)."""

    speakers: tuple[int, ...]
    seconds: tuple[float, ...]
    genders: tuple[Gender, ...]
    world_seeds: int
    null_worlds: int
    repeats: int
    rule: str
    alpha: float
    permutations: int
    exceedances: int
    evaluation_share: float
    seed: int
    coupling: float
    target_recall: float
    interval: float
    measurement: str = "none"  # where the AM measurement error comes from (a file), or none


def measurement_noise(agreement: pd.DataFrame, am_ids: np.ndarray) -> np.ndarray:
    """Per AM, the SD of the error that, added to the true AMs, gives them the correlation r with
    the truth that a measurement has: var(e) = truth_sd² (1/r² − 1). `agreement` has `am`
    (am_<id>), `r` and `truth_sd`, as the geometry stage's reports/geometry_ams.csv on a root with
    truth; r is floored at 0.01 (an AM measured with no agreement is noise)."""
    missing = {"am", "r", "truth_sd"} - set(agreement.columns)
    if missing:
        raise ValueError(f"no column {', '.join(sorted(missing))}: the table needs am, r and truth_sd")
    rows = agreement.set_index("am").reindex([f"am_{i}" for i in am_ids])
    bad = rows.index[rows.r.isna() | rows.truth_sd.isna()]
    if len(bad):
        raise ValueError(f"no r or truth_sd for {', '.join(bad[:4])}{', ...' if len(bad) > 4 else ''} "
                         f"(a root without truth has none)")
    r = np.clip(rows.r.to_numpy(float), 0.01, 1.0)
    return rows.truth_sd.to_numpy(float) * np.sqrt(1 / r**2 - 1)


def measured(cohort: VoiceCohort, noise_sd: np.ndarray | None, seed: int, gender: Gender) -> VoiceCohort:
    """The cohort with its AMs as measured: the true AMs plus independent Gaussian error."""
    if noise_sd is None:
        return cohort
    rng = np.random.default_rng([seed, MEASUREMENT_KEY, gender.index])
    error = rng.standard_normal(cohort.ams.shape) * noise_sd
    return replace(cohort, ams=cohort.ams + error)


def bin_label(i: int) -> str:
    """'0.05-0.1', ..., '0.5-1': the r² bin starting at R2_BINS[i]."""
    high = R2_BINS[i + 1] if i + 1 < len(R2_BINS) else 1
    return f"{R2_BINS[i]:g}-{high:g}"


def r2_bins(r2: np.ndarray) -> dict[str, np.ndarray]:
    """A mask per r² bin over the AMs."""
    edges = [*R2_BINS, math.inf]
    return {bin_label(i): (r2 >= edges[i]) & (r2 < edges[i + 1]) for i in range(len(R2_BINS))}


def world_numbers(run, am_ids: np.ndarray, r2: np.ndarray, settings: PlanSettings) -> dict:
    """What one linked world shows under the rule: declared, precision, recall and mean D_v2
    ratio per r² bin, recovered share (1 − ratio) / r² per bin and over r² ≥ the first edge, NMSE."""
    chosen = decisions(run, am_ids, settings.repeats, settings.alpha, settings.exceedances, (settings.rule,))[settings.rule]
    carried = r2 >= R2_BINS[0]
    ratio = ratio_matrix(error_ratios(run.predictions, 1.0), am_ids).mean(axis=1)  # per AM, mean over repeats
    bins = r2_bins(r2)
    nmse = nmse_summary(run.predictions, am_ids, chosen)
    return {
        "declared": int(chosen.sum()),
        "precision": float((chosen & carried).sum() / chosen.sum()) if chosen.any() else None,
        "recall": {k: float(chosen[m].mean()) if m.any() else None for k, m in bins.items()},
        "mean_ratio": {k: float(ratio[m].mean()) if m.any() else None for k, m in bins.items()},
        "recovered": {k: float((1 - ratio[m]).mean() / r2[m].mean()) if m.any() else None for k, m in bins.items()}
        | {"all": float((1 - ratio[carried]).mean() / r2[carried].mean())},
        "nmse": {k: nmse[k] for k in NMSE_KEYS},
    }


def interval(values: list[float | None], level: float, bounds: tuple[float, float] = (-math.inf, math.inf)) -> dict:
    """Mean over world seeds and the `level` prediction interval of one more world's value
    (Student t: mean ± t·sd·√(1 + 1/K), clipped to `bounds`), with the values' SD, min and max.
    A prediction interval, not the mean's: a study runs in one world. None entries (a bin
    without AMs, a world declaring nothing) are left out."""
    kept = np.array([v for v in values if v is not None], float)
    if len(kept) == 0:
        return {"mean": None, "low": None, "high": None, "sd": None, "min": None, "max": None, "worlds": 0}
    mean = float(kept.mean())
    sd = float(kept.std(ddof=1)) if len(kept) > 1 else None
    half = (float(stats.t.ppf(0.5 + level / 2, len(kept) - 1)) * sd * math.sqrt(1 + 1 / len(kept))
            if sd is not None else None)
    return {"mean": mean, "low": None if half is None else max(mean - half, bounds[0]),
            "high": None if half is None else min(mean + half, bounds[1]),
            "sd": sd, "min": float(kept.min()), "max": float(kept.max()), "worlds": len(kept)}


def summarise(worlds: list[dict], nulls: list[int], tested: int, level: float) -> dict:
    """One point of the curves: each number's mean and interval over the world seeds."""
    def over(path, bounds=(-math.inf, math.inf)):
        return interval([path(w) for w in worlds], level, bounds)
    return {
        "declared": over(lambda w: w["declared"]),
        "precision": over(lambda w: w["precision"], SHARE),
        "recall": {k: over(lambda w, k=k: w["recall"][k], SHARE) for k in worlds[0]["recall"]},
        "mean_ratio": {k: over(lambda w, k=k: w["mean_ratio"][k]) for k in worlds[0]["mean_ratio"]},
        "recovered": {k: over(lambda w, k=k: w["recovered"][k]) for k in worlds[0]["recovered"]},
        "nmse": {k: over(lambda w, k=k: w["nmse"][k]) for k in NMSE_KEYS},
        "null": {"declared": sum(nulls), "tested": tested * len(nulls),
                 "share": sum(nulls) / (tested * len(nulls)) if nulls else None},
        "wall_seconds_per_world": float(np.mean([w["wall_seconds"] for w in worlds])),
        "cpu_seconds_per_world": float(np.mean([w["cpu_seconds"] for w in worlds])),
    }


def smallest_cohort(speakers: list[int], recall: list[float | None], target: float) -> float | None:
    """The fewest speakers at which the mean recall reaches `target`: linear in log(speakers)
    between the last size below it and the first size at or above it; the smallest size when
    that already reaches it; None when no size does."""
    previous = None
    for n, value in zip(speakers, recall):
        if value is not None and value >= target:
            if previous is None:
                return float(n)
            n0, v0 = previous
            share = (target - v0) / (value - v0)
            return float(math.exp(math.log(n0) + share * (math.log(n) - math.log(n0))))
        if value is not None:
            previous = (n, value)
    return None


def plan_study(settings: PlanSettings, estimator: VoiceEstimator, params: Params, device: torch.device,
               progress=None, noise_sd: np.ndarray | None = None) -> dict:
    """The sweep's results (see the module docstring) by sex and speech length; the worlds' faces,
    channel and log-mels follow params.yaml (synth:, audio:), as in the power study; their AMs
    carry a measurement error of SD `noise_sd` per AM (measurement_noise) if given."""
    table = default_am_table()
    am_ids = np.asarray(table.am_id)
    model = build_shape_model(build_template(params.synth.vertices), params.synth.residual_mm)
    truth = oracle(model, table, settings.coupling, LINK_GROUPS, world_oracle_rng(settings.seed))
    front_end = FrontEnd.from_params(params.audio)
    base = replace(VoiceSettings.from_params(params.synth), coupling=settings.coupling, recordings=1,
                   planted=LINK_GROUPS)
    result = {"settings": {**asdict(settings), "genders": [str(g) for g in settings.genders],
                           "speakers": list(settings.speakers), "seconds": list(settings.seconds),
                           "r2_bins": {bin_label(i): [R2_BINS[i], R2_BINS[i + 1] if i + 1 < len(R2_BINS) else 1]
                                       for i in range(len(R2_BINS))},
                           "estimator": estimator.fingerprint(1)},
              "oracle": {}, "cohorts": [], "worlds": [], "points": {}, "smallest_cohort": {},
              "measurement_noise_sd": None if noise_sd is None else dict(zip(map(int, am_ids), map(float, noise_sd)))}
    for gender in settings.genders:
        r2 = truth.set_index("am_id").loc[am_ids, f"r2_{gender}"].to_numpy()
        result["oracle"][str(gender)] = {k: int(m.sum()) for k, m in r2_bins(r2).items()} | {
            f"below {R2_BINS[0]:g}": int((r2 < R2_BINS[0]).sum())}
        for seconds in settings.seconds:
            voice = replace(base, seconds=seconds)
            linked = {n: [] for n in settings.speakers}
            nulls = {n: [] for n in settings.speakers}
            worlds = [("linked", voice, settings.seed + k) for k in range(settings.world_seeds)] + [
                ("null", replace(voice, coupling=0.0), null_world_seed(settings.seed, w))
                for w in range(settings.null_worlds)]
            for kind, world, world_seed in worlds:
                started = time.process_time()
                cohort = measured(voice_cohort(max(settings.speakers), gender, world, world_seed, front_end, model),
                                  noise_sd, world_seed, gender)
                result["cohorts"].append({"sex": str(gender), "seconds": seconds, "kind": kind,
                                          "world_seed": world_seed, "speakers": max(settings.speakers),
                                          "cpu_seconds": time.process_time() - started})
                for n in settings.speakers:
                    started, cpu = time.perf_counter(), time.process_time()
                    run = run_world(first_speakers(cohort, n), gender, world_seed, {"plan": estimator},
                                    (settings.repeats,), (settings.permutations, settings.exceedances),
                                    settings.evaluation_share, device, progress)["plan"]
                    if kind == "linked":
                        numbers = world_numbers(run, am_ids, r2, settings)
                        linked[n].append(numbers)
                    else:
                        numbers = {"declared": int(decisions(run, am_ids, settings.repeats, settings.alpha,
                                                             settings.exceedances, (settings.rule,))[settings.rule].sum()),
                                   "tested": len(am_ids)}
                        nulls[n].append(numbers["declared"])
                    numbers |= {"wall_seconds": time.perf_counter() - started, "cpu_seconds": time.process_time() - cpu}
                    result["worlds"].append({"sex": str(gender), "seconds": seconds, "speakers": n, "kind": kind,
                                             "world_seed": world_seed, **numbers})
            points = {str(n): summarise(linked[n], nulls[n], len(am_ids), settings.interval) for n in settings.speakers}
            key = f"{gender}/{seconds:g}"
            result["points"][key] = points
            result["smallest_cohort"][key] = {
                b: smallest_cohort(list(settings.speakers), [points[str(n)]["recall"][b]["mean"]
                                                             for n in settings.speakers], settings.target_recall)
                for b in r2_bins(r2)}
    if len(settings.genders) > 1:
        _pool_sexes(result, settings)
    return result


def _pool_sexes(result: dict, settings: PlanSettings) -> None:
    """Recall per bin over the AMs of both sexes ("both/<seconds>": the worlds of one seed
    together, each sex weighted by its AMs in the bin), which steadies the bins with few AMs."""
    sexes = [str(g) for g in settings.genders]
    for seconds in settings.seconds:
        points = {}
        for n in settings.speakers:
            recall = {}
            for b in result["settings"]["r2_bins"]:
                counts = {sex: result["oracle"][sex][b] for sex in sexes}
                values = []
                for k in range(settings.world_seeds):
                    worlds = {w["sex"]: w for w in result["worlds"] if w["kind"] == "linked" and w["speakers"] == n
                              and w["seconds"] == seconds and w["world_seed"] == settings.seed + k}
                    total = sum(counts.values())
                    values.append(sum(worlds[sex]["recall"][b] * counts[sex] for sex in sexes if counts[sex]) / total
                                  if total else None)
                recall[b] = interval(values, settings.interval, SHARE)
            points[str(n)] = {"recall": recall}
        key = f"both/{seconds:g}"
        result["points"][key] = points
        result["smallest_cohort"][key] = {
            b: smallest_cohort(list(settings.speakers), [points[str(n)]["recall"][b]["mean"] for n in settings.speakers],
                               settings.target_recall) for b in result["settings"]["r2_bins"]}


def first_speakers(cohort: VoiceCohort, n: int) -> VoiceCohort:
    """The cohort's first n speakers: every per-speaker field cut to n. The sizes of a sweep are
    nested in one world, so they differ by their cohort alone, and the world is drawn once."""
    total = len(cohort.ams)
    return replace(cohort, **{f.name: getattr(cohort, f.name)[:n] for f in fields(cohort)
                              if f.name != "am_ids" and len(getattr(cohort, f.name)) == total})


def smallest_table(result: dict) -> pd.DataFrame:
    """The smallest cohort per sex, speech length and r² bin (docs/planning.md's table): the
    number, and as text "≤ smallest size" when the smallest already reaches the target and
    "> largest size" when none does."""
    settings, rows = result["settings"], []
    low, high = min(settings["speakers"]), max(settings["speakers"])
    for key, by_bin in result["smallest_cohort"].items():
        sex, seconds = key.split("/")
        for b, value in by_bin.items():
            ams = (sum(result["oracle"][s][b] for s in result["oracle"]) if sex == "both"
                   else result["oracle"][sex][b])
            text = f"> {high}" if value is None else f"≤ {low}" if value <= low else f"{value:.0f}"
            rows.append({"sex": sex, "seconds": float(seconds), "r2_bin": b, "ams": ams,
                         "speakers": value, "smallest": text})
    return pd.DataFrame(rows)


def markdown_table(result: dict) -> str:
    """The smallest-cohort table as the terminal shows it, one row per sex and speech length."""
    table = smallest_table(result)
    bins = list(result["settings"]["r2_bins"])
    lines = ["| sex | s of speech | " + " | ".join(f"r² {b}" for b in bins) + " |",
             "|---|---:|" + "---:|" * len(bins)]
    for (sex, seconds), part in table.groupby(["sex", "seconds"], sort=False):
        cells = part.set_index("r2_bin").loc[bins, "smallest"]
        lines.append(f"| {sex} | {seconds:g} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
