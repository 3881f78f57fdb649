"""How many threads a process's numerical libraries use: one rule, applied once per process.

`SFV_THREADS` if set, else the cores available to the process (its CPU affinity) shared out
among the processes the work runs on: a stage's own process takes them all, each of a process
pool's `SFV_WORKERS` workers (pipeline/parallel.py) its share. Applied to torch's intra-op pool
and to the BLAS/OpenMP pools numpy and scipy load (threadpoolctl). Without this, every process
spins up a thread per core, and two processes on one machine (two experiments of a
`dvc queue start -j 2` sweep, a pool's workers) fight over the cores. Silero's VAD keeps one
thread of its own whatever this says (pipeline/audio/vad.py).
"""
from __future__ import annotations

import os


def available_cores() -> int:
    return len(os.sched_getaffinity(0))


def thread_count(workers: int = 1) -> int:
    """SFV_THREADS if set, else this process's share of the cores among `workers` processes
    (at least 1)."""
    if os.environ.get("SFV_THREADS"):
        return max(1, int(os.environ["SFV_THREADS"]))
    return max(1, available_cores() // max(1, workers))


def apply_threads(workers: int = 1) -> int:
    """Set torch's and the BLAS/OpenMP pools' threads to thread_count(workers); returns it."""
    import torch
    from threadpoolctl import threadpool_limits

    threads = thread_count(workers)
    torch.set_num_threads(threads)
    threadpool_limits(threads)
    return threads
