"""Pre-training the estimator's encoder with the phonatory module, on D_t only, resumable.

Each repeat draws its pairs from its own D_t speakers: the code e comes from a log-mel
segment of one recording v and the diffusion target x₀ from a waveform crop of another
recording v′ of the same speaker (a speaker with one recording: the other half of it). The
pairs, steps t and noise come from numpy generators of the repeat's own seed, so a copy
trains the same in any group, and a checkpoint (weights, Adam state, generator states) every
`checkpoint_every` steps lets a crashed run resume to the same bytes.
"""
from __future__ import annotations

import io
from typing import Callable

import numpy as np
import torch

from ..artifacts import write_bytes
from .base import Checkpoint
from .network import StackedVoiceCNN, clip_per_copy
from .phonatory import (PhonatorySettings, StackedPhonatoryUNet, alpha_bar, beta_schedule, diffuse, epsilon_loss,
                        standardise_crops)

STREAM = 0x50484F4E  # the phonatory stream of a repeat's seed, apart from its CNN batches


def pair(mels: list[np.ndarray], waves: list[np.ndarray], rng: np.random.Generator, frames: int,
         samples: int) -> tuple[np.ndarray, np.ndarray]:
    """(log-mel segment [n_mels, frames] of v, waveform crop [samples] of v′) for one speaker
    whose recordings are `mels` [frames_i, n_mels] and `waves` [samples_i] (same order)."""
    if len(mels) != len(waves):
        raise ValueError(f"{len(mels)} feature recordings but {len(waves)} waveforms")
    if len(mels) >= 2:
        a, b = rng.choice(len(mels), size=2, replace=False)
        mel, wave = mels[a], waves[b]
    else:  # one recording: v and v′ are its two halves
        first = bool(rng.integers(2))
        mel_half, wave_half = len(mels[0]) // 2, len(waves[0]) // 2
        mel = mels[0][:mel_half] if first else mels[0][mel_half:]
        wave = waves[0][wave_half:] if first else waves[0][:wave_half]
    start = int(rng.integers(0, max(1, len(mel) - frames + 1)))
    if len(mel) < frames:
        mel = np.tile(mel, (frames // max(1, len(mel)) + 2, 1))
    if len(wave) < samples:
        wave = np.tile(wave, samples // max(1, len(wave)) + 2)
    offset = int(rng.integers(0, max(1, len(wave) - samples + 1)))
    return mel[start:start + frames].T, wave[offset:offset + samples]


def make_module(copies: int, code_dim: int, settings: PhonatorySettings, seeds: list[int]) -> StackedPhonatoryUNet:
    unet = StackedPhonatoryUNet(copies, code_dim, settings.widths, settings.tokens)
    unet.reset_parameters([int(s) * 7 + 1 for s in seeds])
    return unet


class PairBatches:
    """The ε-loss batches of a group: per step one segment length for all copies, and per
    repeat its own speakers, crops, steps t and noise."""

    def __init__(self, train_mels: list[list[list[np.ndarray]]], train_waves: list[list[list[np.ndarray]]],
                 seeds: list[int], length_seed: int, segment_frames: tuple[int, int], settings: PhonatorySettings):
        self.mels, self.waves, self.settings = train_mels, train_waves, settings
        self.segment_frames = segment_frames
        self.samplers = [np.random.default_rng([int(s), STREAM]) for s in seeds]
        self.lengths = np.random.default_rng([int(length_seed), STREAM])

    def draw(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """mel [B, R, n_mels, frames], x₀ [B, R, L], t [B, R] (0-based), ε [B, R, L]."""
        s = self.settings
        frames = int(self.lengths.integers(self.segment_frames[0], self.segment_frames[1] + 1))
        n_repeats, n_mels = len(self.samplers), self.mels[0][0][0].shape[1]
        mel = np.empty((s.batch_size, n_repeats, n_mels, frames), np.float32)
        wave = np.empty((s.batch_size, n_repeats, s.crop_samples), np.float32)
        steps = np.empty((s.batch_size, n_repeats), np.int64)
        noise = np.empty((s.batch_size, n_repeats, s.crop_samples), np.float32)
        for r, rng in enumerate(self.samplers):
            for b, speaker in enumerate(rng.integers(len(self.mels[r]), size=s.batch_size)):
                mel[b, r], wave[b, r] = pair(self.mels[r][speaker], self.waves[r][speaker], rng, frames,
                                             s.crop_samples)
            steps[:, r] = rng.integers(0, s.timesteps, size=s.batch_size)
            noise[:, r] = rng.standard_normal((s.batch_size, s.crop_samples), dtype=np.float32)
        return mel, standardise_crops(wave), steps, noise

    def state(self) -> dict:
        return {"samplers": [g.bit_generator.state for g in self.samplers], "lengths": self.lengths.bit_generator.state}

    def restore(self, state: dict) -> None:
        for g, saved in zip(self.samplers, state["samplers"]):
            g.bit_generator.state = saved
        self.lengths.bit_generator.state = state["lengths"]


def phonatory_loss(net: StackedVoiceCNN, unet: StackedPhonatoryUNet, batch, alpha_bars: torch.Tensor,
                   device: torch.device) -> torch.Tensor:
    """The ε-loss of each copy [R] on one batch from `PairBatches.draw`, differentiable in the
    encoder and the module."""
    mel, x0, steps, noise = (torch.from_numpy(a).to(device) for a in batch)
    code = net.encode(mel)
    predicted = unet(diffuse(x0, steps, noise, alpha_bars), steps, code)
    return epsilon_loss(noise, predicted).mean(dim=0)


def pretrain(net: StackedVoiceCNN, unet: StackedPhonatoryUNet, batches: PairBatches, settings: PhonatorySettings,
             device: torch.device, clip_norm: float, checkpoint: Checkpoint | None = None,
             progress: Callable[[int], None] | None = None) -> np.ndarray:
    """`settings.steps` Adam steps of net's encoder and the module on the ε-loss alone;
    returns the loss of every step and copy [steps, R]. Resumes from `checkpoint` when it
    holds this group's state, and writes it every `checkpoint_every` steps and at the end."""
    parameters = [*net.body.parameters(), *unet.parameters()]
    optimiser = torch.optim.Adam(parameters, lr=settings.lr)
    alpha_bars = torch.from_numpy(alpha_bar(beta_schedule(settings.timesteps, settings.schedule,
                                                          settings.beta_range))).float().to(device)
    losses = np.zeros((settings.steps, net.copies), np.float64)
    done = _resume(checkpoint, net, unet, optimiser, batches, losses)
    if progress and done:
        progress(done)
    for step in range(done + 1, settings.steps + 1):
        losses[step - 1] = pretrain_step(net, unet, optimiser, batches.draw(), alpha_bars, device, clip_norm)
        if progress:
            progress(1)
        if checkpoint and (step % settings.checkpoint_every == 0 or step == settings.steps):
            _save(checkpoint, step, net, unet, optimiser, batches, losses)
    return losses


def pretrain_step(net: StackedVoiceCNN, unet: StackedPhonatoryUNet, optimiser: torch.optim.Optimizer, batch,
                  alpha_bars: torch.Tensor, device: torch.device, clip_norm: float) -> np.ndarray:
    """One step of encoder and module on the ε-loss; returns each copy's loss [R]."""
    net.train()
    unet.train()
    loss = phonatory_loss(net, unet, batch, alpha_bars, device)
    optimiser.zero_grad(set_to_none=True)
    loss.sum().backward()
    clip_per_copy([net.body, unet], net.copies, clip_norm)
    optimiser.step()
    return loss.detach().cpu().numpy()


def _save(checkpoint: Checkpoint, step: int, net, unet, optimiser, batches: PairBatches, losses: np.ndarray) -> None:
    buffer = io.BytesIO()
    torch.save({"fingerprint": checkpoint.fingerprint, "step": step, "net": net.state_dict(),
                "unet": unet.state_dict(), "optimiser": optimiser.state_dict(), "batches": batches.state(),
                "losses": losses[:step].copy()}, buffer)
    write_bytes(buffer.getvalue(), checkpoint.path)


def _resume(checkpoint: Checkpoint | None, net, unet, optimiser, batches: PairBatches, losses: np.ndarray) -> int:
    """The step a stored checkpoint of this group reached (its state loaded), else 0."""
    if checkpoint is None or not checkpoint.path.is_file():
        return 0
    try:
        state = torch.load(checkpoint.path, map_location="cpu", weights_only=False)
    except Exception:  # a truncated or foreign file: start again
        return 0
    if state.get("fingerprint") != checkpoint.fingerprint or state["step"] > len(losses):
        return 0
    net.load_state_dict(state["net"])
    unet.load_state_dict(state["unet"])
    optimiser.load_state_dict(state["optimiser"])
    batches.restore(state["batches"])
    losses[:state["step"]] = state["losses"]
    return int(state["step"])
