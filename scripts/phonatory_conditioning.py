"""Does the phonatory module use the voice code e on the default world? (docs/training.md,
"Result on the default world"). Pre-trains encoder and module as `train` does, on one
repeat's D_t, then scores the ε-loss on held-out speakers (that repeat's D_v1) with each
pair's own code and with the codes shuffled across the batch: the same crops, steps t and
noise. If the shuffled codes score as well as the true ones, the module ignores e, and the
encoder's pre-training gradient carries no speaker information.

`identity` runs are the control for the task itself: every speaker's log-mels are replaced by
a constant random vector of their own, so the encoder is handed the speaker's identity and
nothing else, and the held-out pairs are fresh crops of the same D_t speakers. If even then
the shuffled codes score as well, the ε-loss on these waveforms does not reward knowing the
speaker at all.

    python scripts/phonatory_conditioning.py [--workspace DIR] [--gender female] [--repeat 1]
                                             [--runs voice:200 voice:2000 identity:2000]

Each run (code:steps) scores its fresh network before and after pre-training: about 0.3 CPU-s
per pre-training step on one thread. The workspace holds a default run's data (`dvc repro`:
data/features, data/vad/segments.csv, data/splits, the data root's recordings) and its
params.yaml. Writes reports/experiments/phonatory_conditioning/results.csv (one row per run and
state; a later invocation replaces the rows of the runs it makes and keeps the others) and
run.json (per run: the workspace's commit, when it is a git checkout of its own, and inputs' md5, this script's commit, the settings,
threads, wall time).
"""
from __future__ import annotations

import argparse
import fcntl
import hashlib
import json
import subprocess
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from pipeline.artifacts import read_table
from pipeline.cohort import Gender
from pipeline.config import load_params
from pipeline.estimator.data import load_features, load_waveforms
from pipeline.estimator.phonatory import PhonatorySettings, alpha_bar, beta_schedule, diffuse, epsilon_loss
from pipeline.estimator.pretrain import PairBatches, make_module, pretrain
from pipeline.estimator.training import TrainSettings, make_network
from pipeline.seeds import repeat_seed

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "reports" / "experiments" / "phonatory_conditioning"


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


def run(workspace: Path, gender: str, repeat: int, code: str, steps: int, n_batches: int,
        features: dict, waves: dict) -> list[dict]:
    """One configuration: the held-out ε-loss with own and shuffled codes, before and after."""
    params = load_params(workspace / "params.yaml")
    settings = replace(TrainSettings.from_params(params), phonatory=None)
    phonatory = replace(PhonatorySettings.from_params(params.phonatory), steps=steps, checkpoint_every=max(1, steps))
    split = read_table(workspace / "data" / "splits" / f"{gender}.csv")
    split = split[split.repeat == repeat].set_index("speaker_id").split
    train_ids, held_ids = list(split.index[split == "t"]), list(split.index[split == "v1"])
    seed = repeat_seed(params.seed, Gender(gender), repeat)
    if code == "identity":
        held_ids = train_ids
        features = identity_features(train_ids, features, seed)
    net = make_network(1, 96, next(iter(features.values()))[0].shape[1], False, [seed])
    unet = make_module(1, net.widths[-1], phonatory, [seed])
    train = PairBatches([[features[s] for s in train_ids]], [[waves[s] for s in train_ids]], [seed],
                        params.seed, settings.segment_frames, phonatory)
    alpha_bars = torch.from_numpy(alpha_bar(beta_schedule(phonatory.timesteps, phonatory.schedule,
                                                          phonatory.beta_range))).float()
    rows = []
    for state, n_steps in (("before", 0), ("after", steps)):
        training_loss = None
        if n_steps:
            with tqdm(total=n_steps, desc=f"{code}, {steps} steps", unit="step") as bar:
                losses = pretrain(net, unet, train, phonatory, torch.device("cpu"), settings.clip_norm,
                                  progress=bar.update)
            training_loss = {"first_10": float(losses[:10].mean()), "last_10": float(losses[-10:].mean())}
        held = PairBatches([[features[s] for s in held_ids]], [[waves[s] for s in held_ids]], [seed + 1],
                           params.seed + 1, settings.segment_frames, phonatory)
        own, shuffled = held_out_losses(net, unet, held, alpha_bars, n_batches, np.random.default_rng(seed))
        gap = shuffled - own
        rows.append({"code": code, "steps": steps, "state": state, "pretrained_steps": n_steps,
                     "own": float(own.mean()), "shuffled": float(shuffled.mean()), "gap": float(gap.mean()),
                     "gap_se": float(gap.std(ddof=1) / np.sqrt(len(gap))), "pairs": len(gap),
                     "train_speakers": len(train_ids), "held_out_speakers": len(set(held_ids)),
                     "held_out": "D_t, fresh crops" if code == "identity" else "D_v1",
                     "train_loss_first_10": training_loss and training_loss["first_10"],
                     "train_loss_last_10": training_loss and training_loss["last_10"]})
    return rows


