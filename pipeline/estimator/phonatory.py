"""The source's phonatory module (§3.3, Eqs. 5–6): a training constraint on the voice code.

A denoising diffusion model (Ho et al. 2020) must regenerate a waveform crop x₀ of another
recording v′ of the speaker from the code e = E(v) of the estimator's backbone, the pooled
features its heads read. Its loss, the L1 distance between the drawn noise ε and the
predicted ε_θ(√ᾱ_t x₀ + √(1 − ᾱ_t) ε, t, e), trains E and θ together, so E must keep what
makes the speaker's voice theirs. The module is not used at inference.

θ is a small 1-D U-Net on waveform samples: residual blocks with GroupNorm and a sinusoidal
timestep embedding, two down/up levels, and cross-attention at the bottleneck from the
waveform positions to `tokens` vectors projected from e. Like the estimator (network.py), M
copies (one per repeat) are one grouped network: every parameter keeps the copies in its
leading dimension and each copy is initialised from its own seed, so a copy trains the same
whatever group it is in.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ..config import PhonatoryParams

DOWN = 4  # each U-Net level divides the length by this
TIME_DIM = 64  # width of the sinusoidal timestep embedding
NORM_GROUPS = 4  # GroupNorm groups per copy


@dataclass(frozen=True)
class PhonatorySettings:
    """The module and its pre-training (params.yaml `phonatory:`, where every default lives;
    docs/training.md)."""

    steps: int  # pre-training steps of encoder + module on D_t
    weight: float  # weight of the ε-loss beside the NLL while the heads train (0 = pre-training only)
    encoder: str  # 'trainable' | 'frozen': the encoder while the heads train
    batch_size: int
    lr: float  # Adam, pre-training
    crop_samples: int  # waveform crop x₀ (samples at 16 kHz)
    timesteps: int  # T
    schedule: str  # 'linear' (Ho et al.) | 'cosine' (Nichol & Dhariwal 2021)
    beta_range: tuple[float, float]  # linear schedule: β_1, β_T
    widths: tuple[int, ...]  # U-Net channels per level
    tokens: int  # cross-attention tokens projected from e
    checkpoint_every: int  # pre-training steps between saved checkpoints

    @classmethod
    def from_params(cls, phonatory: PhonatoryParams) -> PhonatorySettings:
        return cls(**phonatory.model_dump())


def beta_schedule(timesteps: int, kind: str, beta_range: tuple[float, float]) -> np.ndarray:
    """β_1..β_T: Ho et al.'s linear schedule, or Nichol & Dhariwal's cosine schedule."""
    if kind == "linear":
        return np.linspace(beta_range[0], beta_range[1], timesteps, dtype=np.float64)
    if kind == "cosine":
        s = 0.008
        f = np.cos((np.arange(timesteps + 1) / timesteps + s) / (1 + s) * math.pi / 2) ** 2
        return np.clip(1.0 - f[1:] / f[:-1], 0.0, 0.999)
    raise ValueError(f"unknown schedule {kind!r} (linear | cosine)")


def alpha_bar(betas: np.ndarray) -> np.ndarray:
    """ᾱ_t = Π_{s ≤ t} (1 − β_s), the closed form's signal share at step t."""
    return np.cumprod(1.0 - np.asarray(betas, np.float64))


def diffuse(x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor, alpha_bars: torch.Tensor) -> torch.Tensor:
    """x_t = √ᾱ_t x₀ + √(1 − ᾱ_t) ε in one step (t are 0-based indices into ᾱ, broadcast over
    the trailing sample dimension)."""
    a = alpha_bars[t].unsqueeze(-1).to(x0.dtype)
    return a.sqrt() * x0 + (1.0 - a).sqrt() * noise


def epsilon_loss(noise: torch.Tensor, predicted: torch.Tensor) -> torch.Tensor:
    """The source's ‖ε − ε_θ‖₁ over a crop's samples, divided by their number (so the loss
    does not grow with the crop length), for every leading index: [..., L] -> [...]."""
    return (noise - predicted).abs().mean(dim=-1)


