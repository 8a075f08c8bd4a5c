"""Parameter sweeps: studies x settings x seeds, one row per run, resumable, local or on Ray.

``python -m p2psim sweep STUDY.py [STUDY.py ...] --set a.b=v1,v2 [--set c=w1,w2] --seeds 0,1,2
--backend local|ray [--workers N] [--address ADDR] --out DIR``

- The grid is the cartesian product of the studies, of every ``--set`` value list (in the order
  given) and of the seeds. Values are split on top-level commas, so tuples and quoted strings
  keep theirs: ``--set "class_weights=(('low', 2.0),),(('low', 1.0),)"``.
- Each run writes one row (study, settings, seed, market, every summary metric, a few derived
  equity figures, timings) to ``DIR/rows/<key>.json`` atomically as soon as it finishes, where
  ``key`` is a stable hash of (SHA-256 of the study file's bytes, p2psim version, settings, seed).
  A rerun skips every run whose row file exists, so an interrupted sweep resumes where it stopped;
  an edited study file (or another p2psim version) gives new keys, so its runs run again. Files a
  study reads besides its own (another study it loads, data) are not part of the key. Failed runs
  leave no row file and are retried.
- All rows of the requested grid are gathered into ``DIR/sweep.parquet`` (grid order). ``DIR`` is
  new, empty or an earlier sweep's (:func:`p2psim.outputs.staging.owned_directory`), locked while the sweep runs.
- Every study and settings combination is checked before any run (bad input exits 2 at once).
- One run is one task, submitted longest first (estimated by days x participants x intervals).
  Ctrl-C or SIGTERM stops the workers at once; every finished row stays.
- ``--backend local`` runs a process pool (``forkserver`` context where available, else
  ``spawn``); ``--backend ray`` submits the same worker function to a Ray cluster: a local one on
  loopback when no ``--address`` is given, an existing one otherwise. Rows are identical across
  backends apart from the timing columns (``time_*``, ``solve_time_s``: see
  :func:`deterministic_columns`), because every run depends on its seed only.
- ``--set coordinator_policy=DIR|NAME|None`` switches the trained equity coordinator on or off
  (the runner applies the study's ``coordinator_policy``; the row's ``coordinator`` column says
  which one ran).

Exit status: 0 every run finished; 2 bad input (unknown ``--set`` field, malformed value list, a
value a study field does not take, unknown backend, Ray missing); 3 at least one run failed (the
table still lists it, with its error); 130/143 interrupted (the finished rows are kept).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import re
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from p2psim.config.checks import checked_study, seed_problem
from p2psim.config.study import Study, run_study_file, study_of
from p2psim.energy_game.settlement_rule import study_size_problem
from p2psim.errors import P2PSimError, StudyError, UnknownNameError
from p2psim.outputs import p2psim_version, write_atomic, write_text_atomic
from p2psim.outputs.staging import owned_directory
from p2psim.parallel import BACKENDS, check_backend

ROW_VERSION = 3
"""Bumped when the row layout changes (part of the row file, not of the key). 3: study_sha256, p2psim_version."""
TIMING_PREFIX = "time_"
"""Row columns of wall-clock timings start with this prefix."""
TIMING_COLUMNS = ("solve_time_s",)
"""Summary metrics that are timings too; with the ``time_*`` columns, all that differs between repeats."""


def deterministic_columns(columns: Iterable[str]) -> list[str]:
    """The columns that repeat exactly for the same (study, settings, seed): all but the timings."""
    return [c for c in columns if not c.startswith(TIMING_PREFIX) and c not in TIMING_COLUMNS]


class SweepError(P2PSimError):
    """A sweep request is malformed or its backend is unavailable (exit status 2)."""


# ----------------------------------------------------------------------------------------------
# the grid
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunSpec:
    """One run of a sweep: a study file, its overrides (in order) and a seed."""

    study_path: str
    """Resolved absolute path of the study file."""
    settings: tuple[tuple[str, str], ...]
    """``(dotted.field, value text)`` pairs applied with :func:`p2psim.config.study.apply_overrides`."""
    seed: int
    study_sha256: str = ""
    """SHA-256 of the study file's bytes when the grid was built (:func:`build_grid`)."""

    @property
    def key(self) -> str:
        """Stable hash of (study content, p2psim version, settings, seed): the row file's name."""
        text = json.dumps({"study_sha256": self.study_sha256, "p2psim": p2psim_version(),
                           "settings": [list(s) for s in self.settings], "seed": self.seed},
                          sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:20]

    @property
    def overrides(self) -> list[str]:
        """The settings as ``--set`` strings."""
        return [f"{name}={value}" for name, value in self.settings]


