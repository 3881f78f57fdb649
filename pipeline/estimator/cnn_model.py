"""A trained repeat of the source's CNN: the weights behind every AM, and whole-recording prediction.

Per AM, D_v1 chose one step; the weights of that step (one snapshot of the shared network,
or the AM's own network) answer for it. A recording is cut into segments of the evaluation
length, each segment predicts a mean and a variance, and the segments are fused by inverse
variance (the source's Eq. 3), exactly as during training.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .fusion import crop, fuse, segment_starts
from .network import StackedVoiceCNN

PREDICT_BATCH = 64  # segments per forward pass


@dataclass(frozen=True)
class CnnModel:
    per_am: bool  # one network per AM (the source's layout) or one shared backbone
    n_outputs: int  # heads per network: every AM (shared) or 1 (per_am)
    n_mels: int
    widths: tuple[int, ...]
    eval_frames: int  # segment length of whole-recording prediction
    networks: dict[str, dict[str, np.ndarray]]  # weights by key
    network_of_am: tuple[str, ...]  # [K] key into networks

    def predict(self, recordings: list[np.ndarray], device: torch.device) -> tuple[np.ndarray, np.ndarray, int]:
        length = self.eval_frames
        segments = np.stack([crop(frames, int(s), length) for frames in recordings
                             for s in segment_starts(len(frames), length)]).astype(np.float32)
        n_ams = len(self.network_of_am)
        owner = np.asarray(self.network_of_am)
        means, variances = np.zeros((len(segments), n_ams)), np.ones((len(segments), n_ams))
        for key in np.unique(owner):
            net = StackedVoiceCNN(1, self.n_outputs, self.n_mels, self.widths).to(device)
            net.load_copy(0, {name: torch.from_numpy(value) for name, value in self.networks[key].items()})
            net.eval()
            ams = np.flatnonzero(owner == key)
            outputs = np.zeros(len(ams), dtype=np.int64) if self.per_am else ams
            with torch.no_grad():
                for start in range(0, len(segments), PREDICT_BATCH):
                    x = torch.from_numpy(segments[start:start + PREDICT_BATCH]).to(device)[:, None]
                    mean, log_var = net(x)
                    means[start:start + len(x), ams] = mean[:, 0, outputs].double().cpu().numpy()
                    variances[start:start + len(x), ams] = torch.exp(log_var[:, 0, outputs]).double().cpu().numpy()
        mean_z, _, var_z = fuse(means, variances)
        return mean_z, var_z, len(segments)

    def spec(self) -> dict:
        return {"per_am": self.per_am, "n_outputs": self.n_outputs, "n_mels": self.n_mels,
                "widths": list(self.widths), "eval_frames": self.eval_frames, "network_of_am": list(self.network_of_am)}

    def arrays(self) -> dict[str, np.ndarray]:
        return {f"{key}/{name}": value for key, state in self.networks.items() for name, value in state.items()}

    @classmethod
    def load(cls, spec: dict, arrays: dict[str, np.ndarray]) -> CnnModel:
        networks: dict[str, dict[str, np.ndarray]] = {}
        for name, value in arrays.items():
            key, param = name.split("/", 1)
            networks.setdefault(key, {})[param] = value
        return cls(bool(spec["per_am"]), int(spec["n_outputs"]), int(spec["n_mels"]), tuple(spec["widths"]),
                   int(spec["eval_frames"]), networks, tuple(spec["network_of_am"]))