def timestep_embedding(t: torch.Tensor, dim: int = TIME_DIM) -> torch.Tensor:
    """Sinusoidal embedding of integer steps t [...] -> [..., dim] (Vaswani et al.; Ho et al.)."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32, device=t.device) / half)
    args = t.float().unsqueeze(-1) * freqs
    return torch.cat([torch.sin(args), torch.cos(args)], dim=-1)


def _conv(copies: int, c_in: int, c_out: int, kernel: int, **kw) -> nn.Conv1d:
    return nn.Conv1d(copies * c_in, copies * c_out, kernel, groups=copies, **kw)


def _norm(copies: int, channels: int) -> nn.GroupNorm:
    return nn.GroupNorm(copies * NORM_GROUPS, copies * channels)


def _cat(a: torch.Tensor, b: torch.Tensor, copies: int) -> torch.Tensor:
    """Join two grouped feature maps [B, M*Ca, L], [B, M*Cb, L] channel-wise per copy."""
    batch, _, length = a.shape
    return torch.cat([a.reshape(batch, copies, -1, length), b.reshape(batch, copies, -1, length)],
                     dim=2).reshape(batch, -1, length)


class _Block(nn.Module):
    """Residual block: conv(silu(norm(x))) plus the timestep's bias, conv(silu(norm(·)))."""

    def __init__(self, copies: int, c_in: int, c_out: int):
        super().__init__()
        self.norm1, self.conv1 = _norm(copies, c_in), _conv(copies, c_in, c_out, 5, padding=2)
        self.time = _conv(copies, TIME_DIM, c_out, 1)
        self.norm2, self.conv2 = _norm(copies, c_out), _conv(copies, c_out, c_out, 5, padding=2)
        self.skip = _conv(copies, c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x: torch.Tensor, time: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x))) + self.time(time)
        return self.skip(x) + self.conv2(F.silu(self.norm2(h)))


class _CrossAttention(nn.Module):
    """Each position of the bottleneck attends to `tokens` vectors projected from the code e."""

    def __init__(self, copies: int, channels: int, code_dim: int, tokens: int):
        super().__init__()
        self.copies, self.channels, self.n_tokens = copies, channels, tokens
        self.norm = _norm(copies, channels)
        self.tokens = _conv(copies, code_dim, tokens * channels, 1)
        self.query = _conv(copies, channels, channels, 1)
        self.key = _conv(copies, channels, channels, 1)
        self.value = _conv(copies, channels, channels, 1)
        self.out = _conv(copies, channels, channels, 1)

    def forward(self, h: torch.Tensor, code: torch.Tensor) -> torch.Tensor:
        batch, _, length = h.shape
        m, c, k = self.copies, self.channels, self.n_tokens
        tokens = self.tokens(code.reshape(batch, -1, 1)).reshape(batch, m, k, c).transpose(2, 3).reshape(batch, m * c, k)
        q = self.query(self.norm(h)).reshape(batch, m, c, length)
        keys = self.key(tokens).reshape(batch, m, c, k)
        values = self.value(tokens).reshape(batch, m, c, k)
        weights = torch.softmax(torch.einsum("bmcl,bmck->bmlk", q, keys) / math.sqrt(c), dim=-1)
        attended = torch.einsum("bmlk,bmck->bmcl", weights, values).reshape(batch, m * c, length)
        return h + self.out(attended)


