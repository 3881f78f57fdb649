"""Typed, validated parameters: params.yaml loads into frozen pydantic models.

An unknown key, a wrong type or an out-of-range value fails at load with a message that
names the key, so a typo in `dvc exp run -S ...` never runs silently with a default.
"""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from .errors import ParamsError

PositiveInt = Annotated[int, Field(gt=0)]
NonNegFloat = Annotated[float, Field(ge=0)]



class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


def _ordered_range(lo: float, hi: float, name: str) -> None:
    if lo > hi:
        raise ValueError(f"{name}: [min, max] with min <= max (got [{lo}, {hi}])")


class Speakers(_Section):
    male: Annotated[int, Field(gt=0, le=100_000)] = Field(
        150, description="men in the synthetic cohort (the source had 364)")
    female: Annotated[int, Field(gt=0, le=100_000)] = Field(
        150, description="women in the synthetic cohort (the source had 662)")


class ScanParams(_Section):
    vertices: tuple[Annotated[int, Field(ge=500)], Annotated[int, Field(ge=500)]] = Field(
        (9000, 14000), description="range [min, max] of each raw scan's own vertex count")
    rotation_deg: Annotated[float, Field(ge=0, le=180)] = Field(
        20.0, description="random pose: up to ± this many degrees about each axis; 180 = a uniformly random "
                          "rotation (any orientation equally likely)")
    translation_mm: NonNegFloat = Field(50.0, description="random pose: up to ± this many mm along each axis")
    noise_mm: Annotated[float, Field(ge=0, le=5)] = Field(0.3, description="scanner noise along the normals (SD, mm)")
    holes: tuple[Annotated[int, Field(ge=0, le=50)], Annotated[int, Field(ge=0, le=50)]] = Field(
        (1, 4), description="range [min, max] of the number of small holes per scan")
    hole_radius_mm: tuple[
        Annotated[float, Field(gt=0, le=20)], Annotated[float, Field(gt=0, le=20)]
    ] = Field((2.0, 5.0), description="range [min, max] of the hole radius (mm)")
    head: Literal["none", "front", "whole"] = Field(
        "none", description="extent of a scan: none = the face mask; front = the head too (skull, sides, neck cut "
                            "40-80 mm below the chin), cut off behind the ears; whole = the whole head, open at the "
                            "neck only (docs/synthetic-cohort.md)")
    clutter: Annotated[float, Field(ge=0, le=5)] = Field(
        0.0, description="junk in a scan, per unit: 20 hair strands over the forehead and scalp, 2 stray blobs and, "
                         "with a head, 8 bumps of hair on the scalp (0 = none)")
    unit: Literal["mm", "cm", "m", "um"] = Field(
        "mm", description="unit of the scan and landmark files' coordinates (um = µm); the truth stays in mm, "
                          "truth/poses.npy maps it to the files' unit")

    @model_validator(mode="after")
    def _ranges(self) -> ScanParams:
        _ordered_range(*self.vertices, "vertices")
        _ordered_range(*self.holes, "holes")
        _ordered_range(*self.hole_radius_mm, "hole_radius_mm")
        return self


class AnnotationParams(_Section):
    noise_mm: Annotated[float, Field(ge=0, le=10)] = Field(
        1.0, description="landmark annotation noise (SD per axis, mm)")
    mislabel_rate: Annotated[float, Field(ge=0, le=0.5)] = Field(
        0.02, description="share of landmarks grossly mislabelled")
    mislabel_mm: tuple[Annotated[float, Field(gt=0)], Annotated[float, Field(gt=0)]] = Field(
        (5.0, 15.0), description="range [min, max] of a mislabel's displacement (mm)")

    @model_validator(mode="after")
    def _ranges(self) -> AnnotationParams:
        _ordered_range(*self.mislabel_mm, "mislabel_mm")
        return self


LinkGroup = Literal["vocal_tract", "nasal", "lips", "jaw"]


