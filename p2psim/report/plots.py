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


def bills_by_class(per: pd.DataFrame, path: Path, currency: str = "EUR") -> Path:
    """Each participant's bill next to its stand-alone bill, grouped by class."""
    frame = per.sort_values(["socio_class", "participant"])
    x = np.arange(len(frame))
    fig, ax = plt.subplots(figsize=(9, 3.4))
    colours = [CLASS_COLOURS.get(c, "#666666") for c in frame.socio_class]
    ax.bar(x - 0.2, frame.standalone_bill, width=0.4, color="#cccccc", label="stand-alone (grid only)")
    ax.bar(x + 0.2, frame.bill, width=0.4, color=colours, label="in the community")
    ax.set_xticks(x, frame.participant, rotation=60, fontsize=7)
    ax.set_ylabel(f"bill over the run ({currency})")
    ax.axhline(0, color="black", lw=0.5)
    ax.legend(fontsize=8)
    ax.set_title("Bills by participant (colour = class)")
    return _save(fig, path)


def benefit_distribution(per: pd.DataFrame, path: Path) -> Path:
    """Relative benefit (saving / need) of each participant, by class."""
    frame = per[per.socio_class != "community"]
    classes = sorted(frame.socio_class.unique())
    fig, ax = plt.subplots(figsize=(6, 3.4))
    for k, cls in enumerate(classes):
        values = 100 * frame.loc[frame.socio_class == cls, "relative_benefit"].dropna().to_numpy()
        ax.scatter(np.full(values.size, k) + np.linspace(-0.15, 0.15, values.size), values,
                   color=CLASS_COLOURS.get(cls, "#666666"), s=28)
        if values.size:
            ax.hlines(values.mean(), k - 0.3, k + 0.3, color="black", lw=1.5)
    ax.set_xticks(range(len(classes)), classes)
    ax.axhline(0, color="black", lw=0.5)
    ax.set_ylabel("saving vs stand-alone (% of need)")
    ax.set_title("Benefit distribution (bar = class mean)")
    return _save(fig, path)


def equity_over_time(table: pd.DataFrame, path: Path) -> Path:
    """Gini of each equity quantity per day (dashed) and on outcomes accumulated to date (solid)."""
    from p2psim.metrics.equity import QUANTITIES

    colours = {"relative_benefit": "#1f78b4", "energy_burden": "#d95f02", "renewable_access": "#1b9e77"}
    fig, ax = plt.subplots(figsize=(9, 3.4))
    marker = "o" if len(table) <= 31 else None
    for quantity in QUANTITIES:
        label = quantity.replace("_", " ")
        ax.plot(table.day, table[f"gini_{quantity}_cumulative"], color=colours[quantity], lw=1.8, marker=marker,
                ms=3, label=f"{label}, cumulative to date")
        ax.plot(table.day, table[f"gini_{quantity}_daily"], color=colours[quantity], lw=0.9, ls="--",
                label=f"{label}, that day")
    ax.set_ylim(0, 1)
    ax.set_xlabel("day of the run")
    ax.set_ylabel("Gini (0 = equal)")
    ax.legend(fontsize=7, ncol=3, loc="upper center", bbox_to_anchor=(0.5, -0.22))
    ax.set_title("Equity over time: inequity of each day's and of the accumulated outcomes")
    return _save(fig, path)


# -- explanations (SHAP) ----------------------------------------------------------------------------
# Drawn here rather than with shap.plots: the same look as the other figures, no global RNG (shap's
# beeswarm shuffles with np.random), so the same run gives the same picture.


def _swarm_offsets(values: np.ndarray, width: float = 0.38, bins: int = 60) -> np.ndarray:
    """Vertical offsets that spread points sharing an x bin (deterministic beeswarm)."""
    if values.size == 0:
        return values
    span = float(np.ptp(values)) or 1.0
    bin_of = np.floor((values - values.min()) / span * (bins - 1)).astype(int)
    offsets = np.zeros(values.size)
    for b in np.unique(bin_of):
        members = np.flatnonzero(bin_of == b)
        k = np.arange(members.size)
        offsets[members] = np.where(k % 2 == 0, 1, -1) * np.ceil(k / 2)
    scale = max(np.abs(offsets).max(), 1.0)
    return offsets / scale * width


