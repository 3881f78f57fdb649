"""How far the default phonatory pre-training moves the encoder's weights (README, "Headline
results of the default run"): 200 Adam steps at the default `phonatory:` settings on random inputs of the
default shapes, then each conv layer's ||W - W_0|| / ||W_0||. Adam's step is about lr per
weight whatever the gradient's size, so a weak, noisy signal from the ε-loss still moves every
weight.
    python scripts/phonatory_drift.py
"""
from __future__ import annotations

import numpy as np
import torch

from pipeline.config import default_params
from pipeline.estimator.phonatory import PhonatorySettings, alpha_bar, beta_schedule
from pipeline.estimator.pretrain import make_module, pretrain_step
from pipeline.estimator.training import make_network


def main(steps: int = 200, frames: int = 300, seed: int = 0) -> None:
    torch.manual_seed(seed)
    settings = PhonatorySettings.from_params(default_params().phonatory)
    rng = np.random.default_rng(seed)
    net = make_network(1, 96, 64, False, [seed])
    unet = make_module(1, net.widths[-1], settings, [seed])
    start = {n: p.detach().clone() for n, p in net.body.named_parameters()}
    optimiser = torch.optim.Adam([*net.body.parameters(), *unet.parameters()], lr=settings.lr)
    bars = torch.from_numpy(alpha_bar(beta_schedule(settings.timesteps, settings.schedule, settings.beta_range))).float()
    b, n = settings.batch_size, settings.crop_samples
    for _ in range(steps):
        batch = (rng.standard_normal((b, 1, 64, frames), dtype=np.float32),
                 rng.standard_normal((b, 1, n), dtype=np.float32),
                 rng.integers(0, settings.timesteps, (b, 1)), rng.standard_normal((b, 1, n), dtype=np.float32))
        pretrain_step(net, unet, optimiser, batch, bars, torch.device("cpu"), 5.0)
    print("| encoder layer | shape | relative change |\n|---|---|---:|")
    for name, p in net.body.named_parameters():
        if p.dim() > 1:
            print(f"| {name} | {tuple(p.shape)} | {((p - start[name]).norm() / start[name].norm()).item():.2f} |")


if __name__ == "__main__":
    main()