def _git(directory: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=directory, capture_output=True, text=True, check=True).stdout.strip()


def _workspace_commit(workspace: Path) -> str | None:
    """The workspace's HEAD when it is a git checkout of its own; None for a seed_spread workspace
    (no git, inside another checkout), which the inputs' md5 identify instead."""
    try:
        top = Path(_git(workspace, "rev-parse", "--show-toplevel")).resolve()
    except subprocess.CalledProcessError:
        return None
    return _git(workspace, "rev-parse", "HEAD") if top == workspace else None


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workspace", type=Path, default=ROOT, help="a default run's checkout with its data/")
    parser.add_argument("--gender", default="female")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--batches", type=int, default=40, help="held-out batches scored per state")
    parser.add_argument("--runs", nargs="+", default=["voice:200", "voice:2000", "identity:2000"],
                        help="code:steps, code voice or identity")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (one wastes least on a busy machine)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    workspace = args.workspace.resolve()
    started = time.time()
    record = {"invocation_runs": args.runs, "threads": args.threads, "script_commit": _git(ROOT, "rev-parse", "HEAD"),
              "script_modified": _git(ROOT, "status", "--porcelain", "--untracked-files=no").splitlines(),
              "workspace": str(workspace), "workspace_commit": _workspace_commit(workspace),
              "gender": args.gender, "repeat": args.repeat, "batches": args.batches}
    params = load_params(workspace / "params.yaml")
    split = read_table(workspace / "data" / "splits" / f"{args.gender}.csv")
    mine = split[(split.repeat == args.repeat) & split.split.isin(["t", "v1"])]
    speakers = sorted(set(mine.speaker_id))  # the pre-training reads D_t, the scoring D_v1
    features = load_features(workspace / "data" / "features")
    segments = read_table(workspace / "data" / "vad" / "segments.csv")
    waves = load_waveforms(workspace / params.data.root, segments, speakers, params.audio.sample_rate)
    rows = []
    for item in args.runs:
        code, steps = item.split(":")
        rows += run(workspace, args.gender, args.repeat, code, int(steps), args.batches, features, waves)
        print(f"{item}: {round(time.time() - started)} s so far", flush=True)
    record |= {"phonatory": params.phonatory.model_dump(mode="json"), "seed": params.seed,
               "inputs_md5": {"data/vad/segments.csv": _md5(workspace / "data" / "vad" / "segments.csv"),
                              f"data/splits/{args.gender}.csv": _md5(workspace / "data" / "splits" /
                                                                     f"{args.gender}.csv"),
                              "data/features/index.csv": _md5(workspace / "data" / "features" / "index.csv")},
               "wall_time_s": round(time.time() - started)}
    OUT.mkdir(parents=True, exist_ok=True)
    table = pd.DataFrame(rows)
    with open(Path(tempfile.gettempdir()) / "sfv_phonatory_conditioning.lock", "w") as lock:  # one merge at a time
        fcntl.flock(lock, fcntl.LOCK_EX)
        runs = {}
        if (OUT / "results.csv").is_file():  # keep the runs this invocation did not make
            kept = pd.read_csv(OUT / "results.csv")
            kept = kept[~(kept.code + ":" + kept.steps.astype(str)).isin(args.runs)]
            table = pd.concat([kept, table], ignore_index=True).sort_values(["code", "steps"], kind="stable")
            runs = json.loads((OUT / "run.json").read_text())["runs"]
        runs |= {item: record for item in args.runs}
        table.to_csv(OUT / "results.csv", index=False)
        (OUT / "run.json").write_text(json.dumps({"runs": dict(sorted(runs.items()))}, indent=2) + "\n")
    print(table[["code", "steps", "state", "own", "shuffled", "gap", "gap_se", "pairs"]].to_markdown(
        index=False, floatfmt=".4g"))


if __name__ == "__main__":
    main()