class StackedPhonatoryUNet(nn.Module):
    """M copies of ε_θ(x_t, t, e). forward(x_t [B, M, L], t [B, M], code [B, M, code_dim])
    -> predicted noise [B, M, L]; L must be a multiple of 4^(levels − 1)."""

    def __init__(self, copies: int, code_dim: int, widths: tuple[int, ...], tokens: int):
        super().__init__()
        if len(widths) < 2 or any(w % NORM_GROUPS for w in widths):
            raise ValueError(f"widths {widths}: at least two levels, each a multiple of {NORM_GROUPS}")
        self.copies, self.code_dim, self.widths = copies, code_dim, tuple(widths)
        self.time_mlp = nn.Sequential(_conv(copies, TIME_DIM, TIME_DIM, 1), nn.SiLU(),
                                      _conv(copies, TIME_DIM, TIME_DIM, 1))
        self.stem = _conv(copies, 1, widths[0], 7, padding=3)
        self.down_blocks = nn.ModuleList(_Block(copies, w, w) for w in widths[:-1])
        self.downs = nn.ModuleList(_conv(copies, w, w_next, DOWN, stride=DOWN)
                                   for w, w_next in zip(widths[:-1], widths[1:]))
        self.mid1 = _Block(copies, widths[-1], widths[-1])
        self.attention = _CrossAttention(copies, widths[-1], code_dim, tokens)
        self.mid2 = _Block(copies, widths[-1], widths[-1])
        self.ups = nn.ModuleList(nn.ConvTranspose1d(copies * w_next, copies * w, DOWN, stride=DOWN, groups=copies)
                                 for w, w_next in zip(widths[:-1], widths[1:]))
        self.up_blocks = nn.ModuleList(_Block(copies, 2 * w, w) for w in widths[:-1])
        self.head_norm = _norm(copies, widths[0])
        self.head = _conv(copies, widths[0], 1, 3, padding=1)

    @property
    def multiple(self) -> int:
        return DOWN ** (len(self.widths) - 1)

    def forward(self, x: torch.Tensor, t: torch.Tensor, code: torch.Tensor) -> torch.Tensor:
        batch, copies, length = x.shape
        if length % self.multiple:
            raise ValueError(f"crop length {length} is not a multiple of {self.multiple}")
        time = self.time_mlp(timestep_embedding(t).reshape(batch, copies * TIME_DIM, 1))
        h = self.stem(x)
        skips = []
        for block, down in zip(self.down_blocks, self.downs):
            h = block(h, time)
            skips.append(h)
            h = down(h)
        h = self.mid2(self.attention(self.mid1(h, time), code), time)
        for up, block, skip in zip(reversed(self.ups), reversed(self.up_blocks), reversed(skips)):
            h = block(_cat(up(h), skip, copies), time)
        return self.head(F.silu(self.head_norm(h))).reshape(batch, copies, length)

    def reset_parameters(self, seeds: list[int]) -> None:
        """Copy m from its own seed: weights uniform ±1/√fan_in, biases 0, norms the identity,
        and the output convolution and the attention's output projection at 0 (the module
        starts by predicting ε̂ = 0, and attention starts as the identity)."""
        if len(seeds) != self.copies:
            raise ValueError(f"{self.copies} copies need {self.copies} seeds, got {len(seeds)}")
        zero = {"head.weight", "attention.out.weight"}
        norms = {f"{name}.weight" for name, module in self.named_modules() if isinstance(module, nn.GroupNorm)}
        with torch.no_grad():
            for m, seed in enumerate(seeds):
                generator = torch.Generator().manual_seed(int(seed))
                for name, param in self.named_parameters():
                    view = param.view(self.copies, -1, *param.shape[1:])[m]
                    if name in norms:
                        view.fill_(1.0)
                    elif name.endswith("bias") or name in zero:
                        view.zero_()
                    else:
                        bound = 1.0 / math.sqrt(view[0].numel())
                        view.copy_(torch.empty(view.shape).uniform_(-bound, bound, generator=generator))

    def copy_state(self, m: int) -> dict[str, torch.Tensor]:
        """Parameters of copy m alone, as CPU tensors."""
        return {name: t.view(self.copies, -1, *t.shape[1:])[m].detach().cpu().clone()
                for name, t in self.state_dict().items()}


def standardise_crops(crops: np.ndarray) -> np.ndarray:
    """Each waveform crop [..., L] to mean 0, SD 1 (the data scale the schedule assumes; it
    also removes the channel's gain)."""
    centred = crops - crops.mean(axis=-1, keepdims=True)
    return (centred / np.maximum(centred.std(axis=-1, keepdims=True), 1e-4)).astype(np.float32)
