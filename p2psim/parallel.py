"""One fan-out backend: local processes or a Ray cluster, for the allocation stage's days and sweeps.

``fan_out(func, items, backend=..., workers=..., address=..., done=...)`` runs ``func`` on every
item and returns the results in input order; ``done(index, result)`` is called as each one finishes
(progress bars, rows written as they come). Both backends run the same importable ``func``, so their
results are identical (only wall-clock timings differ).

- ``"local"``: a ``forkserver`` process pool of ``workers`` processes (``spawn`` where forkserver
  does not exist); one worker and ``pool=False`` run in this process. Interrupted (Ctrl-C, SIGTERM)
  or failing, it stops the workers at once instead of letting the queued items run (the workers
  ignore Ctrl-C, which reaches the whole process group: the parent stops them).
- ``"ray"``: Ray tasks (one CPU each, no retries). Without ``address`` a private single-node cluster
  is started on loopback (127.0.0.1, dashboard off, ``num_cpus=workers``) and shut down afterwards;
  with ``address`` it joins that cluster, which :func:`check_backend` does before any work (a TCP
  probe within :data:`CONNECT_TIMEOUT_S` first), so an unreachable address fails in seconds, not
  after the simulation. Interrupted, the pending tasks are cancelled. Ray is an optional extra
  (``pip install 'p2psim[ray]'``); a cluster already initialised in this process is used as it is.

Bad requests (unknown backend, Ray missing, an address nothing answers at) raise
:class:`~p2psim.errors.StudyError` (exit status 2) naming the option, the value and the fix.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Sequence
from typing import Any

from p2psim.errors import StudyError

BACKENDS = ("local", "ray")
CONNECT_TIMEOUT_S = 10.0
"""How long :func:`check_backend` waits for a TCP connection to a Ray ``--address``."""
RAY_MISSING = "--backend ray needs Ray, which is not installed; run: pip install 'p2psim[ray]'"


def check_backend(backend: str, workers: int, address: str | None) -> None:
    """StudyError unless the backend can run: a known name, >= 1 worker, Ray importable and its cluster joined.

    Callers run it before any long work. With an ``address`` it joins that cluster now (the later
    fan-outs use the connection): nothing listening fails within :data:`CONNECT_TIMEOUT_S`, and so
    does a listener that is not a Ray cluster (Ray's retries are limited to as many seconds).
    """
    if backend not in BACKENDS:
        raise StudyError(f"--backend {backend!r} is not a backend; use one of {list(BACKENDS)}")
    if workers < 1:
        raise StudyError(f"--workers {workers}: need at least one worker")
    if address and backend != "ray":
        raise StudyError(f"--address {address} is only used with --backend ray")
    if backend == "ray":
        ray_module()
        if address:  # probe, then join now: something may accept TCP there without being Ray
            check_address(address)
            ensure_ray(workers, address)


def check_address(address: str) -> None:
    """StudyError unless something accepts a TCP connection at the Ray ``address`` (``[ray://]host:port``)."""
    if address in ("auto", "local"):
        return
    host, sep, port = address.removeprefix("ray://").rpartition(":")
    if not sep or not host or not port.isdigit():
        raise StudyError(f"--address {address!r} is not host:port; give the address `ray start --head` printed, "
                         "e.g. 192.168.1.10:6379")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as exc:
        raise StudyError(f"--address {address}: no Ray cluster answers there ({exc.strerror or exc}); start one with "
                         "`ray start --head` and pass the address it prints, or omit --address to start a private "
                         "one on loopback") from None


def ray_module():
    """Import Ray or fail with the fix (StudyError, exit status 2)."""
    try:
        import ray
    except ImportError:
        raise StudyError(RAY_MISSING) from None
    return ray


def fan_out(func: Callable[[Any], Any], items: Sequence[Any], *, backend: str = "local", workers: int = 1,
            address: str | None = None, done: Callable[[int, Any], None] | None = None,
            initializer: Callable[[], None] | None = None, pool: bool = False) -> list[Any]:
    """Run ``func(item)`` for every item on ``backend``; results in input order (see the module docstring).

    Args:
        func: An importable function (workers import it by name).
        items: Its arguments, one task each.
        backend: ``"local"`` or ``"ray"``.
        workers: Local processes, or the CPUs of a private Ray cluster.
        address: A Ray cluster to join (``--address``).
        done: Called as ``done(index, result)`` when each task finishes, in completion order.
        initializer: Run once in every local worker process before its first task.
        pool: Use a process pool even for one worker (isolates the tasks from this process).
    """
    check_backend(backend, workers, None)
    if backend == "ray":
        return _ray(func, items, workers, address, done)
    if not pool and (workers <= 1 or len(items) <= 1):
        results = []
        for i, item in enumerate(items):
            results.append(func(item))
            if done is not None:
                done(i, results[-1])
        return results
    return _processes(func, items, min(workers, max(1, len(items))), done, initializer)


def process_map(func: Callable[[Any], Any], items: Sequence[Any], workers: int) -> list[Any]:
    """Run ``func(item)`` for every item on ``workers`` local processes; results in input order."""
    return fan_out(func, items, workers=workers, pool=True)


def _pool_context():
    import multiprocessing

    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")


def _init_worker(initializer: Callable[[], None] | None) -> None:
    from p2psim.outputs.interrupts import ignore_sigint

    ignore_sigint()
    if initializer is not None:
        initializer()


def _processes(func, items, workers, done, initializer) -> list[Any]:
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    executor = ProcessPoolExecutor(max_workers=workers, mp_context=_pool_context(), initializer=_init_worker,
                                   initargs=(initializer,))
    results: list[Any] = [None] * len(items)
    try:
        futures = {executor.submit(func, item): i for i, item in enumerate(items)}  # not map: it cancels on Ctrl-C
        pending = set(futures)
        while pending:
            finished, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in sorted(finished, key=futures.get):
                i = futures[future]
                results[i] = future.result()
                if done is not None:
                    done(i, results[i])
    except BaseException:
        # no public way to stop the workers before Python 3.14 (terminate_workers); stopped, they break the
        # pool, which fails the queued items (had they been cancelled, CPython 3.11 would raise in that step)
        for process in list((getattr(executor, "_processes", None) or {}).values()):
            process.terminate()
        executor.shutdown(wait=False)
        raise
    executor.shutdown()
    return results


def ensure_ray(workers: int, address: str | None = None):
    """Connect to the cluster at ``address``, or start a private one on loopback; return (ray, started here)."""
    ray = ray_module()
    if ray.is_initialized():
        return ray, False
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    if address:
        check_address(address)
        # a cluster that is up answers at once; Ray would retry 20 times (~1 s each) and log every attempt
        os.environ.setdefault("RAY_gcs_server_port_wait_time_s", str(int(CONNECT_TIMEOUT_S)))
        os.environ.setdefault("RAY_BACKEND_LOG_LEVEL", "error")
        try:
            ray.init(address=address, log_to_driver=False)
        except (ConnectionError, ValueError, RuntimeError) as exc:
            raise StudyError(f"--address {address}: cannot join the Ray cluster ({exc}); start one with `ray start "
                             "--head` and pass the address it prints (with RAY_AUTH_MODE=token set when the cluster "
                             "uses token authentication), or omit --address to start a private one on loopback"
                             ) from None
    else:  # the driver's modules (p2psim, editable) are on the workers' path
        ray.init(address="local", num_cpus=max(1, workers), include_dashboard=False, _node_ip_address="127.0.0.1",
                 log_to_driver=False, configure_logging=False)
    return ray, True


def _ray(func, items, workers, address, done) -> list[Any]:
    ray, started_here = ensure_ray(workers, address)
    results: list[Any] = [None] * len(items)
    pending: list = []
    try:
        remote = ray.remote(num_cpus=1, max_retries=0)(func)
        refs = [remote.remote(item) for item in items]
        index = {ref: i for i, ref in enumerate(refs)}
        pending = list(refs)
        while pending:
            finished, pending = ray.wait(pending, num_returns=1)
            for ref in finished:
                i = index[ref]
                results[i] = ray.get(ref)
                if done is not None:
                    done(i, results[i])
    except BaseException:
        for ref in pending:  # stop the tasks still queued or running at once
            ray.cancel(ref, force=True)
        raise
    finally:
        if started_here:
            ray.shutdown()
    return results
