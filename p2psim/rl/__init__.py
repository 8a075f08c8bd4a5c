"""The equity coordinator: an agent that sets each next day's class weights to reduce inequity.

:mod:`~p2psim.rl.env` (the PettingZoo environment around the day-ahead clearing, its observation,
reward and Gymnasium wrappers), :mod:`~p2psim.rl.train` (PPO training, resumable),
:mod:`~p2psim.rl.checkpoints` (atomic checkpoints and their metadata), :mod:`~p2psim.rl.policy`
(loading a trained policy and the day hook a run uses) and :mod:`~p2psim.rl.evaluate` (a policy
against fixed weights on held-out weeks). The ``train`` and ``evaluate`` commands are in
:mod:`p2psim.cli.rl`; a normal run uses a policy through :mod:`p2psim.runner.coordinator`.
"""
