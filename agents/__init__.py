"""Participant types (Mesa agents). Installed as ``p2psim.agents``.

``PARTICIPANT_TYPES`` maps a scenario's participant ``kind`` to its agent class; register a new
type with :func:`register_participant`.

Modules: :mod:`~p2psim.agents.base` (:class:`Participant`: forecast, devices, bid, on_cleared; and
Household, Battery, Aggregator) and :mod:`~p2psim.agents.devices` (the device specs participants
declare: batteries, EVs, heat pumps, shiftable loads).
"""

from __future__ import annotations

from p2psim.agents.base import Aggregator, Battery, DayProfile, Household, Participant
from p2psim.agents.devices import (
    ElectricVehicle,
    HeatPump,
    ShiftableLoad,
    StorageDevice,
    battery_device,
)

PARTICIPANT_TYPES: dict[str, type[Participant]] = {
    "household": Household,
    "farm": Household,
    "commercial": Household,
    "public": Household,
    "battery": Battery,
    "aggregator": Aggregator,
}


def register_participant(kind: str, cls: type[Participant]) -> None:
    """Use ``cls`` for participants of ``kind`` in every scenario built afterwards."""
    if not (isinstance(cls, type) and issubclass(cls, Participant)):
        raise TypeError(f"register_participant({kind!r}, ...) needs a Participant subclass, got {cls!r}")
    PARTICIPANT_TYPES[kind] = cls


__all__ = [
    "PARTICIPANT_TYPES",
    "Aggregator",
    "Battery",
    "DayProfile",
    "ElectricVehicle",
    "HeatPump",
    "Household",
    "Participant",
    "ShiftableLoad",
    "StorageDevice",
    "battery_device",
    "register_participant",
]
