"""The day's savings game on the day model, and who gets what of it.

Coalition values from the day model
(:mod:`~p2psim.energy_game.game`, :mod:`~p2psim.energy_game.aggregate`), separation oracles for the
core (:mod:`~p2psim.energy_game.separation`, :mod:`~p2psim.energy_game.inner`), the allocation
rules over a run (:mod:`~p2psim.energy_game.allocate`), exact core checks
(:mod:`~p2psim.energy_game.core_checks`, with the LP-dual bounds of :mod:`~p2psim.energy_game.bounds`),
the allocation stage (:mod:`~p2psim.energy_game.stage`), and settlement by an allocation rule inside
the day loop (:mod:`~p2psim.energy_game.settlement_rule`, its report section
:mod:`~p2psim.energy_game.settlement_report`).
The generic cooperative games live in :mod:`p2psim.game`.
"""