def shap_beeswarm(shap_values: np.ndarray, feature_values: pd.DataFrame, labels: list[str], path: Path,
                  title: str, max_features: int = 12) -> Path:
    """SHAP summary: one row per feature (largest mean |SHAP| on top), colour = feature value."""
    order = np.argsort(-np.abs(shap_values).mean(axis=0), kind="stable")[:max_features]
    fig, ax = plt.subplots(figsize=(8, 0.42 * len(order) + 1.4))
    cmap = plt.get_cmap("coolwarm")
    for row, j in enumerate(order[::-1]):
        x = shap_values[:, j]
        raw = feature_values.iloc[:, j].to_numpy(dtype=float)
        span = np.ptp(raw)
        colour = (raw - raw.min()) / span if span > 0 else np.full(raw.size, 0.5)
        ax.scatter(x, row + _swarm_offsets(x), c=cmap(colour), s=10, lw=0, alpha=0.85)
    ax.set_yticks(range(len(order)), [labels[j] for j in order[::-1]], fontsize=8)
    ax.axvline(0, color="#555555", lw=0.6)
    ax.set_xlabel("SHAP value (effect on the surrogate's prediction)")
    ax.set_title(title, fontsize=10)
    bar = fig.colorbar(plt.cm.ScalarMappable(cmap=cmap), ax=ax, pad=0.01, aspect=30)
    bar.set_ticks([0, 1], labels=["low", "high"])
    bar.set_label("feature value", fontsize=8)
    return _save(fig, path)


def shap_class_bars(importance: pd.DataFrame, labels: dict[str, str], path: Path, title: str,
                    max_features: int = 8) -> Path:
    """Mean |SHAP| per feature, one bar per class (rows of ``importance`` = classes)."""
    top = importance.mean(axis=0).sort_values(ascending=False, kind="stable").index[:max_features][::-1]
    fig, ax = plt.subplots(figsize=(8, 0.5 * len(top) + 1.4))
    height = 0.8 / max(len(importance), 1)
    for k, (cls, row) in enumerate(importance.iterrows()):
        ax.barh(np.arange(len(top)) + (k - (len(importance) - 1) / 2) * height, row[top].to_numpy(),
                height=height, color=CLASS_COLOURS.get(str(cls), "#666666"), label=str(cls))
    ax.set_yticks(range(len(top)), [labels.get(f, f) for f in top], fontsize=8)
    ax.set_xlabel("mean |SHAP value|")
    ax.legend(fontsize=8, title="class", title_fontsize=8)
    ax.set_title(title, fontsize=10)
    return _save(fig, path)


def shap_waterfall(contributions: pd.Series, base: float, labels: dict[str, str], path: Path, title: str,
                   max_features: int = 8) -> Path:
    """Waterfall from the base value to a prediction; small contributions lumped together."""
    order = contributions.iloc[np.argsort(-contributions.abs().to_numpy(), kind="stable")]
    shown, rest = order.iloc[:max_features], order.iloc[max_features:]
    steps = [(labels.get(f, f), float(v)) for f, v in shown.items()]
    if len(rest):
        steps.append((f"{len(rest)} other features", float(rest.sum())))
    fig, ax = plt.subplots(figsize=(8, 0.42 * len(steps) + 1.6))
    level = base
    for row, (_, value) in enumerate(steps):
        y = len(steps) - 1 - row
        ax.barh(y, value, left=level, color="#1b9e77" if value >= 0 else "#d95f02", height=0.6)
        ax.text(level + value, y, f" {value:+.2f}", va="center", ha="left" if value >= 0 else "right", fontsize=7)
        level += value
    ax.set_yticks(range(len(steps)), [s[0] for s in steps[::-1]], fontsize=8)
    ax.axvline(base, color="#777777", lw=0.8, ls="--")
    ax.axvline(level, color="#222222", lw=1.0)
    ax.set_xlabel(f"average participant-day {base:.2f} \u2192 this participant {level:.2f}")
    ax.set_title(title, fontsize=10)
    return _save(fig, path)


def importance_bars(importance: pd.DataFrame, labels: dict[str, str], path: Path, title: str) -> Path:
    """Mean |SHAP| per feature (rows) for several targets (columns), e.g. the coordinator's weights."""
    order = importance.mean(axis=1).sort_values(kind="stable").index
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(order) + 1.4))
    height = 0.8 / max(importance.shape[1], 1)
    cmap = plt.get_cmap("tab10")
    for k, column in enumerate(importance.columns):
        ax.barh(np.arange(len(order)) + (k - (importance.shape[1] - 1) / 2) * height,
                importance.loc[order, column].to_numpy(), height=height, color=cmap(k), label=str(column))
    ax.set_yticks(range(len(order)), [labels.get(f, f) for f in order], fontsize=8)
    ax.set_xlabel("mean |SHAP value|")
    ax.legend(fontsize=8)
    ax.set_title(title, fontsize=10)
    return _save(fig, path)
