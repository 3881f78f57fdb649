"""Does the phonatory module use the voice code e on the default world? (docs/training.md,
"Result on the default world"). Pre-trains encoder and module as `train` does, on one
repeat's D_t, then scores the ε-loss on held-out speakers (that repeat's D_v1) with each
pair's own code and with the codes shuffled across the batch: the same crops, steps t and
noise. If the shuffled codes score as well as the true ones, the module ignores e, and the
encoder's pre-training gradient carries no speaker information.

`--code identity` is the control for the task itself: every speaker's log-mels are replaced by
a constant random vector of their own, so the encoder is handed the speaker's identity and
nothing else, and the held-out pairs are fresh crops of the same D_t speakers. If even then
the shuffled codes score as well, the ε-loss on these waveforms does not reward knowing the
speaker at all.
    python scripts/phonatory_conditioning.py [--gender female] [--repeat 1] [--steps 200]
                                             [--code voice|identity]   (3–4 min on 2 cores)
Needs the default run's data (`dvc repro`): data/features, data/vad/segments.csv, data/splits.
"""
from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from pipeline.artifacts import read_table
from pipeline.cohort import Gender
from pipeline.config import load_params
from pipeline.estimator.data import load_features, load_waveforms
from pipeline.estimator.phonatory import PhonatorySettings, alpha_bar, beta_schedule, diffuse, epsilon_loss
from pipeline.estimator.pretrain import PairBatches, make_module, pretrain
from pipeline.estimator.training import TrainSettings, make_network
from pipeline.seeds import repeat_seed


def held_out_losses(net, unet, batches: PairBatches, alpha_bars: torch.Tensor, n_batches: int,
                    rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """ε-loss per pair [n_batches * B] with the pair's own code and with a shuffled one."""
    net.eval()
    unet.eval()
    own, shuffled = [], []
    with torch.no_grad():
        for _ in range(n_batches):
            mel, x0, steps, noise = (torch.from_numpy(a) for a in batches.draw())
            code = net.encode(mel)
            x_t = diffuse(x0, steps, noise, alpha_bars)
            own.append(epsilon_loss(noise, unet(x_t, steps, code))[:, 0].numpy())
            perm = torch.from_numpy(rng.permutation(len(code)))
            shuffled.append(epsilon_loss(noise, unet(x_t, steps, code[perm]))[:, 0].numpy())
    return np.concatenate(own), np.concatenate(shuffled)


def identity_features(speakers: list[str], features: dict, seed: int) -> dict:
    """Each speaker's recordings as frames of one constant random vector of their own."""
    rng = np.random.default_rng(seed)
    vectors = {s: rng.standard_normal(features[s][0].shape[1]).astype(np.float32) for s in speakers}
    return {s: [np.broadcast_to(vectors[s], f.shape).copy() for f in features[s]] for s in speakers}


def main(gender: str, repeat: int, steps: int, n_batches: int, code: str) -> None:
    params = load_params(Path("params.yaml"))
    settings = replace(TrainSettings.from_params(params), phonatory=None)
    phonatory = replace(PhonatorySettings.from_params(params.phonatory), steps=steps, checkpoint_every=max(1, steps))
    split = read_table(Path(f"data/splits/{gender}.csv"))
    split = split[split.repeat == repeat].set_index("speaker_id").split
    train_ids, held_ids = list(split.index[split == "t"]), list(split.index[split == "v1"])
    features = load_features(Path("data/features"))
    segments = read_table(Path("data/vad/segments.csv"))
    seed = repeat_seed(params.seed, Gender(gender), repeat)
    if code == "identity":
        held_ids = train_ids
        features = identity_features(train_ids, features, seed)
    waves = load_waveforms(Path(params.data.root), segments, sorted(set(train_ids + held_ids)),
                           params.audio.sample_rate)
    net = make_network(1, 96, next(iter(features.values()))[0].shape[1], False, [seed])
    unet = make_module(1, net.widths[-1], phonatory, [seed])
    train = PairBatches([[features[s] for s in train_ids]], [[waves[s] for s in train_ids]], [seed],
                        params.seed, settings.segment_frames, phonatory)
    alpha_bars = torch.from_numpy(alpha_bar(beta_schedule(phonatory.timesteps, phonatory.schedule,
                                                          phonatory.beta_range))).float()
    rows = []
    for label, n_steps in (("before pre-training", 0), (f"after {steps} steps", steps)):
        if n_steps:
            losses = pretrain(net, unet, train, phonatory, torch.device("cpu"), settings.clip_norm)
            print(f"training ε-loss: first 10 steps {losses[:10].mean():.3f}, last 10 {losses[-10:].mean():.3f}")
        held = PairBatches([[features[s] for s in held_ids]], [[waves[s] for s in held_ids]], [seed + 1],
                           params.seed + 1, settings.segment_frames, phonatory)
        own, shuffled = held_out_losses(net, unet, held, alpha_bars, n_batches, np.random.default_rng(seed))
        gap = shuffled - own
        rows.append({"state": label, "own code": own.mean(), "shuffled code": shuffled.mean(),
                     "shuffled - own": gap.mean(), "SE": gap.std(ddof=1) / np.sqrt(len(gap)), "pairs": len(gap)})
    held = "fresh crops of the same speakers" if code == "identity" else f"{len(held_ids)} held-out (D_v1)"
    print(f"{gender}, repeat {repeat}, code {code}: {len(train_ids)} D_t speakers, {held}")
    print(pd.DataFrame(rows).to_markdown(index=False, floatfmt=".4g"))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gender", default="female")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--batches", type=int, default=40)
    parser.add_argument("--code", choices=("voice", "identity"), default="voice")
    args = parser.parse_args()
    main(args.gender, args.repeat, args.steps, args.batches, args.code)