class SynthParams(_Section):
    speakers: Speakers = Field(Speakers(), description="cohort size per sex")
    vertices: Annotated[int, Field(ge=2000, le=200_000)] = Field(6790, description="template vertex count")
    residual_mm: Annotated[float, Field(ge=0, le=5)] = Field(
        0.8, description="RMS (mm) of the smooth random residual shape")
    mean_shift: Annotated[float, Field(ge=0, le=2)] = Field(
        0.0, description="how far the cohort's mean face is from the template: 1 = mouth width +8, intercanthal "
                         "width +4, nose length (n-sn) +5, jaw width −8 mm on both sexes' means; 0 = none")
    scan: ScanParams = Field(ScanParams(), description="the raw scans made from the true faces")
    annotation: AnnotationParams = Field(AnnotationParams(), description="the landmark annotations of the scans")
    sheet_faces: Annotated[int, Field(ge=2, le=32)] = Field(
        8, description="faces shown on reports/synth/faces.png")
    seconds: Annotated[float, Field(ge=4, le=600)] = Field(
        10.0, description="length of each recording (s), silences included, ≥ 2 s of speech (the source had ~120)")
    recordings: Annotated[int, Field(ge=1, le=20)] = Field(
        2, description="recordings per speaker, each starting at a different phrase of the script "
                       "(the phonatory module's v′ is another recording of the same speaker)")
    coupling: Annotated[float, Field(ge=0, le=2)] = Field(
        1.6, description="planted voice–face link strength: 0 = null world, 1 = the link table's strengths, > 1 more")
    planted: tuple[LinkGroup, ...] = Field(
        ("vocal_tract", "nasal", "lips", "jaw"), description="link groups switched on (any subset, no repeats)")
    snr_db: tuple[Annotated[float, Field(ge=-10, le=80)], Annotated[float, Field(ge=-10, le=80)]] = Field(
        (15.0, 35.0), description="range [min, max] of the recording SNR (dB)")
    reverb: Annotated[float, Field(ge=0, le=1)] = Field(
        0.3, description="share of recordings with a short room reverb (RT60 0.1–0.3 s)")
    silence_s: tuple[Annotated[float, Field(ge=0, le=5)], Annotated[float, Field(ge=0, le=5)]] = Field(
        (0.3, 1.0), description="range [min, max] of the leading and of the trailing silence (s)")
    sheet_voices: Annotated[int, Field(ge=2, le=16)] = Field(
        4, description="speakers shown on reports/synth/voices.png")

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
    root: str = Field("data/synthetic", description="the dataset root the pipeline reads (layout: docs/own-data.md)")
    on_error: Literal["fail", "skip"] = Field(
        "fail", description="fail stops at bad input; skip drops the speaker and records why")


class AudioParams(_Section):
    sample_rate: Literal[16000] = Field(
        16000, description="every recording is resampled to this rate (Silero needs 16 kHz)")
    vad: Literal["silero", "energy"] = Field(
        "silero", description="voice activity detection: the neural Silero VAD or an energy detector")
    vad_threshold: Annotated[float, Field(gt=0, lt=1)] = Field(0.5, description="Silero's speech-probability threshold")
    energy_threshold_db: Annotated[float, Field(gt=0, le=60)] = Field(
        6.0, description="energy VAD: dB above the recording's noise floor (its 10th-percentile frame energy)")
    min_speech_s: Annotated[float, Field(ge=0, le=5)] = Field(
        0.25, description="shorter speech segments are dropped (s)")
    min_silence_s: Annotated[float, Field(ge=0, le=5)] = Field(0.1, description="shorter pauses are bridged (s)")
    n_mels: Annotated[int, Field(ge=8, le=256)] = Field(64, description="mel bands of the log-mel features")
    window_ms: Annotated[float, Field(ge=5, le=100)] = Field(25.0, description="analysis window (ms)")
    hop_ms: Annotated[float, Field(ge=1, le=50)] = Field(10.0, description="analysis hop (ms)")


