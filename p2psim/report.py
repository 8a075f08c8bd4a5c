"""The run report: ``report.md`` (with PNG files) and a self-contained ``report.html``.

The Markdown report holds only numbers that a rerun with the same seed reproduces (no timings), so
the tiny study's report is a golden file. The HTML page is the product's face: one file with its
images embedded (base64), CSS, a table of contents and summary cards; it reads without a server and
adds what may differ between reruns (solve times, timings, package versions).

Later stages add sections through ``RunResult.extras["report_sections"]``: a list of
(title, markdown, [png paths]). Images the Markdown already shows (``![caption](file.png)``) are not
repeated. The sections are kept in ``report_sections.json`` so :func:`rewrite_report` can rebuild
both reports from a run directory alone (``python -m p2psim explain RUN_DIR`` does).
"""

from __future__ import annotations

import base64
import html
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from p2psim import plots
from p2psim.report_equity import EQUITY_FIGURE, equity_cards, equity_section

SUMMARY_ROWS = (
    ("peak_reduction_pct", "Peak reduction vs raw load (%)"),
    ("peak_reduction_vs_standalone_pct", "Peak reduction vs stand-alone (%)"),
    ("cooperative_gain", "Cooperative gain ({currency})"),
    ("total_cost", "Community total cost ({currency})"),
    ("standalone_total_cost", "Stand-alone total cost ({currency})"),
    ("self_sufficiency_pct", "Self-sufficiency: consumption not of grid origin (%)"),
    ("solar_utilisation_pct", "Solar utilisation (%)"),
    ("gini_relative_benefit", "Gini of relative benefit (benefit / need), 0 = equal"),
    ("gini_energy_burden_standalone", "Gini of energy burden, stand-alone"),
    ("gini_energy_burden", "Gini of energy burden, in the community"),
    ("gini_renewable_access", "Gini of renewable access"),
    ("jain_renewable_access", "Jain index of renewable access, 1 = equal"),
    ("min_relative_saving_pct", "Worst-off relative saving (% of need)"),
    ("losers_pct", "Participants worse off than alone (%)"),
    ("pool_energy_kwh", "Energy traded in the pool (kWh)"),
)
PER_CLASS_COLUMNS = ("socio_class", "n", "bill", "standalone_bill", "benefit", "relative_saving_pct",
                     "energy_burden_pct", "earnings", "renewable_access_pct")
PARTICIPANT_COLUMNS = ("participant", "kind", "socio_class", "pv_peak_kw", "battery_kwh", "bill", "standalone_bill",
                       "benefit", "need_cost", "relative_benefit", "energy_burden_pct", "earnings", "renewable_access")
SECTIONS_FILE = "report_sections.json"


@dataclass
class ReportData:
    """What the report shows, from a RunResult or from a run directory (the same numbers either way)."""

    name: str
    market: str
    seed: int
    days: int
    start: str
    interval_minutes: int
    source: str
    summary: dict[str, Any]
    per_class: pd.DataFrame
    participants: pd.DataFrame
    dispatch: pd.DataFrame
    solver_records: list[dict[str, Any]]
    sections: list[tuple[str, str, list[Path]]] = field(default_factory=list)
    timings_s: dict[str, float] = field(default_factory=dict)
    currency: str = "EUR"
    equity_daily: pd.DataFrame | None = None
    settlement_rule: str = "market"

    @classmethod
    def from_result(cls, result) -> ReportData:
        """The report data of an in-memory run."""
        sc = result.scenario
        return cls(result.study.name, result.study.market, result.study.seed, sc.days, str(sc.start),
                   sc.interval_minutes, sc.source, dict(result.summary), result.per_class, result.participants,
                   result.dispatch, list(result.solver_records), list(result.extras.get("report_sections", [])),
                   dict(result.timings_s), sc.tariffs.currency, result.equity_daily, result.study.settlement_rule)

    @classmethod
    def from_directory(cls, directory: Path) -> ReportData:
        """The report data of a run directory (tables, summary.json, run.json, report_sections.json)."""
        run = json.loads((directory / "run.json").read_text())
        summary = json.loads((directory / "summary.json").read_text())
        per_class = pd.DataFrame.from_dict(summary.pop("per_class", {}), orient="index")
        per_class = per_class.rename_axis("socio_class").reset_index().fillna(np.nan)
        dispatch = pd.read_parquet(directory / "dispatch.parquet")
        settings = run.get("settings", {})
        daily = directory / "equity_daily.parquet"
        return cls(run["study"], run["market"], int(run["seed"]), int(settings["days"]),
                   str(pd.Timestamp(dispatch.timestamp.min()).date()), int(settings["interval_minutes"]),
                   run.get("scenario_source", ""), {k: np.nan if v is None else v for k, v in summary.items()},
                   per_class, pd.read_parquet(directory / "participants.parquet"), dispatch,
                   run.get("solver_records", []), load_sections(directory), run.get("timings_s", {}),
                   (settings.get("tariffs") or {}).get("currency", "EUR"),
                   pd.read_parquet(daily) if daily.exists() else None, str(settings.get("settlement_rule", "market")))


