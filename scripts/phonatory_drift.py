"""How far the default phonatory pre-training moves the encoder's weights (docs/training.md,
"Result on the default world"): `phonatory.steps` Adam steps at the default `phonatory:`
settings on random inputs of the default shapes, then each conv layer's ||W - W_0|| / ||W_0||.
Adam's step is about lr per weight whatever the gradient's size, so a weak, noisy signal from
the ε-loss still moves every weight; random inputs stand for a gradient that carries nothing.

    python scripts/phonatory_drift.py [--frames 300] [--seed 0]      (under a minute)

Writes reports/experiments/phonatory_drift/summary.json: per layer its shape and relative
change, their smallest and largest, the settings and the commit it ran at.
"""
from __future__ import annotations

import argparse
import json
import subprocess
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from pipeline.config import default_params
from pipeline.estimator.phonatory import PhonatorySettings, alpha_bar, beta_schedule
from pipeline.estimator.pretrain import make_module, pretrain_step
from pipeline.estimator.training import make_network

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "reports" / "experiments" / "phonatory_drift" / "summary.json"


def drift(frames: int, seed: int) -> tuple[list[dict], PhonatorySettings, int]:
    """Each encoder conv layer's relative weight change after the default pre-training."""
    torch.manual_seed(seed)
    params = default_params()
    settings = PhonatorySettings.from_params(params.phonatory)
    n_mels = params.audio.n_mels
    rng = np.random.default_rng(seed)
    net = make_network(1, 96, n_mels, False, [seed])
    unet = make_module(1, net.widths[-1], settings, [seed])
    start = {n: p.detach().clone() for n, p in net.body.named_parameters()}
    optimiser = torch.optim.Adam([*net.body.parameters(), *unet.parameters()], lr=settings.lr)
    bars = torch.from_numpy(alpha_bar(beta_schedule(settings.timesteps, settings.schedule, settings.beta_range))).float()
    b, n = settings.batch_size, settings.crop_samples
    for _ in tqdm(range(settings.steps), desc="pre-training", unit="step"):
        batch = (rng.standard_normal((b, 1, n_mels, frames), dtype=np.float32),
                 rng.standard_normal((b, 1, n), dtype=np.float32),
                 rng.integers(0, settings.timesteps, (b, 1)), rng.standard_normal((b, 1, n), dtype=np.float32))
        pretrain_step(net, unet, optimiser, batch, bars, torch.device("cpu"), params.sfv.clip_norm)
    layers = [{"layer": name, "shape": list(p.shape),
               "relative_change": ((p - start[name]).norm() / start[name].norm()).item()}
              for name, p in net.body.named_parameters() if p.dim() > 1]
    return layers, settings, n_mels


def _commit() -> dict:
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
    return {"git_commit": git("rev-parse", "HEAD"),
            "git_modified": git("status", "--porcelain", "--untracked-files=no").splitlines()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=300, help="log-mel frames per input segment")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    run = _commit()  # recorded before the run, so it names the code that ran
    layers, settings, n_mels = drift(args.frames, args.seed)
    changes = [layer["relative_change"] for layer in layers]
    result = {"layers": layers, "min_relative_change": min(changes), "max_relative_change": max(changes),
              "settings": {"steps": settings.steps, "lr": settings.lr, "batch_size": settings.batch_size,
                           "crop_samples": settings.crop_samples, "frames": args.frames, "n_mels": n_mels,
                           "seed": args.seed, "inputs": "standard normal log-mels, crops and noise"},
              "run": run}
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2) + "\n")
    print("| encoder layer | shape | relative change |\n|---|---|---:|")
    for layer in layers:
        print(f"| {layer['layer']} | {tuple(layer['shape'])} | {layer['relative_change']:.2f} |")


if __name__ == "__main__":
    main()
