"""The report's Devices section: what the participants' devices drew, returned and whether they met their targets.

A post-run stage (:mod:`p2psim.runner.stages`) for runs with devices beyond batteries (a battery-only run's
report keeps its battery figure and nothing else changes, so earlier reports stay as they were; its
``devices.parquet`` is written all the same). Per device kind: the number of devices,
the energy drawn and returned at the meters (kWh = sum of power x interval length), and how many
energy targets were met (energy at the end of the target's interval >= the target, within 1 Wh).
The figure shows every kind's total power over the run and the average energy held per device.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from p2psim.markets.devices import STORAGE_ONLY_KINDS

TARGET_TOLERANCE_KWH = 1e-3


def device_summary(devices: pd.DataFrame, interval_hours: float) -> pd.DataFrame:
    """One row per device kind: devices, drawn_kwh, returned_kwh, targets, targets_met."""
    frame = devices.assign(
        drawn_kwh=devices.power_kw.clip(lower=0) * interval_hours,
        returned_kwh=(-devices.power_kw).clip(lower=0) * interval_hours,
        target=devices.target_kwh.notna(),
        met=devices.target_kwh.notna() & (devices.energy_kwh >= devices.target_kwh - TARGET_TOLERANCE_KWH),
    )
    out = frame.groupby("kind").agg(devices=("device", lambda s: frame.loc[s.index, ["participant", "device"]]
                                             .drop_duplicates().shape[0]),
                                    drawn_kwh=("drawn_kwh", "sum"), returned_kwh=("returned_kwh", "sum"),
                                    targets=("target", "sum"), targets_met=("met", "sum"))
    return out.reset_index()


def plot_devices(devices: pd.DataFrame, path: Path) -> Path:
    """Total power by kind over the run (left) and the mean energy held per device (right)."""
    from p2psim.report.plots import _save, plt

    step = devices.day.astype(int) * (devices.interval.max() + 1) + devices.interval.astype(int)
    frame = devices.assign(step=step)
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.4))
    for kind, rows in frame.groupby("kind"):
        power = rows.groupby("step").power_kw.sum()
        left.plot(power.index, power.to_numpy(), label=kind, lw=1.1)
        energy = rows.groupby("step").energy_kwh.mean()
        right.plot(energy.index, energy.to_numpy(), label=kind, lw=1.1)
    left.axhline(0, color="black", lw=0.5)
    left.set_xlabel("interval of the run")
    left.set_ylabel("power at the meters (kW)")
    left.set_title("What the devices draw (+) and return (-)")
    right.set_xlabel("interval of the run")
    right.set_ylabel("energy per device (kWh)")
    right.set_title("Energy held, mean per device")
    for ax in (left, right):
        ax.legend(fontsize=8)
    return _save(fig, path)


def devices_stage(result):
    """Stage for :mod:`p2psim.runner.stages`: a report section on the devices (None for runs without devices)."""
    devices = result.devices
    if devices is None or not len(devices) or set(devices.kind) <= set(STORAGE_ONLY_KINDS):
        return None
    table = device_summary(devices, result.scenario.interval_hours)
    result.extras["device_summary"] = table

    def write(res, directory: Path) -> None:
        png = plot_devices(devices, directory / "devices.png")
        lines = ["| kind | devices | drawn (kWh) | returned (kWh) | targets met |", "|---|---|---|---|---|"]
        for row in table.itertuples():
            met = f"{int(row.targets_met)} of {int(row.targets)}" if row.targets else "no targets"
            lines.append(f"| {row.kind} | {int(row.devices)} | {row.drawn_kwh:.1f} | {row.returned_kwh:.1f} | {met} |")
        missed = int(np.sum(table.targets - table.targets_met))
        text = ("Devices the participants brought (per-interval rows in `devices.parquet`); energy at the "
                "participants' meters.\n\n" + "\n".join(lines) + "\n\n"
                + ("Every energy target was met." if not missed else f"{missed} energy target(s) were missed."))
        res.extras.setdefault("report_sections", []).append(("Devices", text, [png]))

    return write