def split_values(text: str, dotted: str = "") -> list[str]:
    """Split ``v1,v2,...`` on top-level commas (not inside brackets or quotes); reject empty items."""
    items: list[str] = []
    depth = 0
    quote = ""
    current: list[str] = []
    for char in text:
        if quote:
            current.append(char)
            if char == quote:
                quote = ""
            continue
        if char in "'\"":
            quote = char
        elif char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
            if depth < 0:
                raise SweepError(f"--set {dotted}={text!r}: unbalanced {char!r}; quote values that contain brackets")
        elif char == "," and depth == 0:
            items.append("".join(current).strip())
            current = []
            continue
        current.append(char)
    if quote or depth:
        raise SweepError(f"--set {dotted}={text!r}: unclosed {'quote' if quote else 'bracket'} in the value list")
    items.append("".join(current).strip())
    if any(not item for item in items):
        raise SweepError(
            f"--set {dotted}={text!r}: the value list has an empty item; write values separated by "
            "commas, e.g. --set tariffs.p2p_fee_per_kwh=0.01,0.03"
        )
    return items


def parse_set(items: Sequence[str]) -> list[tuple[str, list[str]]]:
    """Parse ``--set dotted.field=v1,v2`` options into (field, values) pairs (field order kept)."""
    out: list[tuple[str, list[str]]] = []
    seen: set[str] = set()
    for item in items:
        if "=" not in item:
            raise SweepError(f"--set {item!r}: expected dotted.field=v1,v2,..., e.g. --set days=1,2")
        dotted, text = (part.strip() for part in item.split("=", 1))
        if not dotted or any(not part.isidentifier() for part in dotted.split(".")):
            raise SweepError(f"--set {item!r}: {dotted!r} is not a dotted field name such as tariffs.p2p_fee_per_kwh")
        if dotted == "seed":
            raise SweepError("--set seed=...: give seeds with --seeds, e.g. --seeds 0,1,2")
        if dotted in seen:
            raise SweepError(f"--set {dotted}: given twice; put all its values in one list, e.g. --set {dotted}=a,b")
        seen.add(dotted)
        out.append((dotted, split_values(text, dotted)))
    return out


def parse_seeds(text: str) -> list[int]:
    """Parse ``0,1,2`` (or ``0-4`` ranges) into distinct seeds in the order given."""
    seeds: list[int] = []
    for item in split_values(text, "--seeds"):
        span = re.fullmatch(r"(\d+)\s*-\s*(\d+)", item)
        if span and int(span[1]) <= int(span[2]):
            seeds.extend(range(int(span[1]), int(span[2]) + 1))
            continue
        try:
            seeds.append(int(item))
        except ValueError:
            raise SweepError(
                f"--seeds {text!r}: {item!r} is not a seed; write integers like 0,1,2 or a range 0-4"
            ) from None
    bad = [p for p in (seed_problem(seed, "seed") for seed in seeds) if p]
    if bad:
        raise SweepError(f"--seeds {text!r}: {bad[0]}")
    return list(dict.fromkeys(seeds))


def build_grid(studies: Iterable[str | Path], settings: Sequence[tuple[str, list[str]]],
               seeds: Sequence[int]) -> list[RunSpec]:
    """Every (study, settings combination, seed), in a stable order."""
    names = [name for name, _ in settings]
    combos = list(itertools.product(*[values for _, values in settings])) if settings else [()]
    grid = []
    for path in studies:
        resolved = str(Path(path).resolve())
        digest = study_digest(resolved)
        for combo in combos:
            for seed in seeds:
                grid.append(RunSpec(resolved, tuple(zip(names, combo, strict=True)), int(seed), digest))
    return grid


def study_digest(path: str | Path) -> str:
    """SHA-256 of a study file's bytes (StudyError naming the file when it cannot be read)."""
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError as exc:
        raise StudyError(f"study file {str(path)!r} cannot be read ({exc.strerror}); pass a path such as "
                         "studies/rural.py") from None


