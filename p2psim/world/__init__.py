"""The world a study describes: what exists before anything runs.

The feeder (:mod:`~p2psim.world.feeder`), the scenario and its validation
(:mod:`~p2psim.world.scenario`), the SimBench, EV-session and heat-demand loaders (data shipped in
PyPI packages) and building a community from a recipe (:mod:`~p2psim.world.community`,
including :class:`~p2psim.world.community.DerivedStudy`).
"""
