"""Many runs at once.

Sweeps over studies x settings x seeds into one Parquet table
(:mod:`~p2psim.batch.sweep`) and the efficiency-equity front of EqWM (:mod:`~p2psim.batch.pareto`).
"""