ENCODER_KINDS = ("egemaps", "praat", "resemblyzer")  # built in; speechbrain:<source> and hf:<source> name a model
LOADED_KINDS = ("speechbrain", "hf")


class EmbeddingParams(_Section):
    encoder: tuple[str, ...] = Field(
        ("egemaps",), description="the voice encoders of the embeddings stage, their vectors concatenated in this "
                                  "order (one name alone is a list of one): egemaps (openSMILE's 88 eGeMAPSv02 "
                                  "functionals), praat (parselmouth's formants, VTL, F0, HNR, jitter, shimmer), "
                                  "resemblyzer (GE2E, 256-d), speechbrain:<dir or hub id> (an ECAPA-TDNN speaker "
                                  "model), hf:<dir or hub id> (a transformers speech model); models load offline "
                                  "from a folder or the local hub cache only (docs/embeddings.md)")
    layers: tuple[int, ...] = Field(
        (-1,), description="hf encoders: the hidden-state layers averaged before pooling over time (0 = the CNN "
                           "front end's projection, 1..L the transformer layers, negative counts from the last)")
    window_s: Annotated[float, Field(ge=1, le=600)] = Field(
        10.0, description="recordings are cut into equal windows of at most this many seconds of speech, each "
                          "embedded alone and averaged weighted by length, so memory stays bounded")
    batch_size: Annotated[int, Field(ge=1, le=1024)] = Field(
        8, description="windows per forward pass of the torch encoders (resemblyzer, speechbrain, hf)")
    with_logmel: bool = Field(
        False, description="embedding_ridge also reads the log-mel statistics (stats_ridge's input) beside the "
                           "vectors")

    @model_validator(mode="before")
    @classmethod
    def _one_name(cls, raw: object) -> object:
        # `dvc exp run -S embedding.encoder=praat` gives a string: a list of one
        if isinstance(raw, dict) and isinstance(raw.get("encoder"), str):
            return {**raw, "encoder": (raw["encoder"],)}
        return raw

    @model_validator(mode="after")
    def _specs(self) -> EmbeddingParams:
        if not self.encoder:
            raise ValueError("encoder: give at least one encoder")
        for spec in self.encoder:
            kind, _, source = spec.partition(":")
            if not (spec in ENCODER_KINDS or (kind in LOADED_KINDS and source.strip())):
                raise ValueError(f"encoder: {spec!r} is not one of {', '.join(ENCODER_KINDS)}, "
                                 f"speechbrain:<dir or hub id>, hf:<dir or hub id>")
        if len(set(self.encoder)) != len(self.encoder):
            raise ValueError(f"encoder: an encoder is listed twice ({list(self.encoder)})")
        if not self.layers:
            raise ValueError("layers: give at least one layer")
        return self


