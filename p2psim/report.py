"""The run report: ``report.md`` (with PNG files) and a self-contained ``report.html``.

The Markdown report holds only numbers that a rerun with the same seed reproduces (no timings), so
the tiny study's report is a golden file. The HTML embeds its images and reads without a server.
Later stages add sections through ``RunResult.extras["report_sections"]``: a list of
(title, markdown, [png paths]).
"""

from __future__ import annotations

import base64
import html
from pathlib import Path

import pandas as pd

from p2psim import plots

SUMMARY_ROWS = (
    ("peak_reduction_pct", "Peak reduction vs raw load (%)"),
    ("peak_reduction_vs_standalone_pct", "Peak reduction vs stand-alone (%)"),
    ("cooperative_gain", "Cooperative gain (currency)"),
    ("total_cost", "Community total cost (currency)"),
    ("standalone_total_cost", "Stand-alone total cost (currency)"),
    ("self_sufficiency_pct", "Self-sufficiency (%)"),
    ("solar_utilisation_pct", "Solar utilisation (%)"),
    ("gini_benefit", "Gini of normalised benefit"),
    ("jain_benefit", "Jain index of normalised benefit"),
    ("min_relative_saving_pct", "Worst-off relative saving (%)"),
    ("losers_pct", "Participants worse off than alone (%)"),
    ("pool_energy_kwh", "Energy traded in the pool (kWh)"),
)


def _table(frame: pd.DataFrame, digits: int = 2) -> str:
    cols = list(frame.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for row in frame.itertuples(index=False):
        cells = [f"{v:.{digits}f}" if isinstance(v, float) else str(v) for v in row]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _markdown(result, figures: list[tuple[str, str]]) -> str:
    s = result.summary
    study = result.study
    solvers = sorted({r.get("backend", "") for r in result.solver_records} - {""}) or ["none (rule-based)"]
    out = [
        f"# p2psim report: {study.name}",
        "",
        f"Market `{study.market}`, seed {study.seed}, {result.scenario.days} day(s) from {result.scenario.start}, "
        f"{len(result.scenario.participants)} participants, {result.scenario.interval_minutes}-minute intervals.",
        f"Data: {result.scenario.source}. Solvers: {', '.join(solvers)}.",
        "",
        "## Summary",
        "",
        "| metric | value |",
        "|---|---|",
        *[f"| {label} | {s[key]:.2f} |" for key, label in SUMMARY_ROWS if key in s],
        "",
        "## By class",
        "",
        _table(result.per_class),
        "",
        "## By participant",
        "",
        _table(result.participants[["participant", "kind", "socio_class", "pv_peak_kw", "battery_kwh", "bill",
                                    "standalone_bill", "benefit", "normalised_benefit"]]),
        "",
        "## Figures",
        "",
        *[f"![{title}]({name})" for title, name in figures],
        "",
    ]
    for title, text, images in result.extras.get("report_sections", []):
        out += [f"## {title}", "", text, "", *[f"![{title}]({Path(p).name})" for p in images], ""]
    return "\n".join(out)


def _inline_images(markdown: str, directory: Path) -> str:
    """A minimal Markdown-to-HTML conversion for our own report (headings, tables, images, text)."""
    body, table = [], []

    def flush_table() -> None:
        if table:
            rows = [r.strip("|").split("|") for r in table if not set(r) <= set("|-")]
            head, *rest = rows
            body.append("<table><thead><tr>" + "".join(f"<th>{html.escape(c.strip())}</th>" for c in head)
                        + "</tr></thead><tbody>" + "".join(
                            "<tr>" + "".join(f"<td>{html.escape(c.strip())}</td>" for c in r) + "</tr>" for r in rest)
                        + "</tbody></table>")
            table.clear()

    for line in markdown.splitlines():
        if line.startswith("|"):
            table.append(line)
            continue
        flush_table()
        if line.startswith("#"):
            level = len(line) - len(line.lstrip("#"))
            text = html.escape(line.lstrip("#").strip())
            anchor = text.lower().replace(" ", "-").replace(":", "")
            body.append(f'<h{level} id="{anchor}">{text}</h{level}>')
        elif line.startswith("!["):
            title, name = line[2:].split("](")
            data = base64.b64encode((directory / name.rstrip(")")).read_bytes()).decode()
            body.append(f'<figure><img alt="{html.escape(title)}" src="data:image/png;base64,{data}">'
                        f"<figcaption>{html.escape(title)}</figcaption></figure>")
        elif line.strip():
            body.append(f"<p>{html.escape(line).replace('`', '')}</p>")
    flush_table()
    style = ("body{font-family:system-ui,sans-serif;max-width:980px;margin:2em auto;color:#222}"
             "table{border-collapse:collapse;margin:1em 0;font-size:13px}td,th{border:1px solid #ccc;"
             "padding:3px 8px;text-align:right}th{background:#f3f3f3}img{max-width:100%}"
             "figcaption{font-size:12px;color:#666}")
    return ("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>p2psim report</title>"
            f"<style>{style}</style></head><body>" + "\n".join(body) + "</body></html>")


def write_report(result, directory: Path) -> None:
    """Write the figures, ``report.md`` and ``report.html`` into ``directory``."""
    figures = [
        ("Community load vs grid import", plots.community_profile(result.dispatch, directory / "profile.png").name),
        ("Battery state of charge",
         plots.battery_state(result.dispatch, result.participants, directory / "battery.png").name),
        ("Bills by class", plots.bills_by_class(result.participants, directory / "bills_by_class.png").name),
        ("Benefit distribution", plots.benefit_distribution(result.participants, directory / "benefits.png").name),
    ]
    markdown = _markdown(result, figures)
    (directory / "report.md").write_text(markdown)
    (directory / "report.html").write_text(_inline_images(markdown, directory))
