"""Fan-out across local processes, or on a Ray cluster started by the project on loopback.

``process_map(func, items, workers)`` runs ``func`` on every item in a forkserver process pool and
returns results in order; interrupted (Ctrl-C, SIGTERM) or failing, it cancels the queued items and
stops the workers at once instead of letting them finish (the workers ignore Ctrl-C, which reaches
the whole process group: the parent stops them).

``ray_map(func, items)`` runs ``func`` on every item as Ray tasks and returns results in order.
Without ``address`` a local single-node cluster is started on 127.0.0.1 with the dashboard off and
``num_cpus=workers``; with ``address`` it joins that cluster. Ray is an optional extra
(``pip install 'p2psim[ray]'``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

from p2psim.errors import StudyError


def process_map(func: Callable[[Any], Any], items: Sequence[Any], workers: int) -> list[Any]:
    """Run ``func(item)`` for every item on ``workers`` local processes; results in input order."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from p2psim.outputs.interrupts import ignore_sigint

    pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("forkserver"),
                               initializer=ignore_sigint)
    try:
        futures = [pool.submit(func, item) for item in items]  # not pool.map: it cancels them when interrupted
        results = [future.result() for future in futures]
    except BaseException:
        # no public way to stop the workers before Python 3.14 (terminate_workers); stopped, they break the
        # pool, which fails the queued items (had they been cancelled, CPython 3.11 would raise in that step)
        for process in list((getattr(pool, "_processes", None) or {}).values()):
            process.terminate()
        pool.shutdown(wait=False)
        raise
    pool.shutdown()
    return results


def ensure_ray(workers: int, address: str | None = None):
    """Import Ray and connect to (or start, on loopback) a cluster; return the ray module."""
    try:
        import ray
    except ImportError:
        raise StudyError("--backend ray needs Ray, which is not installed; run: pip install 'p2psim[ray]'") from None
    if not ray.is_initialized():
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        if address:
            ray.init(address=address, log_to_driver=False)
        else:
            ray.init(
                num_cpus=max(1, workers),
                include_dashboard=False,
                _node_ip_address="127.0.0.1",
                log_to_driver=False,
                configure_logging=False,
            )
    return ray


def ray_map(
    func: Callable[[Any], Any], items: Sequence[Any], *, workers: int = 2, address: str | None = None
) -> list[Any]:
    """Run ``func(item)`` for every item as Ray tasks; results in input order."""
    ray = ensure_ray(workers, address)
    remote = ray.remote(num_cpus=1)(func)
    return ray.get([remote.remote(item) for item in items])