class FaceParams(_Section):
    template_vertices: Annotated[int, Field(ge=2000, le=200_000)] = Field(
        6790, description="vertex count of the registration template (the synthetic template face)")
    landmark_vertices: str = Field(
        "", description="faces.csv roots: a (landmark, vertex_index) CSV; empty = the shipped 6,790-vertex indices")
    ams: str = Field("pipeline/data/ams_96.csv", description="the AM table; copy it and add rows for your own AMs")
    qc_components: Annotated[int, Field(ge=0, le=100)] = Field(
        10, description="principal components of the landmark-configuration model")
    qc_alpha: Annotated[float, Field(gt=0, lt=0.5)] = Field(
        0.001, description="per-landmark false-flag probability under Gaussian annotation scatter")
    qc_max_flagged: Annotated[float, Field(gt=0, le=1)] = Field(
        0.25, description="a face with a larger share of flagged annotated landmarks is landmarked automatically; "
                          "after registration, a face with a larger share of its landmarks outside the cohort's "
                          "shape model is flagged")
    stiffness: tuple[Annotated[float, Field(gt=0)], ...] = Field(
        (3000.0, 1000.0, 300.0),
        description="non-rigid ICP: bending stiffness of each coarse-to-fine stage (at least one stage)")
    landmark_weight: NonNegFloat = Field(30.0, description="non-rigid ICP: weight of the landmark term")
    iterations: Annotated[int, Field(ge=1, le=100)] = Field(
        3, description="non-rigid ICP: closest-point rounds per stage")
    max_distance_mm: Annotated[float, Field(gt=0)] = Field(
        10.0, description="non-rigid ICP: matches farther than this are ignored (mm)")
    min_coverage: Annotated[float, Field(ge=0, le=1)] = Field(
        0.8, description="register QC: flag a scan matched on a smaller share of the template")
    max_surface_mm: Annotated[float, Field(gt=0)] = Field(
        1.0, description="register QC: flag a scan fitted farther than this on average (mm)")
    max_landmark_fit_mm: Annotated[float, Field(gt=0)] = Field(
        3.0, description="register QC: flag a face whose guide vertices end farther than this from its "
                         "annotated points on average (mm)")
    max_asymmetry_mm: Annotated[float, Field(gt=0)] = Field(
        6.0, description="register QC: flag a face whose registered landmarks lie farther than this from their "
                         "mirror image on average (mm; a face's own asymmetry is 1-3 mm)")
    max_start_mm: Annotated[float, Field(gt=0)] = Field(
        4.3, description="register QC, faces with fewer than 3 guides: flag a face whose search on the scan "
                         "scored worse than this (mm; the nose's distance to the scan plus the matched surface's "
                         "asymmetry: faces score 3.8 at most, heads without a face 4.8 and more; docs/geometry.md)")
    transfer_guides: str = Field(
        "", description="faces.csv roots in another topology: a landmark,vertex CSV naming points of the "
                        "vocabulary (ibug1..ibug68, sfv1..sfv65) at 0-based vertices of that topology, to guide "
                        "the automatic transfer of the 65 landmarks (docs/own-data.md)")
    max_transfer_mm: Annotated[float, Field(gt=0)] = Field(
        2.0, description="faces.csv roots: flag a transferred landmark that lands farther than this from the mean "
                         "face's surface (mm)")
    template_rounds: Annotated[int, Field(ge=0, le=10)] = Field(
        0, description="register: after the first pass, re-register every scan onto the mean of the faces the "
                       "pass before kept, this many times (groupwise registration; docs/geometry.md)")

    @model_validator(mode="after")
    def _schedule(self) -> FaceParams:
        if not self.stiffness:
            raise ValueError("stiffness: give at least one stage")
        return self


