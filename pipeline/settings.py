"""params.yaml -> the library's settings objects, in one place for stages and the CLI alike."""
from __future__ import annotations

import torch

from .config import FaceParams, Params, ParamsError, load_params
from .estimator.phonatory import PhonatorySettings
from .estimator.training import TrainSettings
from .face.register import Stage

GENDER_CODES = {"male": "M", "female": "F"}  # sfv.genders -> the manifest's gender column


def device_for(name: str) -> torch.device:
    """`device: auto` is the GPU when torch sees one."""
    return torch.device("cuda" if name == "cuda" or (name == "auto" and torch.cuda.is_available()) else "cpu")


def train_settings(params: Params) -> TrainSettings:
    sfv = params.sfv
    frames = tuple(int(round(s * 1000.0 / params.audio.hop_ms)) for s in sfv.segment_s)
    return TrainSettings(iterations=sfv.iterations, batch_size=sfv.batch_size, segment_frames=frames,
                         estimator=sfv.estimator, lr=sfv.lr, momentum=sfv.momentum,
                         weight_decay=sfv.weight_decay, warmup_steps=sfv.warmup_steps,
                         clip_norm=sfv.clip_norm, eval_every=sfv.eval_every, length_seed=params.seed,
                         time_mask_frames=sfv.time_mask_frames, band_mask=sfv.band_mask, dropout=sfv.dropout,
                         beta_nll=sfv.beta_nll, mean_warmup_steps=sfv.mean_warmup_steps,
                         phonatory=phonatory_settings(params) if sfv.phonatory else None)


def phonatory_settings(params: Params) -> PhonatorySettings:
    p = params.phonatory
    return PhonatorySettings(steps=p.steps, weight=p.weight, encoder=p.encoder, batch_size=p.batch_size, lr=p.lr,
                             crop_samples=p.crop_samples, timesteps=p.timesteps, schedule=p.schedule,
                             beta_range=tuple(p.beta_range), widths=tuple(p.widths), tokens=p.tokens,
                             checkpoint_every=p.checkpoint_every)


def registration_schedule(face: FaceParams) -> tuple[Stage, ...]:
    """The coarse-to-fine stiffness levels of face.stiffness."""
    return tuple(Stage(s, face.landmark_weight, face.iterations) for s in face.stiffness)


def configured_params(params_path, gender: str) -> Params:
    """The params of a per-gender stage, which exists only for the genders of sfv.genders."""
    params = load_params(params_path)
    if gender not in params.sfv.genders:
        raise ParamsError(f"gender {gender!r} is not in sfv.genders")
    return params
