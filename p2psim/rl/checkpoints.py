"""Training checkpoints: written whole, found intact, and the learning curve kept in step with them.

Layout under a training directory (see :mod:`p2psim.rl.train`)::

    checkpoints/step_000001024/{model.zip, vecnormalize.pkl, checkpoint.json, rng.pkl}
    checkpoints/latest.json       name of the newest complete checkpoint

A checkpoint directory is written into a hidden sibling and renamed into place, so it is complete
or absent; the newest :data:`KEEP_CHECKPOINTS` are kept. A file damaged afterwards (a full disk, a
copy cut short) is found by :func:`checkpoint_damage`; :func:`intact_checkpoint` then falls back to
the newest intact checkpoint and says which one it skipped and why.
"""

from __future__ import annotations

import csv
import io
import json
import os
import pickle
import random
import shutil
import time
import zipfile
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from p2psim.errors import P2PSimError
from p2psim.outputs import versions, write_text_atomic
from p2psim.outputs.interrupts import deferred_signals

CHECKPOINT_FILES = ("model.zip", "vecnormalize.pkl", "checkpoint.json")
FORMAT_VERSION = 1
KEEP_CHECKPOINTS = 3


class CheckpointError(P2PSimError, ValueError):
    """A checkpoint or policy directory is missing, incomplete or incompatible."""


def write_directory_atomic(target: Path, fill: Callable[[Path], None]) -> None:
    """Call ``fill(staging)`` on a hidden sibling of ``target``, then swap it into place."""
    staging = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    try:
        staging.mkdir(parents=True)
        fill(staging)
        with deferred_signals():
            if target.exists():
                shutil.rmtree(target)
            staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def checkpoint_meta(study_path: str, config, seed: int, step: int) -> dict[str, Any]:
    """checkpoint.json / policy.json: format, step, seed, study, config (a dataclass) and versions."""
    return {"format": FORMAT_VERSION, "kind": "p2psim-coordinator", "step": int(step), "seed": int(seed),
            "study_path": str(study_path), "config": asdict(config), "versions": versions(),
            "saved_at": time.strftime("%Y-%m-%dT%H:%M:%S")}


def save_checkpoint(model, venv, out_dir: Path, study_path: str, config, seed: int) -> Path:
    """Write a complete checkpoint of ``model`` and the normalisation stats; return its directory."""
    import torch

    step = int(model.num_timesteps)
    root = Path(out_dir) / "checkpoints"
    target = root / f"step_{step:09d}"

    def fill(d: Path) -> None:
        model.save(d / "model.zip")
        venv.save(str(d / "vecnormalize.pkl"))
        with open(d / "rng.pkl", "wb") as f:
            # SB3 draws from numpy's global RNG, so resuming must restore that state too
            numpy_state = np.random.get_state()  # noqa: NPY002
            pickle.dump({"python": random.getstate(), "numpy": numpy_state, "torch": torch.get_rng_state()}, f)
        (d / "checkpoint.json").write_text(json.dumps(checkpoint_meta(study_path, config, seed, step), indent=2))

    write_directory_atomic(target, fill)
    for old in sorted(root.glob("step_*"))[:-KEEP_CHECKPOINTS]:
        shutil.rmtree(old, ignore_errors=True)
    write_text_atomic(root / "latest.json", json.dumps({"checkpoint": target.name, "step": step}))
    return target


def read_checkpoint_meta(path: Path) -> dict[str, Any]:
    """Read and check checkpoint.json / policy.json (format and kind)."""
    try:
        meta = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"cannot read {str(path)!r}: {exc}") from None
    if not isinstance(meta, dict) or meta.get("kind") != "p2psim-coordinator" or meta.get("format") != FORMAT_VERSION:
        got = meta if not isinstance(meta, dict) else {k: meta.get(k) for k in ("kind", "format")}
        raise CheckpointError(f"{str(path)!r} is not a p2psim coordinator checkpoint of format {FORMAT_VERSION} "
                              f"({got})")
    return meta


def checkpoint_damage(checkpoint: Path) -> str | None:
    """What is wrong with a checkpoint directory (a missing, truncated or unreadable file), or None."""
    missing = [f for f in CHECKPOINT_FILES if not (checkpoint / f).is_file()]
    if missing:
        return f"missing {', '.join(missing)}"
    try:
        read_checkpoint_meta(checkpoint / "checkpoint.json")
        with zipfile.ZipFile(checkpoint / "model.zip") as archive:
            bad = archive.testzip()
        if bad:
            return f"model.zip: member {bad} is corrupt"
    except CheckpointError as exc:
        return str(exc)
    except (OSError, zipfile.BadZipFile) as exc:
        return f"model.zip: {exc}"
    for name in ("vecnormalize.pkl", "rng.pkl"):
        path = checkpoint / name
        if name == "vecnormalize.pkl" or path.exists():
            try:
                with open(path, "rb") as f:
                    pickle.load(f)  # the user's own checkpoint, as resuming would load it anyway
            except Exception as exc:  # any unpickling error means a damaged file
                return f"{name}: {type(exc).__name__}: {exc}"
    return None


def intact_checkpoint(out_dir: str | Path) -> tuple[Path, list[str]]:
    """The newest intact checkpoint and the notes on newer ones skipped as damaged (CheckpointError if none)."""
    root = Path(out_dir) / "checkpoints"
    pointer = root / "latest.json"
    candidates = sorted(root.glob("step_*"), reverse=True) if root.is_dir() else []
    try:
        latest = root / json.loads(pointer.read_text())["checkpoint"]
        candidates = [latest, *(c for c in candidates if c != latest)]
    except (OSError, ValueError, KeyError, TypeError):
        pass
    if not candidates:
        raise CheckpointError(f"no checkpoint to resume in {str(out_dir)!r}: expected {str(pointer)!r} written by "
                              "`p2psim train ... --out DIR`; start a new run without --resume")
    notes = []
    for candidate in candidates:
        damage = checkpoint_damage(candidate)
        if damage is None:
            return candidate, notes
        notes.append(f"checkpoint {str(candidate)!r} is damaged ({damage})")
    raise CheckpointError("no intact checkpoint to resume: " + "; ".join(notes) + "; start a new run without --resume")


def latest_checkpoint(out_dir: str | Path) -> Path:
    """The newest intact checkpoint under ``out_dir/checkpoints`` (CheckpointError if none)."""
    return intact_checkpoint(out_dir)[0]


def trim_learning_curve(out_dir: Path, step: int) -> int:
    """Drop learning-curve rows after ``step`` (episodes a resume from ``step`` trains again); return how many."""
    path = Path(out_dir) / "learning_curve.csv"
    if not path.exists():
        return 0
    rows = list(csv.reader(io.StringIO(path.read_text())))
    if not rows:
        return 0
    header, body = rows[0], rows[1:]
    kept = [r for r in body if r and float(r[0]) <= step]
    if len(kept) < len(body):
        text = io.StringIO()
        csv.writer(text).writerows([header, *kept])
        write_text_atomic(path, text.getvalue())
    return len(body) - len(kept)


__all__ = ["CHECKPOINT_FILES", "CheckpointError", "intact_checkpoint", "latest_checkpoint", "read_checkpoint_meta",
           "save_checkpoint", "trim_learning_curve", "write_directory_atomic"]
