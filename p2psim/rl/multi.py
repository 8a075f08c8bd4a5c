"""One coordinator for every study: a Gymnasium view that draws the study of each episode.

:class:`MultiStudyGymEnv` holds one :class:`~p2psim.rl.env.EquityEnv` per study, all coordinating
the same classes (``low, middle, high``), so their observation and action spaces are identical
(per-class blocks; nothing depends on the number of members). Each ``reset`` draws the study
uniformly from the environment's seeded ``np_random``; the study's environment then draws the
season (start day, outside the held-out weeks for ``split="train"``), the forecast errors and,
the community itself (``random_community``: the study seed of each episode drawn from [0, 1000),
for SimBench and derived communities; an explicit list of participants stays as given).

``python -m p2psim train studies/rural.py,studies/urban.py,...`` trains on several studies.
"""

from __future__ import annotations

from typing import Any

import gymnasium

from p2psim.errors import StudyError
from p2psim.rl.env import COORDINATOR, EquityEnv

COMMUNITY_SEEDS = 1000


def study_paths(spec: str) -> list[str]:
    """Comma-separated study paths (one path is a list of one)."""
    paths = [p.strip() for p in str(spec).split(",") if p.strip()]
    if not paths:
        raise StudyError(f"no study in {spec!r}")
    return paths


class MultiStudyGymEnv(gymnasium.Env):
    """Single-agent coordinator view over several studies (module docstring)."""

    metadata = {"render_modes": []}  # noqa: RUF012 (Gymnasium API attribute)

    def __init__(self, envs: list[EquityEnv], *, random_community: bool = True) -> None:
        """Wrap ``envs`` (one per study, the same coordinated classes)."""
        classes = {env.classes for env in envs}
        if len(classes) != 1:
            raise StudyError(f"studies coordinate different classes {sorted(classes)}; pass the same classes")
        self.envs = envs
        self.random_community = bool(random_community)
        self.observation_space = envs[0].observation_space(COORDINATOR)
        self.action_space = envs[0].action_space(COORDINATOR)
        self.current = envs[0]

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        """Draw a study (and its community seed), then reset its environment."""
        super().reset(seed=seed)
        self.current = self.envs[int(self.np_random.integers(len(self.envs)))]
        sub_seed = int(self.np_random.integers(2**31 - 1))
        if self.random_community and not self.current.explicit_community:
            import dataclasses

            self.current.study = dataclasses.replace(self.current.study,
                                                     seed=int(self.np_random.integers(COMMUNITY_SEEDS)))
        obs, infos = self.current.reset(seed=sub_seed, options=options)
        info = dict(infos[COORDINATOR])
        info["study"] = self.current.study.name
        return obs[COORDINATOR], info

    def step(self, action):
        """Step the current study's coordinator."""
        obs, rewards, terms, truncs, infos = self.current.step({COORDINATOR: action})
        return (obs[COORDINATOR], rewards[COORDINATOR], terms[COORDINATOR], truncs[COORDINATOR],
                infos[COORDINATOR])

    def close(self) -> None:
        """Close every study's environment."""
        for env in self.envs:
            env.close()


__all__ = ["MultiStudyGymEnv", "study_paths"]
