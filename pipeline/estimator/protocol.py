"""The repeat protocol of one gender: train (or resume) every repeat, then tabulate them.

A repeat whose stored fingerprint (settings, seed, split, data digest) matches is kept, so an
interrupted run resumes where it stopped and a longer run keeps its first repeats. Groups are
fixed chunks of 1..N, so a resumed run stacks exactly the same networks.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from ..audio.frontend import FrontEnd
from ..cohort import Gender
from ..seeds import repeat_seed
from ..splits import Splits
from .backend import BACKENDS
from .base import Checkpoint, VoiceEstimator
from .data import joined_features, repeat_data
from .store import array_digest, fingerprint, save_repeat, stored_fingerprint

PREDICTION_COLUMNS = ["repeat", "split", "speaker_id", "am_id", "mean", "var", "mean_z", "var_z",
                      "n_segments", "step", "target", "target_z"]


def train_repeats(estimator: VoiceEstimator, device: torch.device, gender: Gender, splits: Splits,
                  features: dict[str, list[np.ndarray]], targets: pd.DataFrame, am_ids: np.ndarray,
                  models_dir: Path, front_end: FrontEnd, *, seed: int, requested_group_size: int, backend: str,
                  waveforms: dict[str, list[np.ndarray]] | None = None) -> None:
    """Fit every repeat of `splits` whose stored result is missing or stale, in fixed groups,
    and drop the files of repeats beyond the last (`waveforms`: each speaker's speech samples,
    for the phonatory module; `front_end`: stored with each repeat, for `sfv predict`)."""
    repeats = splits.n_repeats
    size = estimator.group_size(requested_group_size, repeats, device)
    data_digest = {s: array_digest(*features[s], *(waveforms or {}).get(s, []), targets.loc[s].to_numpy(np.float64))
                   for s in targets.index}
    prints = {}
    for r in range(1, repeats + 1):
        split = splits.repeat(r)
        prints[r] = fingerprint({"estimator": estimator.fingerprint(size), "seed": seed, "gender": str(gender),
                                 "repeat": r, "split": split, "data": [data_digest[s] for s in sorted(split)]})
    for path in models_dir.glob("repeat_*.npz"):
        if int(path.stem.removeprefix("repeat_")) > repeats:
            path.unlink()
    # Groups are fixed chunks of 1..N, so a resumed run stacks exactly the same networks.
    chunks = [list(range(start, min(start + size, repeats + 1))) for start in range(1, repeats + 1, size)]
    todo = [c for c in chunks if any(stored_fingerprint(repeat_path(models_dir, r)) != prints[r] for r in c)]
    keep = {checkpoint_path(models_dir, c) for c in todo}
    for path in models_dir.glob("phonatory_*.pt"):  # a checkpoint of another chunking or of a finished group
        if path not in keep:
            path.unlink()
    if not todo:
        return
    context = {}
    joined = joined_features(features)

    def build(r: int):
        data, mean, sd = repeat_data(r, repeat_seed(seed, gender, r), splits.repeat(r), features, targets, waveforms,
                                     joined)
        context[r] = (data, mean, sd)
        return data

    groups = [[build(r) for r in chunk] for chunk in todo]

    def save(results) -> None:
        for result in results:
            data, mean, sd = context.pop(result.repeat)
            save_repeat(repeat_path(models_dir, result.repeat), result, estimator=estimator.name,
                        fingerprint=prints[result.repeat], front_end=front_end, am_ids=am_ids, target_mean=mean,
                        target_sd=sd, scored_ids=data.scored_ids, scored_splits=data.scored_splits)
        checkpoint_path(models_dir, [r.repeat for r in results]).unlink(missing_ok=True)
        bar.set_postfix(saved=f"repeat {results[-1].repeat}")

    # A task on Ray may run on another machine, so only the local backend keeps checkpoints.
    checkpoints = ([Checkpoint(checkpoint_path(models_dir, c), fingerprint([prints[r] for r in c])) for c in todo]
                   if backend == "local" else None)
    with tqdm(total=sum(estimator.progress_units(len(g)) for g in groups), desc=f"train {gender}",
              unit=estimator.progress_unit, smoothing=0.1) as bar:
        BACKENDS[backend](groups, estimator, device, save, bar.update, checkpoints=checkpoints)


def checkpoint_path(models_dir: Path, repeats: list[int]) -> Path:
    """Where the phonatory pre-training of the group of `repeats` is saved until the group is."""
    return models_dir / f"phonatory_{repeats[0]:03d}-{repeats[-1]:03d}.pt"


def predictions_table(stored, targets: pd.DataFrame) -> pd.DataFrame:
    """Long table of every repeat's D_v1, D_v2 and D_e predictions, raw scale and z-scale."""
    frames = []
    for rep in stored:
        n_s, k = rep.mean_z.shape
        raw_targets = targets.loc[list(rep.scored_ids)].to_numpy(np.float64)
        frames.append(pd.DataFrame({
            "repeat": rep.repeat,
            "split": np.repeat(rep.scored_splits, k),
            "speaker_id": np.repeat(rep.scored_ids, k),
            "am_id": np.tile(rep.am_ids, n_s),
            "mean": (rep.mean_z * rep.target_sd + rep.target_mean).ravel(),
            "var": (rep.var_z * rep.target_sd ** 2).ravel(),
            "mean_z": rep.mean_z.ravel(),
            "var_z": rep.var_z.ravel(),
            "n_segments": np.repeat(rep.n_segments, k),
            "step": np.tile(rep.choice, n_s),
            "target": raw_targets.ravel(),
            "target_z": ((raw_targets - rep.target_mean) / rep.target_sd).ravel(),
        }))
    return pd.concat(frames, ignore_index=True)[PREDICTION_COLUMNS]


def training_log(stored) -> pd.DataFrame:
    rows = [(rep.repeat, int(step), nll, mse) for rep in stored for step, nll, mse in rep.log]
    return pd.DataFrame(rows, columns=["repeat", "step", "train_loss", "v1_mse"])


def pretraining_log(stored, every: int = 10) -> pd.DataFrame:
    """The phonatory ε-loss of every repeat, averaged over blocks of `every` steps (empty
    without the module)."""
    rows = []
    for rep in stored:
        loss = rep.pretrain_loss
        for start in range(0, len(loss), every):
            rows.append((rep.repeat, min(start + every, len(loss)), float(loss[start:start + every].mean())))
    return pd.DataFrame(rows, columns=["repeat", "step", "epsilon_loss"])


def repeat_path(models_dir: Path, repeat: int) -> Path:
    """Where repeat `repeat`'s model is stored."""
    return models_dir / f"repeat_{repeat:03d}.npz"
