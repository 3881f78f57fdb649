"""The source's 1-D CNN over log-mel frames, stacked: M independent copies as one grouped network.

Repeats (and, for `per_am`, AMs) are networks of one shape, so M of them run as a single
network whose convolutions have groups=M: copy m sees only its own channels, its own batch
and its own parameters, and one kernel call replaces M small ones. Every parameter keeps the
copies in its leading dimension, so a copy can be cut out (`copy_state`) or put back
(`load_copy`) whatever group it was trained in.
"""
from __future__ import annotations

import math

import torch
from torch import nn

WIDTHS = (64, 96, 144, 216)
# G = exp(log_var) is kept within [e^-12, e^12]: a z-scored target never needs more, and an
# unbounded head can underflow to G = 0 early in training, which breaks inverse-variance fusion.
LOG_VAR_RANGE = (-12.0, 12.0)


class _GroupedBlock(nn.Module):
    """A width-3 residual block of M copies: relu(x + bn(conv(relu(bn(conv(x))))))."""

    def __init__(self, copies: int, channels: int):
        super().__init__()
        self.conv1 = nn.Conv1d(copies * channels, copies * channels, 3, padding=1, groups=copies, bias=False)
        self.bn1 = nn.BatchNorm1d(copies * channels)
        self.conv2 = nn.Conv1d(copies * channels, copies * channels, 3, padding=1, groups=copies, bias=False)
        self.bn2 = nn.BatchNorm1d(copies * channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(x + self.bn2(self.conv2(y)))


class StackedVoiceCNN(nn.Module):
    """M copies of: four stages [width-3 conv, stride 2 -> residual block] of 64/96/144/216
    filters, global average pooling, and per output a mean head F and a log-variance head
    (G = exp), each one linear layer.

    forward(x [B, M, n_mels, T]) -> (mean [B, M, n_outputs], log_var [B, M, n_outputs]).
    """

    def __init__(self, copies: int, n_outputs: int, n_mels: int, widths: tuple[int, ...] = WIDTHS):
        super().__init__()
        self.copies, self.n_outputs, self.n_mels, self.widths = copies, n_outputs, n_mels, tuple(widths)
        self.frozen_body = False
        layers: list[nn.Module] = []
        channels = n_mels
        for width in self.widths:
            layers += [nn.Conv1d(copies * channels, copies * width, 3, stride=2, padding=1, groups=copies, bias=False),
                       nn.BatchNorm1d(copies * width), nn.ReLU(), _GroupedBlock(copies, width)]
            channels = width
        self.body = nn.Sequential(*layers)
        self.mean_weight = nn.Parameter(torch.empty(copies, channels, n_outputs))
        self.mean_bias = nn.Parameter(torch.empty(copies, n_outputs))
        self.var_weight = nn.Parameter(torch.empty(copies, channels, n_outputs))
        self.var_bias = nn.Parameter(torch.empty(copies, n_outputs))

    def forward(self, x: torch.Tensor, keep: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """keep [B, M, channels], if given, multiplies the pooled features (dropout with masks
        the caller draws from each copy's own generator, so a copy's training does not depend
        on its group or on torch's global random state)."""
        features = self.encode(x)
        if keep is not None:
            features = features * keep
        mean = torch.einsum("bmc,mco->bmo", features, self.mean_weight) + self.mean_bias
        log_var = torch.einsum("bmc,mco->bmo", features, self.var_weight) + self.var_bias
        return mean, log_var.clamp(*LOG_VAR_RANGE)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The voice code e [B, M, channels]: the globally pooled features the heads read
        (and the phonatory module is conditioned on)."""
        batch, copies, n_mels, frames = x.shape
        return self.body(x.reshape(batch, copies * n_mels, frames)).mean(dim=2).reshape(batch, copies, -1)

    def freeze_body(self) -> None:
        """Keep the encoder as it is: no gradients, and BatchNorm on its running statistics."""
        self.body.requires_grad_(False)
        self.frozen_body = True
        self.body.eval()

    def train(self, mode: bool = True) -> StackedVoiceCNN:
        super().train(mode)
        if self.frozen_body:
            self.body.eval()
        return self

    def reset_parameters(self, seeds: list[int]) -> None:
        """Initialise copy m from its own seed, so a copy's start does not depend on its group.

        Convolutions and the mean head: uniform +-1/sqrt(fan_in) (torch's default for convs);
        the log-variance head starts at 0 (G = 1, the variance of a z-scored target), and
        BatchNorm at the identity with fresh running statistics.
        """
        if len(seeds) != self.copies:
            raise ValueError(f"{self.copies} copies need {self.copies} seeds, got {len(seeds)}")
        batchnorm = {f"{name}.{p}" for name, module in self.named_modules()
                     if isinstance(module, nn.BatchNorm1d) for p in ("weight", "bias")}
        with torch.no_grad():
            for m, seed in enumerate(seeds):
                generator = torch.Generator().manual_seed(int(seed))
                for name, param in self.named_parameters():
                    view = copy_view(name, param, self.copies)[m]
                    if name in batchnorm:
                        view.fill_(1.0 if name.endswith("weight") else 0.0)
                    elif name.startswith("var_"):
                        view.zero_()
                    else:
                        fan_in = self.widths[-1] if name.startswith("mean_") else view[0].numel()
                        bound = 1.0 / math.sqrt(fan_in)
                        view.copy_(torch.empty(view.shape, dtype=view.dtype).uniform_(-bound, bound, generator=generator))
            for module in self.modules():
                if isinstance(module, nn.BatchNorm1d):
                    module.reset_running_stats()

    def copy_state(self, m: int) -> dict[str, torch.Tensor]:
        """Parameters and BatchNorm statistics of copy m alone, as CPU tensors."""
        state = {}
        for name, tensor in self.state_dict().items():
            if name.endswith("num_batches_tracked"):
                continue
            state[name] = copy_view(name, tensor, self.copies)[m].detach().cpu().clone()
        return state

    def load_copy(self, m: int, state: dict[str, torch.Tensor]) -> None:
        """Put a state from `copy_state` into copy m."""
        own = self.state_dict()
        with torch.no_grad():
            for name, tensor in state.items():
                copy_view(name, own[name], self.copies)[m].copy_(tensor)


def clip_per_copy(modules: list[nn.Module], copies: int, max_norm: float) -> None:
    """Clip each copy's gradient norm over `modules` on its own, as if it were trained alone
    (every stacked parameter is copy-major in its leading dimension)."""
    grads = [p.grad for module in modules for p in module.parameters() if p.grad is not None]
    if not grads:
        return
    squared = sum(g.reshape(copies, -1).pow(2).sum(dim=1) for g in grads)
    scale = (max_norm / (squared.sqrt() + 1e-6)).clamp(max=1.0)
    for grad in grads:
        grad.view(copies, -1).mul_(scale.view(-1, 1))


def copy_view(name: str, tensor: torch.Tensor, copies: int) -> torch.Tensor:
    """`tensor` viewed with the copies in its leading dimension [M, ...]."""
    return tensor.view(copies, *tensor.shape[1:]) if name.startswith(("mean_", "var_")) \
        else tensor.view(copies, tensor.shape[0] // copies, *tensor.shape[1:])
