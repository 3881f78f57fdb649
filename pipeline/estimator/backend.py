"""Where groups of repeats train: in this process, or as Ray tasks on a cluster.

Both backends run the same `VoiceEstimator.fit` on the same groups with the same torch thread
count, so they give the same numbers; Ray only decides where each group runs. A group's
results are handed to `on_done` as soon as it finishes, so they are saved before the next.
"""
from __future__ import annotations

from typing import Callable

import torch

from .base import Checkpoint, RepeatData, RepeatResult, VoiceEstimator

OnDone = Callable[[list[RepeatResult]], None]


def run_local(groups: list[list[RepeatData]], estimator: VoiceEstimator, device: torch.device,
              on_done: OnDone, progress: Callable[[int], None] | None = None,
              checkpoints: list[Checkpoint | None] | None = None) -> None:
    for group, checkpoint in zip(groups, checkpoints or [None] * len(groups)):
        on_done(estimator.fit(group, device, progress, checkpoint))


def run_ray(groups: list[list[RepeatData]], estimator: VoiceEstimator, device: torch.device,
            on_done: OnDone, progress: Callable[[int], None] | None = None,
            checkpoints: list[Checkpoint | None] | None = None) -> None:
    """One Ray task per group on the cluster of RAY_ADDRESS (a local Ray when unset).

    Each task asks for as many CPUs as torch uses here (and a GPU when training on one), so
    the cluster places it where it fits and its arithmetic matches the local backend. A task
    may run on another machine, so it keeps no phonatory checkpoint: a group that did not
    finish pre-trains again.
    """
    try:
        import ray
    except ImportError:
        raise RuntimeError("sfv.backend: ray needs Ray; install it with pip install 'sfv[ray]'") from None
    threads = torch.get_num_threads()
    started_here = not ray.is_initialized()
    if started_here:
        ray.init(log_to_driver=False, include_dashboard=False)
    try:
        task = ray.remote(_train_task).options(num_cpus=min(threads, _cluster_cpus(ray)),
                                               num_gpus=1 if device.type == "cuda" else 0)
        pending = {task.remote(group, estimator, device.type, threads): len(group) for group in groups}
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            for ref in done:
                size = pending.pop(ref)
                on_done(ray.get(ref))
                if progress:
                    progress(estimator.progress_units(size))
    finally:
        if started_here:
            ray.shutdown()


def _cluster_cpus(ray) -> int:
    return max(1, int(ray.cluster_resources().get("CPU", 1)))


def _train_task(group: list[RepeatData], estimator: VoiceEstimator, device_type: str,
                threads: int) -> list[RepeatResult]:
    torch.set_num_threads(threads)
    return estimator.fit(group, torch.device(device_type))


BACKENDS = {"local": run_local, "ray": run_ray}