# ----------------------------------------------------------------------------------------------
# one run (executed in worker processes; must stay importable and picklable)
# ----------------------------------------------------------------------------------------------

_NAMESPACES: dict[tuple[str, str], dict[str, Any]] = {}
"""Per-process cache of executed study files, keyed by (path, SHA-256 of the bytes)."""


def _namespace(path: str, digest: str = "") -> dict[str, Any]:
    """Execute a study file once per process; with ``digest``, refuse a file edited since the grid was built."""
    now = study_digest(path)
    if digest and now != digest:
        raise StudyError(f"study file {path!r} changed while the sweep was running; run the sweep again")
    if (path, now) not in _NAMESPACES:
        namespace = run_study_file(path)
        study_of(namespace, path)
        _NAMESPACES[(path, now)] = namespace
    return _NAMESPACES[(path, now)]


def prepare_study(spec: RunSpec) -> Study:
    """The study of one run: the file's STUDY, the overrides, the seed and the resolved market name."""
    return checked_study(_namespace(spec.study_path, spec.study_sha256)["STUDY"], spec.overrides, seed=spec.seed)


def run_row(result) -> dict[str, Any]:
    """Row figures of a finished :class:`~p2psim.runner.RunResult` beyond its summary.

    The summary already holds the equity trajectory (``gini_<quantity>_<daily|cumulative>_<first|last|
    slope_per_day|...>``, :func:`p2psim.metrics.equity.trajectory_summary`). ``worst_class`` /
    ``worst_class_saving_pct``: the class with the lowest relative saving (group total: its members'
    benefit / their need). ``saving_pct.<class>``: each class's relative saving; ``energy_burden_pct.<class>``:
    its energy burden (group total of what its members pay, annualised, over their income);
    ``settlement_rule``: what members were paid by; under ``equitable_core`` also
    ``settled_cost_of_stability`` (:func:`p2psim.energy_game.settlement_rule.settled_stability`).
    """
    import numpy as np

    from p2psim.energy_game.settlement_rule import settled_stability

    row: dict[str, Any] = {}
    classes = result.per_class.set_index("socio_class")
    per_class = classes.relative_saving_pct
    for name, value in per_class.items():
        row[f"saving_pct.{name}"] = float(value)
        row[f"energy_burden_pct.{name}"] = float(classes.energy_burden_pct[name])
    row["settlement_rule"] = result.study.settlement_rule
    row.update(settled_stability(result))
    if len(per_class):
        row["worst_class"] = str(per_class.idxmin())
        row["worst_class_saving_pct"] = float(per_class.min())
    else:
        row["worst_class"], row["worst_class_saving_pct"] = "", float("nan")
    times = [float(r.get("solve_time_s", 0.0)) for r in result.solver_records]
    row[f"{TIMING_PREFIX}solve_max_s"] = max(times) if times else 0.0
    row["solver_calls"] = len(times)
    row["n_participants"] = len(result.scenario.participants)
    row["pv_peak_kw_total"] = float(np.sum(result.participants.pv_peak_kw))
    return row


