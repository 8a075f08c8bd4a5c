"""The co-simulation of one run: time, agents, clearing, delivery and settlement.

The SimPy day-ahead clock (:mod:`~p2psim.sim.clock`), the gate
that gathers forecasts, bids and devices into an order book (:mod:`~p2psim.sim.gate`), the
device fleet over the run (:mod:`~p2psim.sim.fleet`), the Mesa :class:`~p2psim.sim.model.CommunityModel`,
the ledger, settlement (bills) and the energy and money invariants the model raises
(:mod:`~p2psim.sim.invariants`).
"""
