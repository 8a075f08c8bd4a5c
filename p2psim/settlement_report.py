"""The report section of a run settled by an allocation rule.

What each class pays under the rule, under the market and alone, the gap between the game and the
realised gain, and every member-day on which someone paid more than alone
(:mod:`p2psim.settlement_rule`).

Tables (from ``bills.parquet``; money in the study's currency): per class, the mean bill per member
over the run alone (``standalone_bill``), under the market (``market_bill``) and under the rule
(``bill``, what members pay), the rule's transfer against the market and the class energy burden
under each (group totals, :mod:`p2psim.equity`); per day, ``settlement_days.parquet``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from p2psim.equity import DAYS_PER_YEAR, EQUITY_EXCLUDED_CLASSES, LOSS_TOLERANCE

FIGURE = "settlement_classes.png"
MAX_DAY_ROWS = 31
"""The per-day table is shown for runs up to this many days (always in settlement_days.parquet)."""


def class_bills(bills: pd.DataFrame, participants: pd.DataFrame, days: int) -> pd.DataFrame:
    """Per class: members, mean bill per member alone / market / rule, the transfer, energy burdens (%)."""
    totals = bills.groupby("participant")[["standalone_bill", "market_bill", "bill"]].sum()
    frame = participants.set_index("participant")[["socio_class", "income_per_year"]].join(totals)
    frame = frame[~frame.socio_class.isin(EQUITY_EXCLUDED_CLASSES)]
    groups = frame.groupby("socio_class")
    income = groups.income_per_year.sum().where(lambda s: s > 0)
    year = DAYS_PER_YEAR / days

    def burden(column: str) -> pd.Series:
        return 100 * frame[column].clip(lower=0).groupby(frame.socio_class).sum() * year / income

    table = pd.DataFrame({
        "n": groups.size(),
        "standalone_bill": groups.standalone_bill.mean(),
        "market_bill": groups.market_bill.mean(),
        "rule_bill": groups.bill.mean(),
        "rule_minus_market": groups.bill.mean() - groups.market_bill.mean(),
        "energy_burden_market_pct": burden("market_bill"),
        "energy_burden_rule_pct": burden("bill"),
    })
    return table.rename_axis("socio_class").reset_index()


def paying_more_than_alone(bills: pd.DataFrame, participants: pd.DataFrame) -> pd.DataFrame:
    """Every member-day with ``bill - standalone_bill > LOSS_TOLERANCE`` (the aggregator included)."""
    excess = bills.bill - bills.standalone_bill
    rows = bills.loc[excess > LOSS_TOLERANCE, ["day", "participant", "bill", "standalone_bill"]]
    rows = rows.assign(excess=excess[excess > LOSS_TOLERANCE])
    return rows.merge(participants[["participant", "socio_class"]], on="participant").sort_values(
        ["day", "participant"], kind="stable")


def plot_class_bills(table: pd.DataFrame, path: Path, rule: str, currency: str) -> Path:
    """Mean bill per member of each class: alone, under the market, under the rule."""
    from p2psim.plots import _save, plt

    x = np.arange(len(table))
    fig, ax = plt.subplots(figsize=(7.5, 3.4))
    for k, (column, label, colour) in enumerate((("standalone_bill", "alone (stand-alone)", "#bbbbbb"),
                                                 ("market_bill", "market", "#4a90c2"),
                                                 ("rule_bill", f"rule: {rule}", "#d95f02"))):
        ax.bar(x + (k - 1) * 0.27, table[column], width=0.27, color=colour, label=label)
    ax.set_xticks(x, [f"{c}\n(n = {n})" for c, n in zip(table.socio_class, table.n, strict=True)])
    ax.axhline(0, color="black", lw=0.5)
    ax.set_ylabel(f"mean bill per member over the run ({currency})")
    ax.set_title(f"What each class pays: alone, market, {rule}")
    ax.legend(fontsize=8)
    return _save(fig, path)


def losers_text(rows: pd.DataFrame, rule: str, currency: str) -> str:
    """Every member-day paying more than alone, one line per day (participant, class, excess)."""
    if not len(rows):
        return f"No member paid more than alone on any day under `{rule}`."
    lines = [f"{len(rows)} member-day(s) paid more than alone under `{rule}` (excess over the stand-alone bill, "
             f"{currency}):", ""]
    for day, group in rows.groupby("day", sort=True):
        named = ", ".join(f"{r.participant} ({r.socio_class}, +{r.excess:.2f})" for r in group.itertuples())
        lines.append(f"- day {day}: {named}")
    return "\n".join(lines)


def section_text(result, table: pd.DataFrame, losers: pd.DataFrame) -> str:
    """The Markdown of the "Settlement by rule" section."""
    from p2psim.report import _table

    rule = result.study.settlement_rule
    currency = result.scenario.tariffs.currency
    days = result.settlement_days
    s = {k: round(float(v), 9) + 0.0 for k, v in result.summary.items() if k.startswith("settlement_")}
    out = [
        f"Members are paid by `{rule}`: each pays its stand-alone bill minus its share of the day's realised "
        f"community gain. The rule allocates the day-ahead game's value v(N) (on the forecasts; weighted rules "
        "with the class weights in force that day); the gap between v(N) and the realised gain -- the market "
        "dispatch's distance from the cost optimum (*dispatch gap*) and what forecast errors did to shared "
        "charges such as the community demand charge (*forecast gap*) -- is shared in proportion to the rule's "
        "positive shares, so a rule that gives nobody a negative amount leaves nobody paying more than alone on a "
        "day with a non-negative realised gain. Each member's own imbalance energy is in its stand-alone bill, at "
        "the tariff: whoever deviates pays for it. The bills of every day sum to what the community pays outside "
        "(checked). The rule moves money, not energy: dispatch and total cost are the market's.",
        "",
        f"Over the run: game value {s['settlement_game_value']:.2f} {currency}, realised gain "
        f"{s['settlement_realised_gain']:.2f} {currency}; dispatch gap {s['settlement_dispatch_gap']:.2f}, "
        f"forecast gap {s['settlement_forecast_gap']:.2f} {currency}.",
        "",
        f"### Bills by class: alone, market and `{rule}`",
        "",
        f"Mean bill per member over the run ({currency}); energy burden = the class's positive bills / its income, "
        "annualised.",
        "",
        _table(table),
        "",
        f"![Bills by class under {rule}]({FIGURE})",
        "",
        "### Who pays more than alone",
        "",
        losers_text(losers, rule, currency),
        "",
    ]
    if len(days) <= MAX_DAY_ROWS:
        money = ["game_value", "realised_gain", "dispatch_gap", "forecast_gap", "outside_payment"]
        shown = days[["day", *money, "members_paying_more_than_alone"]].copy()
        shown[money] = shown[money].round(9) + 0.0  # no "-0.00" for a rounding residue
        out += ["### Day by day", "", f"Money in {currency}; table `settlement_days.parquet`.", "", _table(shown), ""]
    return "\n".join(out)


def settlement_stage(result):
    """Stage for :mod:`p2psim.stages`: the section of a run settled by a rule (None under ``market``)."""
    if result.settlement_days is None:
        return None
    days = int(result.scenario.days)
    table = class_bills(result.bills, result.participants, days)
    losers = paying_more_than_alone(result.bills, result.participants)
    result.extras["settlement"] = {"classes": table, "paying_more_than_alone": losers}

    def write(res, directory: Path) -> None:
        png = plot_class_bills(table, Path(directory) / FIGURE, res.study.settlement_rule,
                               res.scenario.tariffs.currency)
        res.extras.setdefault("report_sections", []).append(
            ("Settlement by rule", section_text(res, table, losers), [png]))

    return write
