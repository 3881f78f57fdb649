"""A trained repeat on disk: front end, model, choices and predictions in one .npz (no pickles).

One file per repeat is the unit of resumption: it is written whole (to a temporary name,
then renamed) right after its group has trained, and a later run keeps it when its
fingerprint (estimator settings, split, data) still matches. Like a scikit-learn Pipeline it
holds everything needed to predict a new voice: the voice front end (VAD and log-mel
settings), the estimator's model, and the D_t mean and SD that turn z-scale predictions into
millimetres, ratios and degrees.
"""
from __future__ import annotations

import hashlib
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from ..artifacts import save_npz
from ..audio.frontend import FrontEnd
from .base import FittedModel, RepeatResult
from .fusion import fuse
from .registry import load_model

MODEL_PREFIX = "model/"


def fingerprint(parts: dict) -> str:
    """sha256 of a JSON-serialisable description of everything a repeat's result depends on."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def array_digest(*arrays: np.ndarray) -> str:
    """sha256 of the arrays' bytes and shapes (data identity for a fingerprint)."""
    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(str((a.dtype.str, a.shape)).encode())
        h.update(a.tobytes())
    return h.hexdigest()


@dataclass(frozen=True)
class StoredRepeat:
    repeat: int
    fingerprint: str
    estimator: str  # its sfv.estimator
    front_end: FrontEnd  # how a voice becomes the features the model reads
    am_ids: np.ndarray  # [K]
    target_mean: np.ndarray  # [K] D_t mean of the raw AMs
    target_sd: np.ndarray  # [K] D_t SD (ddof=1)
    scored_ids: np.ndarray  # [n_s]
    scored_splits: np.ndarray  # [n_s] v1 | v2 | e
    mean_z: np.ndarray  # [n_s, K]
    var_z: np.ndarray  # [n_s, K]
    n_segments: np.ndarray  # [n_s]
    choice: np.ndarray  # [K] what D_v1 chose per AM (the CNN's step, the ridge's penalty number)
    log: np.ndarray  # [n_evals, 3] choice, training loss, D_v1 MSE
    pretrain_loss: np.ndarray  # [steps] phonatory ε-loss per pre-training step (empty without it)
    model: FittedModel

    def predict(self, recordings: list[np.ndarray], device: torch.device) -> tuple[np.ndarray, np.ndarray, int]:
        """A speaker's z-scale means, calibrated variances [K] and units fused, from their
        normalised log-mel recordings (the front end's output)."""
        return self.model.predict(recordings, device)


def save_repeat(path: Path, result: RepeatResult, *, estimator: str, fingerprint: str, front_end: FrontEnd,
                am_ids: np.ndarray, target_mean: np.ndarray, target_sd: np.ndarray, scored_ids: list[str],
                scored_splits: list[str]) -> None:
    """Write one repeat atomically: a reader sees the old file or the whole new one."""
    spec = {"estimator": estimator, "front_end": front_end.spec(), "model": result.model.spec()}
    arrays = {
        "repeat": np.array(result.repeat), "fingerprint": np.array(fingerprint),
        "spec": np.array(json.dumps(spec, sort_keys=True)), "am_ids": np.asarray(am_ids),
        "target_mean": target_mean, "target_sd": target_sd,
        "scored_ids": np.array(scored_ids, dtype=str), "scored_splits": np.array(scored_splits, dtype=str),
        "mean_z": result.mean_z, "var_z": result.var_z, "n_segments": result.n_segments,
        "choice": result.choice, "log": np.array(result.log, dtype=np.float64).reshape(-1, 3),
        "pretrain_loss": np.asarray(result.pretrain_loss, np.float64),
    }
    arrays.update({MODEL_PREFIX + name: value for name, value in result.model.arrays().items()})
    save_npz(path, **arrays)


def load_repeat(path: Path) -> StoredRepeat:
    with np.load(path, allow_pickle=False) as z:
        spec = json.loads(str(z["spec"]))
        arrays = {name[len(MODEL_PREFIX):]: z[name] for name in z.files if name.startswith(MODEL_PREFIX)}
        return StoredRepeat(
            repeat=int(z["repeat"]), fingerprint=str(z["fingerprint"]), estimator=spec["estimator"],
            front_end=FrontEnd.from_spec(spec["front_end"]), am_ids=z["am_ids"], target_mean=z["target_mean"],
            target_sd=z["target_sd"], scored_ids=z["scored_ids"], scored_splits=z["scored_splits"],
            mean_z=z["mean_z"], var_z=z["var_z"], n_segments=z["n_segments"], choice=z["choice"], log=z["log"],
            pretrain_loss=z["pretrain_loss"],
            model=load_model({"estimator": spec["estimator"], **spec["model"]}, arrays))


def stored_fingerprint(path: Path) -> str | None:
    """The fingerprint of a stored repeat, or None when there is no readable file."""
    try:
        with np.load(path, allow_pickle=False) as z:
            return str(z["fingerprint"])
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return None  # missing, truncated or foreign: the repeat is trained again


def predict_ensemble(repeats: list[StoredRepeat], recordings: list[np.ndarray],
                     device: torch.device) -> tuple[np.ndarray, np.ndarray]:
    """A new voice's AMs in their raw units [K] and calibrated uncertainty [K] from the
    estimators of all repeats, fused by inverse variance (the source's Eq. 3 applied across
    estimators instead of segments)."""
    means, variances = [], []
    for stored in tqdm(repeats, desc="estimators", unit="estimator", leave=False):
        mean_z, var_z, _ = stored.predict(recordings, device)
        means.append(mean_z * stored.target_sd + stored.target_mean)
        variances.append(var_z * stored.target_sd ** 2)
    mean, _, calibrated = fuse(np.stack(means), np.stack(variances))
    return mean, calibrated
