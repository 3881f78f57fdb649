"""Settings for tests: params.yaml's defaults (pipeline/config.py, their one home) with the
changes a test makes, written in the test itself."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import torch
from scipy import stats

from pipeline.audio.features import LogMel
from pipeline.audio.frontend import FrontEnd
from pipeline.config import Params, default_params, load_params, with_values
from pipeline.estimator.phonatory import PhonatorySettings
from pipeline.estimator.training import TrainSettings
from pipeline.stages import Paths, run_stage
from pipeline.synth.cohort import ScanSettings, VoiceSettings

ROOT = Path(__file__).resolve().parents[1]
DEFAULTS = default_params()
# The plain CNN most estimator tests were written for: the source's lr, no masks, no dropout.
PLAIN_CNN = {"lr": 0.1, "time_mask_frames": 0, "band_mask": 0, "dropout": 0.0}
# The level of the binomial bound a test's null-world declarations must stay within.
NULL_LEVEL = 0.999


def train_settings(**changes) -> TrainSettings:
    return replace(TrainSettings.from_params(DEFAULTS), **changes)


def phonatory_settings(**changes) -> PhonatorySettings:
    return replace(PhonatorySettings.from_params(DEFAULTS.phonatory), **changes)


def voice_settings(**changes) -> VoiceSettings:
    return replace(VoiceSettings.from_params(DEFAULTS.synth), **changes)


def scan_settings(**changes) -> ScanSettings:
    return replace(ScanSettings.from_params(DEFAULTS.synth), **changes)


def front_end(**changes) -> FrontEnd:
    return replace(FrontEnd.from_params(DEFAULTS.audio), **changes)


def log_mel() -> LogMel:
    return front_end().extractor(torch.device("cpu"))


def paths_under(base: Path) -> Paths:
    """dvc.yaml's artefact paths, every one under `base` (a test's own folder)."""
    return Paths.from_dvc_yaml(ROOT / "dvc.yaml", base)


def params_with(**sections) -> Params:
    """params.yaml's defaults with some keys of some sections replaced (validated)."""
    params = DEFAULTS
    for section, values in sections.items():
        params = with_values(params, section, values, "test")
    return params


def run(name: str, params: Params | Path, base: Path, item: str | None = None) -> Paths:
    """Run stage `name` as `python -m pipeline.stages` does, with every path under `base`;
    `params` is a Params or a params.yaml file. Returns the paths it used."""
    paths = paths_under(base)
    run_stage(name, item, params if isinstance(params, Params) else load_params(params), paths)
    return paths


def binomial_bound(tested: int, alpha: float) -> int:
    """The most of `tested` null AMs a test at `alpha` may declare: the binomial NULL_LEVEL
    quantile, as if the AMs were independent (an exact test exceeds it with chance 1 - NULL_LEVEL)."""
    return int(stats.binom.ppf(NULL_LEVEL, tested, alpha))