def _cell(value: Any, digits: int) -> str:
    if isinstance(value, float | np.floating):
        return "n/a" if not np.isfinite(value) else f"{value:.{digits}f}"
    return str(value)


def _table(frame: pd.DataFrame, digits: int = 2) -> str:
    cols = list(frame.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(_cell(v, digits) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join(lines)


def solver_table(records: list[dict[str, Any]], timings: bool) -> str:
    """Solver records grouped by market, backend, path and status (solve time only if ``timings``)."""
    if not records:
        return "No optimisation solver was called (rule-based clearing)."
    frame = pd.DataFrame(records)
    for column, default in (("market", ""), ("backend", ""), ("path", ""), ("status", ""), ("mip_gap", np.nan),
                            ("solve_time_s", np.nan)):
        if column not in frame:
            frame[column] = default
    frame = frame.fillna({"market": "", "backend": "", "path": "", "status": ""})
    grouped = frame.groupby(["market", "backend", "path", "status"], sort=True).agg(
        solves=("status", "size"), max_gap=("mip_gap", "max"), solve_time_s=("solve_time_s", "sum")).reset_index()
    return _table(grouped if timings else grouped.drop(columns="solve_time_s"), digits=4 if not timings else 3)


def _markdown(data: ReportData, figures: list[tuple[str, str]], *, timings: bool = False) -> str:
    s = data.summary
    solvers = sorted({r.get("backend", "") for r in data.solver_records} - {""}) or ["none (rule-based)"]
    per_class = data.per_class[[c for c in PER_CLASS_COLUMNS if c in data.per_class]]
    people = data.participants[[c for c in PARTICIPANT_COLUMNS if c in data.participants]]
    out = [
        f"# p2psim report: {data.name}", "",
        f"Market `{data.market}`, seed {data.seed}, {data.days} day(s) from {data.start}, "
        f"{len(data.participants)} participants, {data.interval_minutes}-minute intervals.",
        f"Data: {data.source}. Solvers: {', '.join(solvers)}.", "",
        *([f"Members are paid by the allocation rule `{data.settlement_rule}` (section 'Settlement by rule'); "
           "every figure below is computed on what they pay.", ""] if data.settlement_rule != "market" else []),
        "## Summary", "", "| metric | value |", "|---|---|",
        *[f"| {label.format(currency=data.currency)} | {_cell(float(s[key]), 2)} |" for key, label in SUMMARY_ROWS
          if key in s], "",
        "Money in " + data.currency + "; relative benefit = a member's saving against its stand-alone bill as a share "
        "of its need (what its consumption would cost from the grid alone); energy burden = max(bill, 0) / income "
        "(annualised; a net exporter's credit is reported as earnings); every Gini is in [0, 1], 0 = equal.", "",
        "## Solvers", "", solver_table(data.solver_records, timings), "",
        "## Market", "", *[f"![{title}]({name})\n" for title, name in figures],
        "### By class", "", _table(per_class), "", "### By participant", "", _table(people), "",
        *equity_section(data.equity_daily, data.summary),
    ]
    for title, text, images in data.sections:
        shown = set(re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text))
        extra = [f"![{title}]({Path(p).name})" for p in images if Path(p).name not in shown]
        out += [f"## {title}", "", text.strip(), "", *extra, ""]
    return "\n".join(out).rstrip() + "\n"


# -- HTML -------------------------------------------------------------------------------------------

STYLE = """
:root{--ink:#1f2933;--muted:#616e7c;--line:#d9e2ec;--bg:#f5f7fa;--accent:#2f6f9f}
*{box-sizing:border-box}body{margin:0;font:15px/1.55 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;
color:var(--ink);background:var(--bg)}header{background:#243b53;color:#fff;padding:22px 32px}
header h1{margin:0;font-size:26px}header p{margin:4px 0 0;color:#d9e2ec;font-size:14px}
.layout{display:flex;gap:24px;max-width:1280px;margin:0 auto;padding:20px}
nav.toc{flex:0 0 230px;position:sticky;top:12px;align-self:flex-start;background:#fff;border:1px solid var(--line);
border-radius:8px;padding:12px 14px;font-size:13px;max-height:95vh;overflow:auto}
nav.toc ul{list-style:none;margin:0;padding-left:0}nav.toc ul ul{padding-left:14px}
nav.toc a{color:var(--accent);text-decoration:none;line-height:1.9}main{flex:1;min-width:0}
section{background:#fff;border:1px solid var(--line);border-radius:8px;padding:6px 24px 18px;margin-bottom:18px}
h2{border-bottom:2px solid var(--line);padding-bottom:4px}h3{color:#334e68}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(180px,1fr));gap:12px;margin:8px 0 18px}
.card{background:#fff;border:1px solid var(--line);border-left:4px solid var(--accent);border-radius:8px;
padding:10px 14px}.card .v{font-size:20px;font-weight:600;white-space:nowrap}.card .k{font-size:12px;color:var(--muted)}
table{border-collapse:collapse;margin:10px 0;font-size:13px;display:block;overflow-x:auto}
td,th{border:1px solid var(--line);padding:4px 9px;text-align:right}td:first-child,th:first-child{text-align:left}
th{background:#f0f4f8}tr:nth-child(even) td{background:#fafbfc}
figure{margin:14px 0;text-align:center}img{max-width:100%;height:auto;border:1px solid var(--line);border-radius:6px}
figcaption{font-size:12px;color:var(--muted)}code{background:#f0f4f8;padding:1px 4px;border-radius:3px}
main>p{color:var(--muted);margin:4px 2px 14px}strong{color:#7c2d12}
footer{color:var(--muted);font-size:12px;text-align:center;padding:12px}
@media (max-width:900px){.layout{display:block}nav.toc{position:static;margin-bottom:16px}}
@media print{nav.toc{display:none}section{break-inside:avoid-page}}
"""


def _inline(text: str) -> str:
    text = html.escape(text, quote=False)
    text = re.sub(r"`([^`]+)`", r"<code>\1</code>", text)
    text = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", text)
    text = re.sub(r"(?<![\w*])\*([^*\s][^*]*?)\*(?![\w*])", r"<em>\1</em>", text)
    return re.sub(r"\[([^\]]+)\]\(([^)\s]+)\)", r'<a href="\2">\1</a>', text)


def _slug(text: str, used: set[str]) -> str:
    base = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "section"
    slug, k = base, 2
    while slug in used:
        slug, k = f"{base}-{k}", k + 1
    used.add(slug)
    return slug


def _figure(alt: str, name: str, directory: Path) -> str:
    path = directory / name
    if not path.exists():
        return f"<p><em>missing figure {html.escape(name)}</em></p>"
    data = base64.b64encode(path.read_bytes()).decode()
    return (f'<figure><img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'
            f"<figcaption>{_inline(alt)}</figcaption></figure>")


def markdown_to_html(markdown: str, directory: Path) -> tuple[str, list[tuple[int, str, str]]]:
    """Our Markdown subset (headings, paragraphs, tables, lists, images, inline code/bold/italic) -> HTML.

    Returns the body (one ``<section>`` per level-2 heading) and the headings (level, id, text).
    """
    body, buffer, headings, used = [], [], [], set()
    kind = None

    def flush() -> None:
        nonlocal kind
        if kind == "table":
            rows = [[c.strip() for c in r.strip().strip("|").split("|")] for r in buffer
                    if not set(r.strip()) <= set("|-: ")]
            head, *rest = rows
            body.append("<table><thead><tr>" + "".join(f"<th>{_inline(c)}</th>" for c in head) + "</tr></thead><tbody>"
                        + "".join("<tr>" + "".join(f"<td>{_inline(c)}</td>" for c in r) + "</tr>" for r in rest)
                        + "</tbody></table>")
        elif kind == "list":
            body.append("<ul>" + "".join(f"<li>{_inline(item)}</li>" for item in buffer) + "</ul>")
        elif kind == "para":
            body.append(f"<p>{_inline(' '.join(buffer))}</p>")
        buffer.clear()
        kind = None

    open_section = False
    for line in markdown.splitlines():
        stripped = line.strip()
        new = ("table" if stripped.startswith("|") else "list" if stripped.startswith(("- ", "* "))
               else "image" if re.fullmatch(r"!\[[^\]]*\]\([^)]+\)", stripped) else "heading"
               if stripped.startswith("#") else "para" if stripped else None)
        if new != kind or new in ("image", "heading"):
            flush()
        if new == "heading":
            level = len(stripped) - len(stripped.lstrip("#"))
            text = stripped.lstrip("#").strip()
            if level == 1:
                continue
            slug = _slug(text, used)
            if level == 2:
                body.append(("</section>" if open_section else "") + f'<section id="{slug}">')
                open_section = True
            body.append(f'<h{level} id="{slug}">{_inline(text)}</h{level}>')
            headings.append((level, slug, text))
        elif new == "image":
            alt, name = re.fullmatch(r"!\[([^\]]*)\]\(([^)]+)\)", stripped).groups()
            body.append(_figure(alt, name, directory))
        elif new is not None:
            kind = new
            buffer.append(stripped[2:] if new == "list" else stripped)
    flush()
    if open_section:
        body.append("</section>")
    return "\n".join(body), headings


def _cards(summary: dict[str, float], currency: str) -> str:
    cards = equity_cards(summary, currency)
    return '<div class="cards">' + "".join(
        f'<div class="card"><div class="k">{html.escape(k)}</div><div class="v">{html.escape(v)}</div>'
        f'<div class="k">{html.escape(note)}</div></div>' for k, v, note in cards) + "</div>"


def render_html(data: ReportData, markdown: str, directory: Path) -> str:
    """The self-contained HTML page of a report."""
    body, headings = markdown_to_html(markdown, directory)
    toc, depth = ["<ul>"], 2
    for level, slug, text in headings:
        if level > 3:
            continue
        if level > depth:
            toc.append("<ul>")
        elif level < depth:
            toc.append("</ul></li>")
        toc.append(f'<li><a href="#{slug}">{_inline(text)}</a>' + ("</li>" if level == 3 else ""))
        depth = level
    toc.append("</ul></li></ul>" if depth == 3 else "</ul>")
    timings = ", ".join(f"{k} {v:.1f} s" for k, v in data.timings_s.items() if isinstance(v, int | float))
    settled = "" if data.settlement_rule == "market" else f"settled by {data.settlement_rule} \u00b7 "
    subtitle = (f"market {data.market} \u00b7 {settled}seed {data.seed} \u00b7 {data.days} day(s) from "
                f"{data.start} \u00b7 {len(data.participants)} participants \u00b7 "
                f"{data.interval_minutes}-minute intervals")
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>p2psim report: {html.escape(data.name)}</title><style>{STYLE}</style></head><body>"
        f"<header><h1>p2psim report: {html.escape(data.name)}</h1><p>{html.escape(subtitle)}</p></header>"
        f'<div class="layout"><nav class="toc" id="toc"><strong>Contents</strong>{"".join(toc)}</nav><main>'
        f"{_cards(data.summary, data.currency)}{body}</main></div>"
        f"<footer>Data: {html.escape(data.source)}. Timings: {html.escape(timings or 'n/a')}.</footer>"
        "</body></html>"
    )


