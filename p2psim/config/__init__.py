"""The recipe, pure data: what a study asks for.

:class:`~p2psim.config.study.Study` and its communities, tariffs and options, the study file
reader and ``--set`` overrides (:mod:`~p2psim.config.study`), the field checks and THE study
loader every command uses (:func:`~p2psim.config.checks.checked_study`: file, overrides, seed,
days, market, every field checked). Nothing here builds a community or runs anything.
"""