class SfvParams(_Section):
    genders: tuple[Literal["male", "female"], ...] = Field(
        ("male", "female"), description="genders trained and selected, each separately (each listed once)")
    repeats: Annotated[int, Field(ge=2, le=10_000)] = Field(
        10, description="random speaker-disjoint splits N (source: 100)")
    iterations: Annotated[int, Field(ge=1, le=1_000_000)] = Field(
        300, description="SGD steps per network (source: 5,000)")
    batch_size: Annotated[int, Field(ge=1, le=4096)] = Field(64, description="segments per batch")
    segment_s: tuple[Annotated[float, Field(gt=0, le=60)], Annotated[float, Field(gt=0, le=60)]] = Field(
        (3.0, 4.0), description="range [min, max] of the training segment length (s; source: 6–8)")
    estimator: str = Field(
        "stats_ridge",
        description="the voice → AM estimator, a name of pipeline/estimator/registry.py: stats_ridge (ridge on "
                    "speaker statistics), embedding_ridge (the same ridge on the embeddings stage's vectors: "
                    "embedding.*), shared (the source's CNN, one backbone), per_am (one CNN per AM, as the source); "
                    "the params stage asks it whether it can honour the rest (docs/estimators.md)")
    backend: Literal["local", "ray"] = Field(
        "local",
        description="where repeats train: this machine, or the Ray cluster of RAY_ADDRESS (pip install 'sfv[ray]')")
    group_size: Annotated[int, Field(ge=0, le=1000)] = Field(
        0,
        description="repeats stacked into one network and trained together; 0 = auto (1 on a CPU, up to 25 on a GPU)")
    lr: Annotated[float, Field(gt=0, le=10)] = Field(0.01, description="SGD learning rate (source: 0.1)")
    momentum: Annotated[float, Field(ge=0, lt=1)] = Field(0.9, description="SGD momentum, as the source")
    weight_decay: NonNegFloat = Field(5e-4, description="SGD weight decay, as the source")
    warmup_steps: Annotated[int, Field(ge=0)] = Field(50, description="steps of linear learning-rate warm-up")
    clip_norm: Annotated[float, Field(gt=0)] = Field(5.0, description="gradient-norm clip, per network")
    eval_every: Annotated[int, Field(ge=1)] = Field(
        50, description="steps between D_v1 evaluations (model selection per AM)")
    time_mask_frames: Annotated[int, Field(ge=0, le=10_000)] = Field(
        60, description="CNN: one masked stretch of up to this many frames per training segment (0 = none)")
    band_mask: Annotated[int, Field(ge=0, le=256)] = Field(
        8, description="CNN: one masked run of up to this many mel bands per training segment (0 = none)")
    dropout: Annotated[float, Field(ge=0, lt=1)] = Field(
        0.3, description="CNN: dropout on the pooled features before the heads")
    beta_nll: Annotated[float, Field(ge=0, le=1)] = Field(
        0.0, description="CNN: β of β-NLL (0 = the plain Gaussian NLL)")
    mean_warmup_steps: Annotated[int, Field(ge=0)] = Field(
        0, description="CNN: the first steps train the mean heads alone (squared error)")
    phonatory: bool = Field(
        False, description="CNN: pre-train the encoder with the source's phonatory module on D_t first "
                           "(the `phonatory:` section; docs/training.md)")
    evaluation_share: Annotated[float, Field(gt=0, lt=0.5)] = Field(
        0.1, description="share of speakers in the fixed evaluation set D_e")
    alpha: Annotated[float, Field(gt=0, lt=0.5)] = Field(0.05, description="level of the one-sided tests")
    test: Literal["paper", "corrected", "permutation"] = Field(
        "permutation",
        description="the test that decides z: exact permutation (estimators that afford its null: stats_ridge), "
                    "Nadeau–Bengio, or the source's")
    fdr: Literal["none", "bh"] = Field(
        "bh", description="bh: Benjamini–Hochberg across AMs before comparing with alpha; none: no adjustment")
    permutations: Annotated[int, Field(ge=0, le=100_000)] = Field(
        5000, description="most shufflings B per AM for the permutation test (stats_ridge; 0 = none); a lone "
                          "AM needs (1 + B)·α ≥ m (the number of AMs) under fdr: bh, (1 + B)·α ≥ 1 without")
    permutation_exceedances: Annotated[int, Field(ge=1, le=100_000)] = Field(
        10, description="an AM's shuffling stops once this many shuffled ratios reach its observed one "
                        "(Besag & Clifford's sequential p-value; ≥ B = a fixed B for every AM)")

    @model_validator(mode="after")
    def _ranges(self) -> SfvParams:
        _ordered_range(*self.segment_s, "segment_s")
        if not self.genders or len(set(self.genders)) != len(self.genders):
            raise ValueError("genders: give male and/or female, each once")
        return self


class ReconstructParams(_Section):
    top_k: Annotated[int, Field(ge=1, le=1000)] = Field(
        10, description="the most predictable AMs (lowest CI_u among z = 1) that guide the fit")
    lam: Annotated[float, Field(ge=0, alias="lambda")] = Field(
        1.0, description="weight of ‖β‖² (whitened coefficients) against the AM misfit in z units")
    variance_share: Annotated[float, Field(gt=0, le=1)] = Field(
        0.98, description="eigenface: the fewest components explaining this share of the variance")
    max_components: Annotated[int, Field(ge=0)] = Field(
        0, description="eigenface: at most this many components (0 = no cap)")