def _write(data: ReportData, directory: Path) -> None:
    figures = [
        ("Community load vs grid import", plots.community_profile(data.dispatch, directory / "profile.png").name),
        ("Battery state of charge",
         plots.battery_state(data.dispatch, data.participants, directory / "battery.png").name),
        ("Bills by class", plots.bills_by_class(data.participants, directory / "bills_by_class.png", data.currency)
         .name),
        ("Benefit distribution", plots.benefit_distribution(data.participants, directory / "benefits.png").name),
    ]
    if data.equity_daily is not None and len(data.equity_daily):
        plots.equity_over_time(data.equity_daily, directory / EQUITY_FIGURE)
    save_sections(directory, data.sections)
    (directory / "report.md").write_text(_markdown(data, figures))
    page = render_html(data, _markdown(data, figures, timings=True), directory)
    (directory / "report.html").write_text(page)


def write_report(result, directory: Path) -> None:
    """Write the figures, ``report.md``, ``report.html`` and ``report_sections.json`` into ``directory``."""
    _write(ReportData.from_result(result), Path(directory))


def rewrite_report(directory: Path, sections: list[tuple[str, str, list[Path]]] | None = None) -> None:
    """Rebuild both reports from the files of a run directory (optionally with new stage sections)."""
    data = ReportData.from_directory(Path(directory))
    if sections is not None:
        data.sections = list(sections)
    _write(data, Path(directory))


def save_sections(directory: Path, sections: list[tuple[str, str, list[Path]]]) -> None:
    """Keep the stage sections next to the report, so it can be rebuilt from the directory."""
    rows = [{"title": t, "markdown": m, "images": [Path(p).name for p in images]} for t, m, images in sections]
    (Path(directory) / SECTIONS_FILE).write_text(json.dumps(rows, indent=1))


def load_sections(directory: Path) -> list[tuple[str, str, list[Path]]]:
    """The stage sections kept by :func:`save_sections` (none for a run written without them)."""
    path = Path(directory) / SECTIONS_FILE
    if not path.exists():
        return []
    rows = json.loads(path.read_text())
    return [(r["title"], r["markdown"], [Path(directory) / n for n in r["images"]]) for r in rows]
