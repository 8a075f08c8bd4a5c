"""The ``feedback`` coordinator: a proportional-integral controller on each class's cumulative deficit.

Not learned. After each settled day t it reads, from the coordinator observation
(:mod:`p2psim.rl.env`), each coordinated class's deficit ``e_c(t)`` in cumulative relative benefit
(the class members' mean gap to the average member, per unit of the mean |r_i|, over the days
since the episode or run began; :class:`p2psim.rl.outcomes.CumulativeOutcomes`) and the log weights in force, and sets::

    I_c(t)   = clip(I_c(t - 1) + e_c(t), -log(band) / ki, log(band) / ki)   (integral, 0 at the start)
    u_c(t)   = kp e_c(t) + ki I_c(t)
    target_c = clip(u_c - mean_k u_k, -log(band), log(band))  (geometric mean of the weights 1)
    action_c = clip(target_c - log w_c, -max_log_step, max_log_step)   (rate limit of the environment)

so a class that has gained less than the community per unit of need gets a larger EqWM weight
(a larger share of the pool's gain, and of the payments under a weighted settlement rule) until
the gap closes, and a persistent gap keeps pushing through the integral. Weights only move
relative to one another: a common factor would change nothing in EqWM but the trade-off with cost.
The band (weights within [1/band, band], default 2) and the clamped integral (anti-windup) bound
what a gap the weights cannot close (rural's PV owner gaining 11 times its need) may cost: without
them the integral drove rural's weights to the environment's bounds (0.25 and 4) at +4.5 % cost.

Worked example (kp = 4, ki = 0.5, band 2, three classes): deficits (0.10, 0, -0.10) on the first day give
u = (0.45, 0, -0.45), already centred; with ``max_log_step = 0.25`` the first action is
(0.25, 0, -0.25), i.e. weights (1.28, 1, 0.78).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

DEFAULT_GAINS = {"kp": 0.25, "ki": 0.02}
"""Gains tuned on training windows (days 100..127 and 250..277 of rural, semiurban, urban, ev_evening; see
benchmarks/results/coordinator.md): larger gains lower rural inequity further but cost more than 2 %."""


@dataclass
class FeedbackController:
    """PI controller on the class deficits of cumulative relative benefit (module docstring)."""

    classes: tuple[str, ...]
    kp: float = DEFAULT_GAINS["kp"]
    ki: float = DEFAULT_GAINS["ki"]
    max_log_step: float = 0.25
    w_min: float = 0.25
    w_max: float = 4.0
    band: float = 2.0
    path: Path | None = None
    integral: np.ndarray = field(default=None, repr=False)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        """Start with an empty integral."""
        self.classes = tuple(self.classes)
        self.reset()

    kind = "feedback"

    @property
    def env_settings(self) -> dict[str, Any]:
        """Environment settings the controller works with (bounds and the coordinated classes)."""
        return {"max_log_step": self.max_log_step, "w_min": self.w_min, "w_max": self.w_max,
                "classes": list(self.classes)}

    @property
    def overrides(self) -> list[str]:
        """No study overrides."""
        return []

    @property
    def obs_size(self) -> int:
        """Length of the observation the controller reads."""
        from p2psim.rl.env import obs_size

        return obs_size(len(self.classes))

    def reset(self) -> None:
        """Forget the integral (a new episode or run)."""
        self.integral = np.zeros(len(self.classes))

    def act(self, obs: np.ndarray) -> np.ndarray:
        """Weight change (log space, per class) after one settled day."""
        from p2psim.rl.env import obs_layout

        layout = obs_layout(len(self.classes))
        obs = np.asarray(obs, float)
        deficit, log_w = obs[layout["deficit"]], obs[layout["log_weights"]]
        limit = float(np.log(min(self.band, self.w_max, 1 / self.w_min)))
        self.integral = self.integral + deficit
        if self.ki > 0:
            self.integral = np.clip(self.integral, -limit / self.ki, limit / self.ki)
        u = self.kp * deficit + self.ki * self.integral
        target = np.clip(u - u.mean(), -limit, limit)
        return np.clip(target - log_w, -self.max_log_step, self.max_log_step).astype(np.float32)

    def describe(self) -> str:
        """One line naming the controller and its gains."""
        return (f"feedback coordinator (PI on class deficits of cumulative relative benefit, kp={self.kp:g}, "
                f"ki={self.ki:g}, weights within [1/{self.band:g}, {self.band:g}]; classes {', '.join(self.classes)})")

    def to_json(self) -> dict[str, Any]:
        """The ``policy.json`` of a feedback policy directory."""
        return {"kind": "feedback", "classes": list(self.classes), "kp": self.kp, "ki": self.ki,
                "max_log_step": self.max_log_step, "w_min": self.w_min, "w_max": self.w_max, "band": self.band}

    @classmethod
    def from_json(cls, meta: dict[str, Any], path: Path | None = None) -> FeedbackController:
        """Build from a ``policy.json`` written by :meth:`to_json`."""
        keys = ("kp", "ki", "max_log_step", "w_min", "w_max", "band")
        return cls(tuple(meta["classes"]), **{k: float(meta[k]) for k in keys if k in meta}, path=path)


__all__ = ["DEFAULT_GAINS", "FeedbackController"]