class EvaluateParams(_Section):
    drop_shares: tuple[Annotated[float, Field(ge=0, lt=1)], ...] = Field(
        (0.0, 0.1, 0.2, 0.3, 0.4, 0.5),
        description="shares of D_e dropped, most uncertain first (must include 0 and 0.5)")
    bootstrap: Annotated[int, Field(ge=100, le=1_000_000)] = Field(
        2000, description="speaker resamples for the 1:2 matching interval")
    confidence: Annotated[float, Field(gt=0.5, lt=1)] = Field(0.95, description="level of that interval")
    triplet_weight: NonNegFloat = Field(1.0, description="regression baseline: weight of the triplet term against L2")
    triplet_margin: NonNegFloat = Field(
        1.0, description="regression baseline: triplet margin (whitened coefficient units)")

    @model_validator(mode="after")
    def _shares(self) -> EvaluateParams:
        if not self.drop_shares or 0.0 not in self.drop_shares or 0.5 not in self.drop_shares:
            raise ValueError("drop_shares: must include 0.0 and 0.5 (the metrics report both)")
        return self


class PhonemesParams(_Section):
    by: Literal["phone", "class"] = Field(
        "class", description="unit of the phoneme analysis: the phone classes of pipeline/audio/phones.py, or "
                             "each ARPAbet phone (needs more speech per speaker; docs/phonemes.md)")
    min_instances: Annotated[int, Field(ge=1, le=10_000)] = Field(
        3, description="a speaker enters a unit's analysis with at least this many instances of it")
    min_frames: Annotated[int, Field(ge=2, le=1000)] = Field(
        2, description="an instance counts with at least this many speech frames (10 ms each)")
    min_speakers: Annotated[float, Field(gt=0, le=1)] = Field(
        0.8, description="a unit is analysed when at least this share of the gender's speakers has it")


class PhonatoryParams(_Section):
    steps: Annotated[int, Field(ge=1, le=1_000_000)] = Field(
        200, description="pre-training steps of encoder + module on D_t, per repeat (source: 60,000)")
    weight: Annotated[float, Field(ge=0, le=100)] = Field(
        0.0, description="weight of the ε-loss beside the NLL while the heads train (0: pre-training only, as "
                         "the source; > 0 needs estimator shared and encoder trainable)")
    encoder: Literal["trainable", "frozen"] = Field(
        "trainable", description="the encoder while the heads train after pre-training")
    batch_size: Annotated[int, Field(ge=1, le=4096)] = Field(16, description="pairs (v, v′) per pre-training step")
    lr: Annotated[float, Field(gt=0, le=1)] = Field(0.001, description="Adam learning rate of the pre-training")
    crop_samples: Annotated[int, Field(ge=64, le=160_000)] = Field(
        2048, description="length of the waveform crop x₀ (samples at 16 kHz); a multiple of 4^(levels − 1)")
    timesteps: Annotated[int, Field(ge=2, le=10_000)] = Field(1000, description="diffusion steps T")
    schedule: Literal["linear", "cosine"] = Field(
        "linear", description="β schedule: Ho et al.'s linear, or Nichol & Dhariwal's cosine")
    beta_range: tuple[Annotated[float, Field(gt=0, lt=1)], Annotated[float, Field(gt=0, lt=1)]] = Field(
        (0.0001, 0.02), description="linear schedule: [β_1, β_T] (Ho et al.)")
    widths: tuple[Annotated[int, Field(ge=4, le=1024)], ...] = Field(
        (16, 32, 64), description="U-Net channels per level (each a multiple of 4; two levels or more)")
    tokens: Annotated[int, Field(ge=1, le=256)] = Field(
        8, description="cross-attention tokens projected from the voice code e")
    checkpoint_every: Annotated[int, Field(ge=1)] = Field(
        50, description="pre-training steps between saved checkpoints (resuming)")

    @model_validator(mode="after")
    def _shape(self) -> PhonatoryParams:
        _ordered_range(*self.beta_range, "beta_range")
        if len(self.widths) < 2 or any(w % 4 for w in self.widths):
            raise ValueError(f"widths: {list(self.widths)}; give two levels or more, each a multiple of 4")
        multiple = 4 ** (len(self.widths) - 1)
        if self.crop_samples % multiple:
            raise ValueError(f"crop_samples: {self.crop_samples} is not a multiple of {multiple} "
                             f"(4^(levels − 1) for {len(self.widths)} levels)")
        if self.weight > 0 and self.encoder == "frozen":
            raise ValueError("weight: the ε-loss beside the NLL trains the encoder, which encoder: frozen keeps fixed")
        return self