def run_task(spec: RunSpec) -> dict[str, Any]:
    """One run in a worker of either backend, with one BLAS/OpenMP thread (the workers already use the cores)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        return run_one(spec)


def run_one(spec: RunSpec) -> dict[str, Any]:
    """Run one grid point and return its row (never raises: failures become an error row)."""
    started, cpu = time.perf_counter(), time.process_time()
    row: dict[str, Any] = {
        "key": spec.key, "study_path": spec.study_path, "study_sha256": spec.study_sha256,
        "settings": json.dumps(dict(spec.settings)), "seed": spec.seed, "p2psim_version": p2psim_version(),
    }
    for name, value in spec.settings:
        row[f"set.{name}"] = value
    try:
        from p2psim.runner import run

        study = prepare_study(spec)
        row.update({"study": study.name, "market": study.market, "days": study.days,
                    "coordinator": study.coordinator_policy or ""})
        row[f"{TIMING_PREFIX}prepare_s"] = time.perf_counter() - started
        result = run(study)  # the runner adds the study's coordinator (coordinator_policy), if any
        row.update({k: float(v) for k, v in result.summary.items()})
        row.update(run_row(result))
        row.update({f"{TIMING_PREFIX}{k}": float(v) for k, v in result.timings_s.items()})
        row["status"], row["error"] = "ok", ""
    except Exception as exc:  # a failed run must not stop the sweep; it is reported and retried
        row["status"], row["error"] = "error", f"{type(exc).__name__}: {exc}"
        row.setdefault("study", Path(spec.study_path).stem)
    row[f"{TIMING_PREFIX}worker_s"] = time.perf_counter() - started
    row[f"{TIMING_PREFIX}cpu_s"] = time.process_time() - cpu  # < worker_s when the CPU is shared
    row["row_version"] = ROW_VERSION
    return row


# ----------------------------------------------------------------------------------------------
# storage
# ----------------------------------------------------------------------------------------------


def row_path(out: Path, spec: RunSpec) -> Path:
    """Where the row of ``spec`` lives."""
    return out / "rows" / f"{spec.key}.json"


def write_row(out: Path, row: dict[str, Any]) -> Path:
    """Write one row file atomically (temporary sibling, then ``os.replace``)."""
    return write_text_atomic(out / "rows" / f"{row['key']}.json", json.dumps(row, indent=1, sort_keys=True))


def read_row(path: Path) -> dict[str, Any] | None:
    """A finished row, or None when the file is missing, unreadable or from an older layout."""
    try:
        row = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return row if row.get("row_version") == ROW_VERSION and row.get("status") == "ok" else None


def write_table(out: Path, rows: list[dict[str, Any]]) -> Path:
    """Gather rows into ``out/sweep.parquet`` atomically."""
    import pandas as pd

    frame = pd.DataFrame(rows)
    first = ("study", "settings", "seed", "market", "coordinator", "days", "status", "error")
    last = ("key", "study_path", "row_version")
    front = [c for c in first if c in frame.columns]
    back = [c for c in last if c in frame.columns]
    middle = [c for c in frame.columns if c not in front and c not in back]
    order = (sorted(c for c in middle if c.startswith("set."))
             + sorted(c for c in middle if not c.startswith(("set.", TIMING_PREFIX)))
             + sorted(c for c in middle if c.startswith(TIMING_PREFIX)))
    frame = frame[front + order + back]
    for column in frame.columns:  # mixed None/str setting columns -> str, so Parquet gets one type
        if frame[column].dtype == object:
            frame[column] = frame[column].map(lambda v: v if v is None or isinstance(v, str) else str(v))
    target = out / "sweep.parquet"
    write_atomic(target, lambda temp: frame.to_parquet(temp, index=False))
    return target


# ----------------------------------------------------------------------------------------------
# backends
# ----------------------------------------------------------------------------------------------


def run_backend(specs: Sequence[RunSpec], backend: str, workers: int, address: str | None,
                done: Callable[[dict[str, Any]], None]) -> None:
    """Run ``specs`` through the fan-out backend (:func:`p2psim.parallel.fan_out`); ``done(row)`` as each finishes.

    Local runs always get a process pool (a run's failure or interrupt never takes this process with it);
    interrupted (Ctrl-C, SIGTERM) or failing, the workers are stopped at once and the rows already passed
    to ``done`` are kept by it.
    """
    from p2psim.parallel import fan_out

    fan_out(run_task, specs, backend=backend, workers=workers, address=address, pool=True,
            done=lambda _, row: done(row))


# ----------------------------------------------------------------------------------------------
# the command
# ----------------------------------------------------------------------------------------------


def validate_grid(grid: Sequence[RunSpec]) -> dict[str, float]:
    """Load every study and check every settings combination once, so bad input fails before any run.

    Returns a cost estimate per run key (days x participants x intervals per day), used to run long
    runs first.
    """
    estimates: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    cost: dict[str, float] = {}
    for spec in grid:
        where = (spec.study_path, spec.settings)
        if where not in estimates:
            study = prepare_study(spec)
            problem = study_size_problem(study)  # a rule beyond its size limit, before any run
            if problem:
                raise StudyError(f"{Path(spec.study_path).name} with {', '.join(spec.overrides)}: {problem}")
            estimates[where] = study.days * _size(study) * 1440 / study.interval_minutes
        cost[spec.key] = estimates[where]
    return cost


def _size(study: Study) -> int:
    """Number of participants of a study (SimBench grids are read from the disk cache)."""
    community = study.community
    if hasattr(community, "participants"):
        return len(community.participants)
    try:
        from p2psim.world.simbench import load_simbench_grid

        loads = len(load_simbench_grid(community.grid_code).load_names)
    except Exception:  # an estimate only; a bad grid code fails in the run with its own message
        return 1
    return min(loads, community.max_participants or loads)


def _legacy_sweep(path: Path) -> bool:
    """A sweep directory written before output markers existed (its rows have old keys and run again)."""
    return set(os.listdir(path)) <= {"rows", "sweep.parquet"}


def sweep(studies: Sequence[str | Path], settings: Sequence[tuple[str, list[str]]], seeds: Sequence[int], *,
          out: str | Path, backend: str = "local", workers: int = 1, address: str | None = None,
          progress: bool = True) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Run the grid (skipping finished runs) and write ``out/sweep.parquet``.

    Returns (rows in grid order, stats) where stats holds ``total``, ``skipped``, ``ran``,
    ``failed`` and ``wall_s`` (time spent running the missing runs). Interrupted, every finished row
    is kept and the exception notes how many.
    """
    if backend not in BACKENDS:
        raise UnknownNameError(f"no sweep backend named {backend!r}; known: {list(BACKENDS)}")
    if workers < 1:
        raise SweepError(f"--workers {workers}: need at least one worker")
    if not seeds:
        raise SweepError("--seeds: give at least one seed, e.g. --seeds 0,1")
    check_backend(backend, workers, address)
    grid = build_grid(studies, settings, seeds)
    cost = validate_grid(grid)
    with owned_directory(out, "sweep", inputs=studies, legacy=_legacy_sweep) as owned:
        out = owned.path
        rows: dict[str, dict[str, Any]] = {}
        for spec in grid:
            row = read_row(row_path(out, spec))
            if row is not None:
                rows[spec.key] = row
        todo = sorted({spec.key: spec for spec in grid if spec.key not in rows}.values(),
                      key=lambda spec: -cost.get(spec.key, 1.0))
        stats = {"total": len(grid), "skipped": len(grid) - len(todo), "ran": len(todo), "failed": 0,
                 "wall_s": 0.0, "written": 0}
        owned.worth_keeping = lambda: bool(rows)
        _run_missing(todo, rows, stats, out, backend, workers, address, progress)
        ordered = [rows[spec.key] for spec in grid]
        write_table(out, ordered)
    return ordered, stats


def _run_missing(todo: list[RunSpec], rows: dict[str, dict[str, Any]], stats: dict[str, Any], out: Path,
                 backend: str, workers: int, address: str | None, progress: bool) -> None:
    from tqdm import tqdm

    bar = tqdm(total=stats["total"], initial=stats["skipped"], desc="sweep", unit="run", file=sys.stderr,
               disable=not progress, dynamic_ncols=True)

    def done(row: dict[str, Any]) -> None:
        if row["status"] == "ok":
            write_row(out, row)
            stats["written"] += 1
        else:
            stats["failed"] += 1
            tqdm.write(f"p2psim sweep: run {row['key']} ({row['study']}, seed {row['seed']}, "
                       f"{row['settings']}) failed: {row['error']}", file=sys.stderr)
        rows[row["key"]] = row
        bar.update(1)

    tick = time.perf_counter()
    try:
        if todo:
            run_backend(todo, backend, min(workers, len(todo)), address, done)
    except KeyboardInterrupt as exc:
        kept = stats["skipped"] + stats["written"]
        exc.add_note(f"{stats['written']} run(s) finished now and {kept} of the grid's {stats['total']} are kept in "
                     f"{out / 'rows'}; sweep.parquet not updated; run the same command again to do the other "
                     f"{stats['total'] - kept}")
        raise
    finally:
        bar.close()
        stats["wall_s"] = time.perf_counter() - tick


__all__ = [
    "BACKENDS",
    "RunSpec",
    "SweepError",
    "build_grid",
    "deterministic_columns",
    "parse_seeds",
    "parse_set",
    "prepare_study",
    "run_one",
    "run_row",
    "run_task",
    "split_values",
    "sweep",
]
