"""Ordered map over a process pool, with one expensive object built once per worker."""
from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from typing import Any, Callable, Iterable, Iterator

from .threads import apply_threads

_worker_state: Any = None


def default_workers() -> int:
    """SFV_WORKERS if set, else one process per available core."""
    return int(os.environ.get("SFV_WORKERS") or len(os.sched_getaffinity(0)))


def map_with_state(function: Callable[[Any, Any], Any], jobs: Iterable[Any], make_state: Callable[..., Any],
                   state_args: tuple = (), workers: int | None = None) -> Iterator[Any]:
    """function(state, job) for every job, in order, on `workers` processes.

    `make_state(*state_args)` runs once per worker (e.g. to build a template's sparse solver),
    not once per job. One worker, or fewer than four jobs, runs in this process. Each worker
    takes its share of the cores for its torch and BLAS threads (pipeline/threads.py), so the
    pool as a whole uses the cores once.
    """
    jobs = list(jobs)
    workers = workers or default_workers()
    if workers == 1 or len(jobs) < 4:
        state = make_state(*state_args)
        for job in jobs:
            yield function(state, job)
        return
    # forkserver, not fork: a process that has run torch (OpenMP) hangs in forked children.
    context = multiprocessing.get_context("forkserver")
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_init,
                             initargs=(make_state, state_args, workers)) as pool:
        yield from pool.map(_call, [(function, job) for job in jobs], chunksize=2)


def _init(make_state: Callable[..., Any], state_args: tuple, workers: int) -> None:
    global _worker_state
    apply_threads(workers)
    _worker_state = make_state(*state_args)


def _call(task: tuple[Callable[[Any, Any], Any], Any]) -> Any:
    function, job = task
    return function(_worker_state, job)