class ReportParams(_Section):
    viewer_speakers: Annotated[int, Field(ge=1, le=50)] = Field(
        3, description="D_e speakers per gender in the report's 3D viewer, the most certain first")


class Params(_Section):
    seed: Annotated[int, Field(ge=0)] = Field(
        0, description="seed of everything random; the same params and seed give byte-identical outputs")
    device: Literal["auto", "cpu", "cuda"] = Field(
        "auto", description="device of the torch stages (auto: CUDA when present)")
    data: DataParams = Field(DataParams(), description="the dataset root and what to do with bad input")
    synth: SynthParams = Field(SynthParams(), description="the synthetic cohort (docs/synthetic-cohort.md)")
    audio: AudioParams = Field(
        AudioParams(), description="the audio front end: VAD and log-mel features (docs/audio.md)")
    embedding: EmbeddingParams = Field(
        EmbeddingParams(), description="voice embeddings: acoustic measures and pretrained encoders (docs/embeddings.md)")
    face: FaceParams = Field(
        FaceParams(), description="face geometry: landmark QC, registration, AMs (docs/geometry.md)")
    sfv: SfvParams = Field(
        SfvParams(), description="training and selection (docs/training.md, docs/selection.md, docs/estimators.md)")
    reconstruct: ReconstructParams = Field(
        ReconstructParams(), description="the eigenface model and the AM-guided fit (docs/reconstruction.md)")
    evaluate: EvaluateParams = Field(
        EvaluateParams(), description="evaluation and the regression baseline (docs/reconstruction.md)")
    phonemes: PhonemesParams = Field(
        PhonemesParams(), description="the phoneme analysis from <root>/alignments (docs/phonemes.md)")
    phonatory: PhonatoryParams = Field(
        PhonatoryParams(), description="the phonatory module, on with sfv.phonatory (docs/training.md)")
    report: ReportParams = Field(ReportParams(), description="the HTML report reports/index.html (docs/cli.md)")


def _format(err: ValidationError, source: str) -> str:
    lines = [f"{source}: invalid parameters"]
    for e in err.errors():
        key = ".".join(str(p) for p in e["loc"] if not isinstance(p, int)) or "(top level)"
        index = [p for p in e["loc"] if isinstance(p, int)]
        where = f"{key}[{index[0]}]" if index else key
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            msg = "unknown key (check the spelling; docs/parameters.md lists every parameter)"
        silent = e["type"] in ("extra_forbidden", "missing") or isinstance(e["input"], dict)
        got = "" if silent else f" (got {e['input']!r})"
        lines.append(f"  {where}: {msg}{got}")
    return "\n".join(lines)


def default_params() -> Params:
    """Every parameter at its default: the one place defaults live (tests and tools start here)."""
    return Params()


def with_values(params: Params, section: str, values: dict, source: str) -> Params:
    """`params` with some keys of one section replaced, validated like params.yaml (`source`
    names where the values came from in an error)."""
    raw = params.model_dump(mode="json", by_alias=True)
    raw[section].update(values)
    return parse_params(raw, source)


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
