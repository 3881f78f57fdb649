"""A trained repeat on disk: weights, selection and predictions in one .npz (no pickles).

One file per repeat is the unit of resumption: it is written whole (to a temporary name,
then renamed) right after its group has trained, and a later run keeps it when its
fingerprint (settings, split, data) still matches. It also holds everything needed to
predict a new voice: the network shape, the weights behind every AM, and the D_t mean and SD
that turn z-scale predictions into millimetres, ratios and degrees.
"""
from __future__ import annotations

import hashlib
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..artifacts import save_npz
from .estimators import RIDGE_KEY
from .fusion import fuse, segment_starts
from .network import StackedVoiceCNN
from .ridge import StatsRidge
from .statistics import speaker_statistics
from .training import RepeatResult, crop

NET_PREFIX = "net/"


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
    spec: dict  # estimator, n_mels, and for the CNN n_outputs, widths, eval_frames
    am_ids: np.ndarray  # [K]
    target_mean: np.ndarray  # [K] D_t mean of the raw AMs
    target_sd: np.ndarray  # [K] D_t SD (ddof=1)
    scored_ids: np.ndarray  # [n_s]
    scored_splits: np.ndarray  # [n_s] v1 | v2 | e
    mean_z: np.ndarray  # [n_s, K]
    var_z: np.ndarray  # [n_s, K]
    n_segments: np.ndarray  # [n_s]
    best_step: np.ndarray  # [K]
    log: np.ndarray  # [n_evals, 3] step, train NLL, D_v1 MSE
    pretrain_loss: np.ndarray  # [steps] phonatory ε-loss per pre-training step (empty without it)
    network_of_am: np.ndarray  # [K] key into networks
    networks: dict[str, dict[str, np.ndarray]]


def save_repeat(path: Path, result: RepeatResult, *, fingerprint: str, spec: dict, am_ids: np.ndarray,
                target_mean: np.ndarray, target_sd: np.ndarray, scored_ids: list[str],
                scored_splits: list[str]) -> None:
    """Write one repeat atomically: a reader sees the old file or the whole new one."""
    arrays = {
        "repeat": np.array(result.repeat), "fingerprint": np.array(fingerprint),
        "spec": np.array(json.dumps(spec, sort_keys=True)), "am_ids": np.asarray(am_ids),
        "target_mean": target_mean, "target_sd": target_sd,
        "scored_ids": np.array(scored_ids, dtype=str), "scored_splits": np.array(scored_splits, dtype=str),
        "mean_z": result.mean_z, "var_z": result.var_z, "n_segments": result.n_segments,
        "best_step": result.best_step, "log": np.array(result.log, dtype=np.float64).reshape(-1, 3),
        "network_of_am": np.array(result.network_of_am, dtype=str),
        "pretrain_loss": np.asarray(result.pretrain_loss, np.float64),
    }
    for key, state in result.networks.items():
        arrays.update({f"{NET_PREFIX}{key}/{name}": value for name, value in state.items()})
    save_npz(path, **arrays)


def load_repeat(path: Path) -> StoredRepeat:
    with np.load(path, allow_pickle=False) as z:
        networks: dict[str, dict[str, np.ndarray]] = {}
        for name in z.files:
            if name.startswith(NET_PREFIX):
                key, param = name[len(NET_PREFIX):].split("/", 1)
                networks.setdefault(key, {})[param] = z[name]
        return StoredRepeat(
            repeat=int(z["repeat"]), fingerprint=str(z["fingerprint"]), spec=json.loads(str(z["spec"])),
            am_ids=z["am_ids"], target_mean=z["target_mean"], target_sd=z["target_sd"],
            scored_ids=z["scored_ids"], scored_splits=z["scored_splits"], mean_z=z["mean_z"],
            var_z=z["var_z"], n_segments=z["n_segments"], best_step=z["best_step"], log=z["log"],
            pretrain_loss=z["pretrain_loss"],
            network_of_am=z["network_of_am"], networks=networks)


def stored_fingerprint(path: Path) -> str | None:
    """The fingerprint of a stored repeat, or None when there is no readable file."""
    try:
        with np.load(path, allow_pickle=False) as z:
            return str(z["fingerprint"])
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return None  # missing, truncated or foreign: the repeat is trained again


def predict_recordings(stored: StoredRepeat, recordings: list[np.ndarray],
                       device: torch.device = torch.device("cpu"), batch_size: int = 64
                       ) -> tuple[np.ndarray, np.ndarray, int]:
    """One speaker's fused z-scale prediction [K], calibrated uncertainty L*w [K] and segment
    count, from normalised log-mel recordings [frames, n_mels], with the weights selected for
    each AM (the same segmentation and fusion as during training). The stats_ridge estimator
    predicts once from the statistics of all recordings (one unit, L = 1)."""
    spec = stored.spec
    if spec["estimator"] == "stats_ridge":
        model = StatsRidge.from_state(stored.networks[RIDGE_KEY])
        mean, var = model.predict(speaker_statistics(recordings)[None])
        return mean[0], var[0], 1
    length = int(spec["eval_frames"])
    segments = np.stack([crop(frames, int(s), length) for frames in recordings
                         for s in segment_starts(len(frames), length)]).astype(np.float32)
    n_ams = len(stored.am_ids)
    means, variances = np.zeros((len(segments), n_ams)), np.ones((len(segments), n_ams))
    for key in np.unique(stored.network_of_am):
        net = StackedVoiceCNN(1, int(spec["n_outputs"]), int(spec["n_mels"]), tuple(spec["widths"])).to(device)
        net.load_copy(0, {name: torch.from_numpy(value) for name, value in stored.networks[key].items()})
        net.eval()
        ams = np.flatnonzero(stored.network_of_am == key)
        outputs = ams if spec["estimator"] == "shared" else np.zeros(len(ams), dtype=np.int64)
        with torch.no_grad():
            for start in range(0, len(segments), batch_size):
                x = torch.from_numpy(segments[start:start + batch_size]).to(device)[:, None]
                mean, log_var = net(x)
                means[start:start + len(x), ams] = mean[:, 0, outputs].double().cpu().numpy()
                variances[start:start + len(x), ams] = torch.exp(log_var[:, 0, outputs]).double().cpu().numpy()
    mean_z, _, var_z = fuse(means, variances)
    return mean_z, var_z, len(segments)


def predict_ensemble(repeats: list[StoredRepeat], recordings: list[np.ndarray],
                     device: torch.device = torch.device("cpu")) -> tuple[np.ndarray, np.ndarray]:
    """A new voice's AMs in their raw units [K] and calibrated uncertainty [K] from the
    estimators of all repeats, fused by inverse variance (the source's Eq. 3 applied across
    estimators instead of segments)."""
    means, variances = [], []
    for stored in repeats:
        mean_z, var_z, _ = predict_recordings(stored, recordings, device)
        means.append(mean_z * stored.target_sd + stored.target_mean)
        variances.append(var_z * stored.target_sd ** 2)
    mean, _, calibrated = fuse(np.stack(means), np.stack(variances))
    return mean, calibrated
