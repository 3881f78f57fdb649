"""Training a group of repeats at once, with per-AM model selection on D_v1.

The loop is plain: sample each repeat's batch from its own training speakers, one step of the
stacked network, and every `eval_every` steps a whole-recording prediction for the repeat's
D_v1, D_v2 and D_e speakers. Per AM, the predictions (and the weights that made them) of the
step with the lowest D_v1 error are kept.

Each repeat draws its initial weights and its batches from its own seed, and the segment
length of every step comes from one stream shared by all groups, so a repeat trains on the
same data whatever group it is in.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from ..config import Params
from .base import Checkpoint, RepeatData, RepeatResult
from .cnn_model import CnnModel
from .fusion import crop, fuse, segment_starts
from .network import StackedVoiceCNN, clip_per_copy
from .phonatory import PhonatorySettings, alpha_bar, beta_schedule
from .pretrain import PairBatches, make_module, phonatory_loss, pretrain


@dataclass(frozen=True)
class TrainSettings:
    """SGD training of a voice CNN (the AM estimators and the regression baseline); every
    value comes from params.yaml's sfv: section (`from_params`), where the defaults live."""

    iterations: int
    batch_size: int
    segment_frames: tuple[int, int]  # training segment length range, frames
    lr: float
    momentum: float
    weight_decay: float
    warmup_steps: int
    clip_norm: float
    eval_every: int
    length_seed: int
    # Against memorising ~100 training voices (docs/training.md): masks that hide a stretch
    # of frames or a run of bands in each training segment (SpecAugment; never a pitch or
    # tract-length warp, which would destroy the cue), dropout before the heads, beta-NLL
    # (Seitzer et al. 2022: each AM's loss weighted by its detached G^beta, so hard AMs are not
    # given up by inflating G), and a warm-up that trains the mean heads alone (MSE, G = 1).
    time_mask_frames: int  # longest masked stretch of frames (one mask per segment; 0 = none)
    band_mask: int  # widest masked run of mel bands (one mask per segment; 0 = none)
    dropout: float
    beta_nll: float
    mean_warmup_steps: int
    phonatory: PhonatorySettings | None  # the source's phonatory module (None = off)

    @classmethod
    def from_params(cls, params: Params) -> TrainSettings:
        sfv = params.sfv
        frames = tuple(int(round(s * 1000.0 / params.audio.hop_ms)) for s in sfv.segment_s)
        return cls(iterations=sfv.iterations, batch_size=sfv.batch_size, segment_frames=frames, lr=sfv.lr,
                   momentum=sfv.momentum, weight_decay=sfv.weight_decay, warmup_steps=sfv.warmup_steps,
                   clip_norm=sfv.clip_norm, eval_every=sfv.eval_every, length_seed=params.seed,
                   time_mask_frames=sfv.time_mask_frames, band_mask=sfv.band_mask, dropout=sfv.dropout,
                   beta_nll=sfv.beta_nll, mean_warmup_steps=sfv.mean_warmup_steps,
                   phonatory=PhonatorySettings.from_params(params.phonatory) if sfv.phonatory else None)

    @property
    def eval_frames(self) -> int:
        """Segment length for whole-recording prediction: the middle of the training range."""
        return int(round(sum(self.segment_frames) / 2))


