"""Typed, validated parameters: params.yaml loads into frozen pydantic models.

An unknown key, a wrong type or an out-of-range value fails at load with a message that
names the key, so a typo in `dvc exp run -S ...` never runs silently with a default.
"""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

PositiveInt = Annotated[int, Field(gt=0)]
NonNegFloat = Annotated[float, Field(ge=0)]


class ParamsError(ValueError):
    """A params file that does not validate; the message names every bad key."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


def _ordered_range(lo: float, hi: float, name: str) -> None:
    if lo > hi:
        raise ValueError(f"{name}: [min, max] with min <= max (got [{lo}, {hi}])")


class Speakers(_Section):
    male: Annotated[int, Field(gt=0, le=100_000)] = 150
    female: Annotated[int, Field(gt=0, le=100_000)] = 150


class ScanParams(_Section):
    vertices: tuple[Annotated[int, Field(ge=500)], Annotated[int, Field(ge=500)]] = (9000, 14000)
    rotation_deg: Annotated[float, Field(ge=0, le=90)] = 20.0
    translation_mm: NonNegFloat = 50.0
    noise_mm: Annotated[float, Field(ge=0, le=5)] = 0.3
    holes: tuple[Annotated[int, Field(ge=0, le=50)], Annotated[int, Field(ge=0, le=50)]] = (1, 4)
    hole_radius_mm: tuple[
        Annotated[float, Field(gt=0, le=20)], Annotated[float, Field(gt=0, le=20)]
    ] = (2.0, 5.0)

    @model_validator(mode="after")
    def _ranges(self) -> ScanParams:
        _ordered_range(*self.vertices, "vertices")
        _ordered_range(*self.holes, "holes")
        _ordered_range(*self.hole_radius_mm, "hole_radius_mm")
        return self


class AnnotationParams(_Section):
    noise_mm: Annotated[float, Field(ge=0, le=10)] = 1.0
    mislabel_rate: Annotated[float, Field(ge=0, le=0.5)] = 0.02
    mislabel_mm: tuple[Annotated[float, Field(gt=0)], Annotated[float, Field(gt=0)]] = (5.0, 15.0)

    @model_validator(mode="after")
    def _ranges(self) -> AnnotationParams:
        _ordered_range(*self.mislabel_mm, "mislabel_mm")
        return self


LinkGroup = Literal["vocal_tract", "nasal", "lips", "jaw"]


class SynthParams(_Section):
    speakers: Speakers = Speakers()
    vertices: Annotated[int, Field(ge=2000, le=200_000)] = 6790
    residual_mm: Annotated[float, Field(ge=0, le=5)] = 0.8
    scan: ScanParams = ScanParams()
    annotation: AnnotationParams = AnnotationParams()
    sheet_faces: Annotated[int, Field(ge=2, le=32)] = 8
    seconds: Annotated[float, Field(ge=4, le=600)] = 10.0
    coupling: Annotated[float, Field(ge=0, le=2)] = 1.6
    planted: tuple[LinkGroup, ...] = ("vocal_tract", "nasal", "lips", "jaw")
    snr_db: tuple[Annotated[float, Field(ge=-10, le=80)], Annotated[float, Field(ge=-10, le=80)]] = (15.0, 35.0)
    reverb: Annotated[float, Field(ge=0, le=1)] = 0.3
    silence_s: tuple[Annotated[float, Field(ge=0, le=5)], Annotated[float, Field(ge=0, le=5)]] = (0.3, 1.0)
    sheet_voices: Annotated[int, Field(ge=2, le=16)] = 4

    @model_validator(mode="after")
    def _ranges(self) -> SynthParams:
        _ordered_range(*self.snr_db, "snr_db")
        _ordered_range(*self.silence_s, "silence_s")
        if len(set(self.planted)) != len(self.planted):
            raise ValueError(f"planted: a link group is listed twice ({list(self.planted)})")
        if self.seconds < 2 * self.silence_s[1] + 2.0:
            raise ValueError(f"seconds: {self.seconds} s leaves under 2 s of speech after up to "
                             f"2 x {self.silence_s[1]} s of leading and trailing silence")
        return self


class DataParams(_Section):
    root: str = "data/synthetic"
    on_error: Literal["fail", "skip"] = "fail"


class AudioParams(_Section):
    sample_rate: Literal[16000] = 16000
    vad: Literal["silero", "energy"] = "silero"
    vad_threshold: Annotated[float, Field(gt=0, lt=1)] = 0.5
    energy_threshold_db: Annotated[float, Field(gt=0, le=60)] = 6.0
    min_speech_s: Annotated[float, Field(ge=0, le=5)] = 0.25
    min_silence_s: Annotated[float, Field(ge=0, le=5)] = 0.1
    n_mels: Annotated[int, Field(ge=8, le=256)] = 64
    window_ms: Annotated[float, Field(ge=5, le=100)] = 25.0
    hop_ms: Annotated[float, Field(ge=1, le=50)] = 10.0


class FaceParams(_Section):
    template_vertices: Annotated[int, Field(ge=2000, le=200_000)] = 6790
    landmark_vertices: str = ""
    ams: str = "pipeline/data/ams_96.csv"
    qc_components: Annotated[int, Field(ge=0, le=100)] = 10
    qc_alpha: Annotated[float, Field(gt=0, lt=0.5)] = 0.001
    qc_max_flagged: Annotated[float, Field(gt=0, le=1)] = 0.25
    stiffness: tuple[Annotated[float, Field(gt=0)], ...] = (3000.0, 1000.0, 300.0)
    landmark_weight: NonNegFloat = 30.0
    iterations: Annotated[int, Field(ge=1, le=100)] = 3
    max_distance_mm: Annotated[float, Field(gt=0)] = 10.0
    min_coverage: Annotated[float, Field(ge=0, le=1)] = 0.8
    max_surface_mm: Annotated[float, Field(gt=0)] = 1.0

    @model_validator(mode="after")
    def _schedule(self) -> FaceParams:
        if not self.stiffness:
            raise ValueError("stiffness: give at least one stage")
        return self


class SfvParams(_Section):
    genders: tuple[Literal["male", "female"], ...] = ("male", "female")
    repeats: Annotated[int, Field(ge=2, le=10_000)] = 10
    iterations: Annotated[int, Field(ge=1, le=1_000_000)] = 300
    batch_size: Annotated[int, Field(ge=1, le=4096)] = 64
    segment_s: tuple[Annotated[float, Field(gt=0, le=60)], Annotated[float, Field(gt=0, le=60)]] = (3.0, 4.0)
    estimator: Literal["shared", "per_am", "stats_ridge"] = "stats_ridge"
    backend: Literal["local", "ray"] = "local"
    group_size: Annotated[int, Field(ge=0, le=1000)] = 0
    lr: Annotated[float, Field(gt=0, le=10)] = 0.01
    momentum: Annotated[float, Field(ge=0, lt=1)] = 0.9
    weight_decay: NonNegFloat = 5e-4
    warmup_steps: Annotated[int, Field(ge=0)] = 50
    clip_norm: Annotated[float, Field(gt=0)] = 5.0
    eval_every: Annotated[int, Field(ge=1)] = 50
    time_mask_frames: Annotated[int, Field(ge=0, le=10_000)] = 60
    band_mask: Annotated[int, Field(ge=0, le=256)] = 8
    dropout: Annotated[float, Field(ge=0, lt=1)] = 0.3
    beta_nll: Annotated[float, Field(ge=0, le=1)] = 0.0
    mean_warmup_steps: Annotated[int, Field(ge=0)] = 0
    evaluation_share: Annotated[float, Field(gt=0, lt=0.5)] = 0.1
    alpha: Annotated[float, Field(gt=0, lt=0.5)] = 0.05
    test: Literal["paper", "corrected", "permutation"] = "permutation"
    fdr: Literal["none", "bh"] = "bh"
    permutations: Annotated[int, Field(ge=0, le=100_000)] = 1000

    @model_validator(mode="after")
    def _ranges(self) -> SfvParams:
        _ordered_range(*self.segment_s, "segment_s")
        if not self.genders or len(set(self.genders)) != len(self.genders):
            raise ValueError("genders: give male and/or female, each once")
        if self.test == "permutation":
            if self.estimator != "stats_ridge":
                raise ValueError(f"test: permutation refits the estimator {self.permutations} times per repeat, "
                                 f"which only stats_ridge affords; with estimator {self.estimator} use "
                                 f"test: corrected (or paper)")
            if (1 + self.permutations) * self.alpha < 1:
                raise ValueError(f"permutations: {self.permutations} shufflings cannot give a p-value below "
                                 f"alpha {self.alpha}; use at least {int(np.ceil(1 / self.alpha))}")
        return self


class ReconstructParams(_Section):
    top_k: Annotated[int, Field(ge=1, le=1000)] = 10
    lam: Annotated[float, Field(ge=0, alias="lambda")] = 1.0
    variance_share: Annotated[float, Field(gt=0, le=1)] = 0.98
    max_components: Annotated[int, Field(ge=0)] = 0


class EvaluateParams(_Section):
    drop_shares: tuple[Annotated[float, Field(ge=0, lt=1)], ...] = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5)
    bootstrap: Annotated[int, Field(ge=100, le=1_000_000)] = 2000
    confidence: Annotated[float, Field(gt=0.5, lt=1)] = 0.95
    triplet_weight: NonNegFloat = 1.0
    triplet_margin: NonNegFloat = 1.0

    @model_validator(mode="after")
    def _shares(self) -> EvaluateParams:
        if not self.drop_shares or 0.0 not in self.drop_shares or 0.5 not in self.drop_shares:
            raise ValueError("drop_shares: must include 0.0 and 0.5 (the metrics report both)")
        return self


class ReportParams(_Section):
    viewer_speakers: Annotated[int, Field(ge=1, le=50)] = 3


class Params(_Section):
    seed: Annotated[int, Field(ge=0)] = 0
    device: Literal["auto", "cpu", "cuda"] = "auto"
    data: DataParams = DataParams()
    synth: SynthParams = SynthParams()
    audio: AudioParams = AudioParams()
    face: FaceParams = FaceParams()
    sfv: SfvParams = SfvParams()
    reconstruct: ReconstructParams = ReconstructParams()
    evaluate: EvaluateParams = EvaluateParams()
    report: ReportParams = ReportParams()


def _format(err: ValidationError, source: str) -> str:
    lines = [f"{source}: invalid parameters"]
    for e in err.errors():
        key = ".".join(str(p) for p in e["loc"] if not isinstance(p, int)) or "(top level)"
        index = [p for p in e["loc"] if isinstance(p, int)]
        where = f"{key}[{index[0]}]" if index else key
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            msg = "unknown key (check the spelling; README.md lists every parameter)"
        silent = e["type"] in ("extra_forbidden", "missing") or isinstance(e["input"], dict)
        got = "" if silent else f" (got {e['input']!r})"
        lines.append(f"  {where}: {msg}{got}")
    return "\n".join(lines)


def parse_params(raw: dict | None, source: str = "params") -> Params:
    """Validate a params mapping (as read from YAML) into `Params`."""
    try:
        # YAML gives lists; the models hold ranges as tuples.
        return Params.model_validate(_lists_to_tuples(raw or {}))
    except ValidationError as err:
        raise ParamsError(_format(err, source)) from None


def load_params(path: str | Path = "params.yaml") -> Params:
    """Read and validate a params.yaml file."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as err:
        raise ParamsError(f"{path}: cannot read parameters: {err}") from None
    if raw is not None and not isinstance(raw, dict):
        raise ParamsError(f"{path}: expected a mapping of parameter sections at the top level")
    return parse_params(raw, str(path))


def _lists_to_tuples(value):
    if isinstance(value, dict):
        return {k: _lists_to_tuples(v) for k, v in value.items()}
    if isinstance(value, list):
        return tuple(_lists_to_tuples(v) for v in value)
    return value
