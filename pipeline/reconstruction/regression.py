"""The direct baseline: voice -> eigenface coefficients, with no AMs in between (as the CMP paper).

The same voice CNN as the AM estimators, its mean head predicting the whitened eigenface
coefficients of the speaker's face. Loss: L2 on the coefficients plus a cross-modal triplet
term that asks each voice's prediction to lie closer to its own face than to another
speaker's face in the batch by a margin. The step with the lowest coefficient error on a
held-out validation set is kept; a recording's prediction is the mean over its segments.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.nn import functional

from ..config import Params
from ..estimator.fusion import crop, segment_starts
from ..estimator.network import StackedVoiceCNN
from ..estimator.training import TrainSettings


@dataclass(frozen=True)
class RegressionSettings:
    train: TrainSettings  # steps, batches, segments and SGD: the AM estimators' own
    triplet_weight: float
    margin: float
    seed: int

    @classmethod
    def from_params(cls, params: Params, seed: int) -> RegressionSettings:
        """params.yaml's training and evaluate: settings, with the stream `seed` (seeds.regression_seed)."""
        return cls(TrainSettings.from_params(params), params.evaluate.triplet_weight, params.evaluate.triplet_margin,
                   seed)


@dataclass
class RegressionResult:
    state: dict[str, np.ndarray]  # the kept network's weights (one copy)
    n_outputs: int
    best_step: int
    log: list[tuple[int, float, float]]  # (step, training loss, validation L2)


def regression_loss(predicted: torch.Tensor, target: torch.Tensor, triplet_weight: float,
                    margin: float, negatives: torch.Tensor) -> torch.Tensor:
    """Mean squared coefficient error plus triplet_weight * triplet(anchor = prediction,
    positive = own face, negative = the face of speaker `negatives[i]` in the batch)."""
    l2 = ((predicted - target) ** 2).sum(dim=1).mean()
    if triplet_weight == 0:
        return l2
    triplet = functional.triplet_margin_loss(predicted, target, target[negatives], margin=margin)
    return l2 + triplet_weight * triplet


def train_regression(features: list[np.ndarray], targets: np.ndarray, val_recordings: list[list[np.ndarray]],
                     val_targets: np.ndarray, settings: RegressionSettings,
                     device: torch.device = torch.device("cpu")) -> RegressionResult:
    """Train on speakers' frames [frames, n_mels] with coefficients `targets` [n, C]; keep the
    step with the lowest validation L2."""
    if len(features) < 2:
        raise ValueError("the regression baseline needs at least 2 training speakers (the triplet term)")
    n_mels, n_out, train = features[0].shape[1], targets.shape[1], settings.train
    net = StackedVoiceCNN(1, n_out, n_mels).to(device)
    net.reset_parameters([settings.seed])
    # Only the mean head is used; the variance head stays out of the optimiser.
    params = [p for name, p in net.named_parameters() if not name.startswith("var_")]
    optimiser = torch.optim.SGD(params, lr=train.lr, momentum=train.momentum,
                                weight_decay=train.weight_decay)
    rng = np.random.default_rng([settings.seed, 1])
    best, best_state, best_step, log, running = np.inf, None, 0, [], []
    for step in range(1, train.iterations + 1):
        length = int(rng.integers(train.segment_frames[0], train.segment_frames[1] + 1))
        speakers = rng.integers(len(features), size=train.batch_size)
        x = np.stack([crop(features[s], int(rng.integers(0, max(1, len(features[s]) - length + 1))), length)
                      for s in speakers]).astype(np.float32)
        # Negatives: another speaker of the batch (a shifted index, re-drawn where it is the same speaker).
        negatives = (np.arange(len(speakers)) + rng.integers(1, len(speakers), size=len(speakers))) % len(speakers)
        clash = speakers[negatives] == speakers
        negatives[clash] = [_other(speakers, i, rng) for i in np.flatnonzero(clash)]
        for group in optimiser.param_groups:
            group["lr"] = train.lr * min(1.0, step / max(1, train.warmup_steps))
        net.train()
        predicted = net(torch.from_numpy(x)[:, None].to(device))[0][:, 0]
        loss = regression_loss(predicted, torch.from_numpy(targets[speakers]).float().to(device),
                               settings.triplet_weight, settings.margin, torch.from_numpy(negatives).to(device))
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, train.clip_norm)
        optimiser.step()
        running.append(float(loss.detach()))
        if step % train.eval_every == 0 or step == train.iterations:
            error = float(((predict_coefficients(net, val_recordings, train.eval_frames, train.batch_size,
                                                 device) - val_targets) ** 2).sum(axis=1).mean())
            log.append((step, float(np.mean(running)), error))
            running = []
            if error < best:
                best, best_step = error, step
                best_state = {n: t.detach().cpu().numpy().copy() for n, t in net.state_dict().items()}
    return RegressionResult(best_state, n_out, best_step, log)


def _other(speakers: np.ndarray, i: int, rng: np.random.Generator) -> int:
    """A batch index whose speaker differs from speaker i's (i itself if the batch has one speaker)."""
    candidates = np.flatnonzero(speakers != speakers[i])
    return int(rng.choice(candidates)) if len(candidates) else i


def load_network(result_state: dict[str, np.ndarray], n_outputs: int, n_mels: int,
                 device: torch.device = torch.device("cpu")) -> StackedVoiceCNN:
    net = StackedVoiceCNN(1, n_outputs, n_mels)
    net.load_state_dict({n: torch.from_numpy(np.asarray(v)) for n, v in result_state.items()})
    return net.to(device).eval()


def predict_coefficients(net: StackedVoiceCNN, recordings: list[list[np.ndarray]], frames: int,
                         batch_size: int, device: torch.device = torch.device("cpu")) -> np.ndarray:
    """Each speaker's coefficients [S, C]: the mean of its segments' predictions over all of
    its recordings."""
    rows = [(i, crop(rec, int(s), frames)) for i, recs in enumerate(recordings) for rec in recs
            for s in segment_starts(len(rec), frames)]
    out = np.zeros((len(rows), net.n_outputs))
    net.eval()
    with torch.no_grad():
        for start in range(0, len(rows), batch_size):
            x = np.stack([seg for _, seg in rows[start:start + batch_size]]).astype(np.float32)
            out[start:start + len(x)] = net(torch.from_numpy(x)[:, None].to(device))[0][:, 0].double().cpu().numpy()
    owner = np.array([i for i, _ in rows])
    return np.stack([out[owner == i].mean(axis=0) for i in range(len(recordings))])
