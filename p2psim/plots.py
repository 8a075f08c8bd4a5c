"""The run report's figures (matplotlib, Agg backend, PNG). Each function writes one file."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

CLASS_COLOURS = {"low": "#d95f02", "middle": "#7570b3", "high": "#1b9e77", "community": "#999999"}


def _save(fig: plt.Figure, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110, metadata={"Software": None})
    plt.close(fig)
    return path


def community_profile(dispatch: pd.DataFrame, path: Path) -> Path:
    """Community load, PV and net grid import over time."""
    frame = dispatch.groupby("timestamp")[[
        "load_kw", "pv_kw", "grid_import_kw", "grid_export_kw", "imbalance_import_kw", "imbalance_export_kw"]].sum()
    net = frame.grid_import_kw + frame.imbalance_import_kw - frame.grid_export_kw - frame.imbalance_export_kw
    fig, ax = plt.subplots(figsize=(9, 3.4))
    ax.plot(frame.index, frame.load_kw, label="community load", color="#444444", lw=1.2)
    ax.plot(frame.index, frame.pv_kw, label="PV available", color="#e6ab02", lw=1.0)
    ax.plot(frame.index, net, label="net grid import", color="#1f78b4", lw=1.4)
    ax.axhline(0, color="black", lw=0.5)
    ax.set_ylabel("power (kW)")
    ax.legend(loc="upper right", fontsize=8, ncol=3)
    ax.set_title("Community load vs grid import")
    fig.autofmt_xdate()
    return _save(fig, path)


def battery_state(dispatch: pd.DataFrame, participants: pd.DataFrame, path: Path) -> Path:
    """State of charge of every battery over time."""
    owners = participants.loc[participants.battery_kwh > 0, "participant"].tolist()
    fig, ax = plt.subplots(figsize=(9, 3.0))
    for owner in owners:
        rows = dispatch[dispatch.participant == owner]
        ax.plot(rows.timestamp, rows.soc_kwh, label=owner, lw=1.2)
    ax.set_ylabel("stored energy (kWh)")
    ax.set_title("Battery state of charge" if owners else "Battery state of charge (no batteries)")
    if owners:
        ax.legend(fontsize=8, ncol=4)
    fig.autofmt_xdate()
    return _save(fig, path)


def bills_by_class(per: pd.DataFrame, path: Path) -> Path:
    """Each participant's bill next to its stand-alone bill, grouped by class."""
    frame = per.sort_values(["socio_class", "participant"])
    x = np.arange(len(frame))
    fig, ax = plt.subplots(figsize=(9, 3.4))
    colours = [CLASS_COLOURS.get(c, "#666666") for c in frame.socio_class]
    ax.bar(x - 0.2, frame.standalone_bill, width=0.4, color="#cccccc", label="stand-alone (grid only)")
    ax.bar(x + 0.2, frame.bill, width=0.4, color=colours, label="in the community")
    ax.set_xticks(x, frame.participant, rotation=60, fontsize=7)
    ax.set_ylabel("bill over the run")
    ax.axhline(0, color="black", lw=0.5)
    ax.legend(fontsize=8)
    ax.set_title("Bills by participant (colour = class)")
    return _save(fig, path)


def benefit_distribution(per: pd.DataFrame, path: Path) -> Path:
    """Relative saving of each participant, by class."""
    frame = per[per.socio_class != "community"]
    classes = sorted(frame.socio_class.unique())
    fig, ax = plt.subplots(figsize=(6, 3.4))
    for k, cls in enumerate(classes):
        values = 100 * frame.loc[frame.socio_class == cls, "normalised_benefit"].to_numpy()
        ax.scatter(np.full(values.size, k) + np.linspace(-0.15, 0.15, values.size), values,
                   color=CLASS_COLOURS.get(cls, "#666666"), s=28)
        if values.size:
            ax.hlines(values.mean(), k - 0.3, k + 0.3, color="black", lw=1.5)
    ax.set_xticks(range(len(classes)), classes)
    ax.axhline(0, color="black", lw=0.5)
    ax.set_ylabel("saving vs stand-alone (%)")
    ax.set_title("Benefit distribution (bar = class mean)")
    return _save(fig, path)
