"""What the selection tests guarantee: their false-positive share in null worlds and their
recall and precision in the default world, at a few numbers of repeats N.

Each world is a voice-only synthetic cohort of one sex (`synth.voices`), trained exactly as
the train stage does (fixed D_e, fresh 7/1/1 splits, per-AM selection on D_v1) for the
largest N; the tests at smaller N use the first N repeats. In a null world (coupling 0) no AM
is predictable, so every AM declared predictable is a false positive.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import torch
from statsmodels.stats.proportion import proportion_confint

from ..audio.frontend import FrontEnd
from ..cohort import Gender
from ..config import Params
from ..estimator.base import VoiceEstimator
from ..face.ams import default_am_table
from ..face.template import build_template
from ..seeds import null_world_seed, world_oracle_rng
from ..splits import Splits, make_splits
from ..synth.cohort import VoiceSettings
from ..synth.link import LINK_GROUPS, oracle
from ..synth.shape_model import ShapeModel, build_shape_model
from ..synth.voices import voice_cohort
from .power import embedding_settings, fit_repeats, speaker_inputs
from .table import SelectionSettings, selection_table

RULES = {"paper": ("paper", "none"), "corrected": ("corrected", "none"), "corrected+bh": ("corrected", "bh")}


@dataclass(frozen=True)
class CalibrationSettings:
    """The worlds and tests of `sfv calibrate` (its command line; params.yaml for the rest)."""

    speakers: int
    seconds: float
    gender: Gender
    repeats: tuple[int, ...]
    null_worlds: int
    alpha: float
    evaluation_share: float
    seed: int
    coupling: float  # the linked ("default") world's synth.coupling


def world_predictions(coupling: float, world_seed: int, settings: CalibrationSettings, estimator: VoiceEstimator,
                      params: Params, model: ShapeModel, device: torch.device,
                      progress=None) -> tuple[pd.DataFrame, int, int, np.ndarray]:
    """Train max(repeats) repeats on one world; its predictions in the train stage's layout,
    the D_v2 and D_t sizes, and the world's am_ids."""
    voice = replace(VoiceSettings.from_params(params.synth), seconds=settings.seconds, coupling=coupling,
                    recordings=1, planted=LINK_GROUPS)
    cohort = voice_cohort(settings.speakers, settings.gender, voice, world_seed, FrontEnd.from_params(params.audio),
                          model, embedding=embedding_settings({"": estimator}))
    ids = [f"s{i:04d}" for i in range(settings.speakers)]
    gender = settings.gender
    splits = Splits(make_splits(ids, max(settings.repeats), world_seed, gender, settings.evaluation_share))
    targets = pd.DataFrame(cohort.ams, index=ids)
    features = speaker_inputs(estimator, cohort, ids)
    predictions = fit_repeats(estimator, splits, world_seed, gender, features, targets, cohort.am_ids, device,
                              fit_progress=progress)
    sizes = splits.sizes()
    return predictions, sizes["v2"], sizes["t"], cohort.am_ids


def decisions(predictions: pd.DataFrame, n_test: int, n_train: int, am_ids: np.ndarray, n: int,
              alpha: float) -> dict[str, np.ndarray]:
    """z per AM under each rule, from the first n repeats."""
    subset = predictions[predictions["repeat"] <= n]
    labels, kinds = [str(k) for k in am_ids], ["?"] * len(am_ids)
    out = {}
    for name, (test, fdr) in RULES.items():
        table = selection_table(subset, am_ids, labels, kinds, n_test, n_train, SelectionSettings(alpha, test, fdr))
        out[name] = table["z"].to_numpy().astype(bool)
    return out


def calibrate(settings: CalibrationSettings, estimator: VoiceEstimator, params: Params, device: torch.device,
              progress=None) -> dict:
    """Null-world false-positive shares (with Wilson 95 % intervals over all AMs of all null
    worlds) and default-world recall and precision against the oracle, per rule and N."""
    table = default_am_table()
    model = build_shape_model(build_template(params.synth.vertices), params.synth.residual_mm)
    truth = oracle(model, table, settings.coupling, LINK_GROUPS,
                   world_oracle_rng(settings.seed))[f"planted_{settings.gender}"].to_numpy().astype(bool)
    null_counts = {(name, n): [0, 0] for name in RULES for n in settings.repeats}
    for w in range(settings.null_worlds):
        predictions, n_test, n_train, am_ids = world_predictions(0.0, null_world_seed(settings.seed, w), settings,
                                                                 estimator, params, model, device, progress)
        for n in settings.repeats:
            for name, z in decisions(predictions, n_test, n_train, am_ids, n, settings.alpha).items():
                null_counts[(name, n)][0] += int(z.sum())
                null_counts[(name, n)][1] += len(z)
    predictions, n_test, n_train, am_ids = world_predictions(settings.coupling, settings.seed, settings, estimator,
                                                             params, model, device, progress)
    result = {"settings": {**settings.__dict__, "gender": str(settings.gender), "repeats": list(settings.repeats),
                           "estimator": estimator.fingerprint(1),
                           "n_planted": int(truth.sum()), "n_ams": len(truth), "n_v2": n_test, "n_t": n_train},
              "null": {}, "default": {}}
    for n in settings.repeats:
        z_default = decisions(predictions, n_test, n_train, am_ids, n, settings.alpha)
        for name in RULES:
            hits, total = null_counts[(name, n)]
            low, high = proportion_confint(hits, total, alpha=0.05, method="wilson")
            result["null"].setdefault(name, {})[str(n)] = {"false_positive_share": hits / total,
                                                           "ci95": [float(low), float(high)], "declared": hits,
                                                           "tested": total}
            z = z_default[name]
            tp = int((z & truth).sum())
            result["default"].setdefault(name, {})[str(n)] = {
                "recall": tp / int(truth.sum()), "precision": tp / int(z.sum()) if z.any() else None,
                "declared": int(z.sum())}
    return result