def gaussian_nll(mean: torch.Tensor, log_var: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """(F - m)^2 / G + ln G elementwise, with G = exp(log_var); minimal at G = (F - m)^2."""
    return (mean - target) ** 2 * torch.exp(-log_var) + log_var


def mask(segment: np.ndarray, rng: np.random.Generator, max_frames: int, max_bands: int) -> np.ndarray:
    """segment [n_mels, length] with one random stretch of up to max_frames frames and one run
    of up to max_bands bands set to 0 (the normalised mean); the rng always draws the same
    numbers, so a repeat's batches do not depend on whether masking is on."""
    widths = rng.integers(0, [max_frames + 1, max_bands + 1])
    starts = rng.random(2)
    if not widths.any():
        return segment
    out = segment.copy()
    n_mels, length = segment.shape
    t0 = int(starts[0] * max(1, length - widths[0] + 1))
    b0 = int(starts[1] * max(1, n_mels - widths[1] + 1))
    out[:, t0:t0 + widths[0]] = 0.0
    out[b0:b0 + widths[1], :] = 0.0
    return out


def dropout_keep(rng: np.random.Generator, shape: tuple[int, ...], rate: float) -> np.ndarray:
    """Inverted-dropout multipliers (0 or 1 / (1 - rate)) drawn from a repeat's own rng; it
    draws the same numbers whatever the rate, like `mask`."""
    return (rng.random(shape) >= rate).astype(np.float32) / np.float32(1.0 - rate)


def train_group(repeats: list[RepeatData], settings: TrainSettings, per_am: bool, device: torch.device,
                progress: Callable[[int], None] | None = None,
                checkpoint: Checkpoint | None = None) -> list[RepeatResult]:
    """Train the networks of `repeats` side by side as one stacked network, one per repeat or
    (per_am) one per repeat and AM; with the phonatory module, after pre-training their
    encoders on D_t, resumable from `checkpoint`."""
    n_repeats = len(repeats)
    n_ams = repeats[0].train_targets.shape[1]
    n_mels = repeats[0].train_features[0].shape[1]
    net = make_network(n_repeats, n_ams, n_mels, per_am, [r.seed for r in repeats]).to(device)
    copies_per_repeat = n_ams if per_am else 1
    auxiliary, pretrain_loss = None, np.zeros((0, n_repeats))
    if settings.phonatory:
        auxiliary, pretrain_loss = _pretrained(net, repeats, settings, per_am, device, checkpoint, progress)
    optimiser = torch.optim.SGD([p for p in net.parameters() if p.requires_grad], lr=settings.lr,
                                momentum=settings.momentum, weight_decay=settings.weight_decay)
    samplers = [np.random.default_rng(r.seed) for r in repeats]
    lengths = np.random.default_rng(settings.length_seed)
    kept = [_Kept(np.zeros((len(r.scored_ids), n_ams)), np.zeros((len(r.scored_ids), n_ams)),
                  np.zeros(len(r.scored_ids), dtype=np.int64), np.zeros(n_ams, dtype=np.int64), {}, [""] * n_ams, [])
            for r in repeats]
    best_error = np.full((n_repeats, n_ams), np.inf)
    running = np.zeros(n_repeats)
    since_log = 0

    for step in range(1, settings.iterations + 1):
        length = int(lengths.integers(settings.segment_frames[0], settings.segment_frames[1] + 1))
        x = np.empty((settings.batch_size, n_repeats, n_mels, length), dtype=np.float32)
        y = np.empty((settings.batch_size, n_repeats, n_ams), dtype=np.float32)
        keep = np.empty((settings.batch_size, n_repeats, copies_per_repeat, net.widths[-1]), dtype=np.float32)
        for r, (data, rng) in enumerate(zip(repeats, samplers)):
            for b, speaker in enumerate(rng.integers(len(data.train_features), size=settings.batch_size)):
                frames = data.train_features[speaker]
                start = int(rng.integers(0, max(1, len(frames) - length + 1)))
                x[b, r] = mask(crop(frames, start, length), rng, settings.time_mask_frames, settings.band_mask)
                y[b, r] = data.train_targets[speaker]
            keep[:, r] = dropout_keep(rng, keep.shape[:1] + keep.shape[2:], settings.dropout)
        for group in optimiser.param_groups:
            group["lr"] = settings.lr * min(1.0, step / max(1, settings.warmup_steps))
        nll = sgd_step(net, optimiser, torch.from_numpy(x).to(device), torch.from_numpy(y).to(device),
                       per_am, settings.clip_norm, settings.beta_nll, mean_only=step <= settings.mean_warmup_steps,
                       keep=torch.from_numpy(keep.reshape(settings.batch_size, net.copies, -1)).to(device),
                       auxiliary=auxiliary)
        running += nll.mean(dim=1).cpu().numpy()
        since_log += 1
        if progress:
            progress(1)

        if step % settings.eval_every == 0 or step == settings.iterations:
            predictions = _predict_scored(net, repeats, settings, device, n_ams, per_am)
            for r, (data, result, (mean_z, _, var_z, n_seg)) in enumerate(zip(repeats, kept, predictions)):
                v1 = np.array([s == "v1" for s in data.scored_splits])
                error = ((mean_z[v1] - data.scored_targets[v1]) ** 2).mean(axis=0)
                better = (error < best_error[r]) | np.isinf(best_error[r])  # the first evaluation always counts
                if better.any():
                    best_error[r, better] = error[better]
                    result.mean_z[:, better], result.var_z[:, better] = mean_z[:, better], var_z[:, better]
                    result.n_segments = n_seg
                    result.step[better] = step
                    _keep_networks(net, result, r, better, step, n_ams, per_am)
                result.log.append((step, float(running[r] / since_log), float(error.mean())))
            running[:], since_log = 0.0, 0
    results = []
    for i, (data, k) in enumerate(zip(repeats, kept)):
        used = set(k.network_of_am)
        model = CnnModel(per_am, net.n_outputs, n_mels, net.widths, settings.eval_frames,
                         {key: v for key, v in k.networks.items() if key in used}, tuple(k.network_of_am))
        results.append(RepeatResult(data.repeat, k.mean_z, k.var_z, k.n_segments, k.step, model, k.log,
                                    pretrain_loss[:, i]))
    return results


@dataclass
class _Kept:
    """What a repeat keeps while it trains: per AM, the predictions and weights of its best step."""

    mean_z: np.ndarray
    var_z: np.ndarray
    n_segments: np.ndarray
    step: np.ndarray
    networks: dict[str, dict[str, np.ndarray]]
    network_of_am: list[str]
    log: list[tuple[int, float, float]]


def make_network(n_repeats: int, n_ams: int, n_mels: int, per_am: bool, seeds: list[int]) -> StackedVoiceCNN:
    """The stacked network of a group: one copy per repeat (shared) or per repeat and AM
    (per_am), each initialised from its own seed (per_am: seed * 1000 + AM index)."""
    net = StackedVoiceCNN(n_repeats * n_ams if per_am else n_repeats, 1 if per_am else n_ams, n_mels)
    net.reset_parameters([s * 1000 + k for s in seeds for k in range(n_ams)] if per_am else list(seeds))
    return net


@dataclass
class Auxiliary:
    """The phonatory ε-loss kept beside the NLL while the heads train (phonatory.weight > 0):
    its own batches, and the module with its own Adam."""

    loss: Callable[[], torch.Tensor]  # -> ε-loss per copy [R]
    weight: float
    module: torch.nn.Module
    optimiser: torch.optim.Optimizer


def _pretrained(net: StackedVoiceCNN, repeats: list[RepeatData], settings: TrainSettings, per_am: bool,
                device: torch.device, checkpoint: Checkpoint | None, progress: Callable[[int], None] | None
                ) -> tuple[Auxiliary | None, np.ndarray]:
    """Pre-train the encoders of `net` with the phonatory module on each repeat's D_t; per_am
    pre-trains one encoder per repeat and starts every AM network of the repeat from it."""
    phonatory = settings.phonatory
    seeds = [r.seed for r in repeats]
    encoder = make_network(len(repeats), 1, net.n_mels, False, seeds).to(device) if per_am else net
    module = make_module(len(repeats), encoder.widths[-1], phonatory, seeds).to(device)
    batches = PairBatches([r.train_recordings for r in repeats], [r.train_waveforms for r in repeats], seeds,
                          settings.length_seed, settings.segment_frames, phonatory)
    losses = pretrain(encoder, module, batches, phonatory, device, settings.clip_norm, checkpoint, progress)
    if per_am:
        n_ams = net.copies // len(repeats)
        for r in range(len(repeats)):
            body = {n: t for n, t in encoder.copy_state(r).items() if n.startswith("body.")}
            for k in range(n_ams):
                net.load_copy(r * n_ams + k, body)
    if phonatory.encoder == "frozen":
        net.freeze_body()
    if phonatory.weight <= 0 or phonatory.encoder == "frozen":
        return None, losses
    alpha_bars = torch.from_numpy(alpha_bar(beta_schedule(phonatory.timesteps, phonatory.schedule,
                                                          phonatory.beta_range))).float().to(device)
    return Auxiliary(lambda: phonatory_loss(net, module, batches.draw(), alpha_bars, device), phonatory.weight,
                     module, torch.optim.Adam(module.parameters(), lr=phonatory.lr)), losses


def sgd_step(net: StackedVoiceCNN, optimiser: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor,
             per_am: bool, clip_norm: float, beta: float = 0.0, mean_only: bool = False,
             keep: torch.Tensor | None = None, auxiliary: Auxiliary | None = None) -> torch.Tensor:
    """One training step on batches x [B, R, n_mels, T], y [B, R, K]; returns the NLL [R, K].

    beta > 0 weights each element's NLL by G^beta (detached); mean_only trains the mean
    heads alone on the squared error (the NLL at G = 1); keep [B, copies, channels] are the
    dropout multipliers of the pooled features; `auxiliary` adds the weighted phonatory
    ε-loss of each copy."""
    net.train()
    n_repeats, n_ams = y.shape[1], y.shape[2]
    mean, log_var = _forward(net, x, n_repeats, n_ams, per_am, keep)
    elementwise = gaussian_nll(mean, log_var, y)
    if mean_only:
        objective = (mean - y) ** 2
    elif beta > 0:
        objective = elementwise * torch.exp(beta * log_var.detach())
    else:
        objective = elementwise
    nll = elementwise.detach().mean(dim=0)  # [R, K]
    per_copy = objective.mean(dim=0)
    # A shared backbone averages its AMs' losses; per-AM networks each take their own.
    loss = per_copy.sum() if per_am else per_copy.mean(dim=1).sum()
    modules: list[torch.nn.Module] = [net]
    if auxiliary:
        auxiliary.module.train()
        loss = loss + auxiliary.weight * auxiliary.loss().sum()
        modules.append(auxiliary.module)
        auxiliary.optimiser.zero_grad(set_to_none=True)
    optimiser.zero_grad(set_to_none=True)
    loss.backward()
    clip_per_copy(modules, net.copies, clip_norm)
    optimiser.step()
    if auxiliary:
        auxiliary.optimiser.step()
    return nll


def _forward(net: StackedVoiceCNN, x: torch.Tensor, n_repeats: int, n_ams: int,
             per_am: bool, keep: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Batches [B, R, n_mels, T] -> (mean, log_var) [B, R, K] for either estimator."""
    if per_am:  # every AM network of repeat r sees repeat r's batch
        x = x.repeat_interleave(n_ams, dim=1)
    mean, log_var = net(x, keep)
    return mean.reshape(x.shape[0], n_repeats, n_ams), log_var.reshape(x.shape[0], n_repeats, n_ams)


def _predict_scored(net: StackedVoiceCNN, repeats: list[RepeatData], settings: TrainSettings,
                    device: torch.device, n_ams: int, per_am: bool):
    """Per repeat: fused z-scale predictions, fused variance, calibrated variance and segment
    counts for its scored speakers."""
    length = settings.eval_frames
    segments = []  # per repeat: list of (speaker row, [n_mels, length])
    for data in repeats:
        rows = []
        for i, recordings in enumerate(data.scored_recordings):
            for frames in recordings:
                rows += [(i, crop(frames, int(s), length)) for s in segment_starts(len(frames), length)]
        segments.append(rows)
    n_max = max(len(rows) for rows in segments)
    n_mels = segments[0][0][1].shape[0]
    means = np.zeros((n_max, len(repeats), n_ams))
    variances = np.ones((n_max, len(repeats), n_ams))
    net.eval()
    with torch.no_grad():
        for start in range(0, n_max, settings.batch_size):
            stop = min(n_max, start + settings.batch_size)
            x = np.zeros((stop - start, len(repeats), n_mels, length), dtype=np.float32)
            for r, rows in enumerate(segments):
                for j, (_, seg) in enumerate(rows[start:stop]):
                    x[j, r] = seg
            mean, log_var = _forward(net, torch.from_numpy(x).to(device), len(repeats), n_ams, per_am)
            means[start:stop] = mean.double().cpu().numpy()
            variances[start:stop] = torch.exp(log_var).double().cpu().numpy()
    out = []
    for r, (data, rows) in enumerate(zip(repeats, segments)):
        owner = np.array([i for i, _ in rows])
        mean_r, var_r = means[: len(rows), r], variances[: len(rows), r]
        fused = [fuse(mean_r[owner == i], var_r[owner == i]) for i in range(len(data.scored_ids))]
        out.append((np.stack([f[0] for f in fused]), np.stack([f[1] for f in fused]),
                    np.stack([f[2] for f in fused]), np.bincount(owner, minlength=len(data.scored_ids))))
    return out


def _keep_networks(net: StackedVoiceCNN, result: _Kept, r: int, better: np.ndarray, step: int,
                   n_ams: int, per_am: bool) -> None:
    """Keep the weights behind the AMs that just improved: per AM its own network (per_am), or
    one snapshot of the shared network at this step."""
    if per_am:
        for k in np.flatnonzero(better):
            key = f"am{k + 1}"
            result.networks[key] = {n: t.numpy() for n, t in net.copy_state(r * n_ams + k).items()}
            result.network_of_am[k] = key
    else:
        key = f"step{step}"
        result.networks[key] = {n: t.numpy() for n, t in net.copy_state(r).items()}
        for k in np.flatnonzero(better):
            result.network_of_am[k] = key
