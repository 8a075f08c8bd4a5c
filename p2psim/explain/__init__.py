"""Explanations: who gains from the community and why (SHAP over a surrogate of the benefits).

Pipeline: participant-day samples of features and benefit targets
(:mod:`p2psim.explain.features`) -> a gradient-boosted surrogate per target, its fidelity on
held-out days and exact TreeSHAP values with an additivity check (:mod:`p2psim.explain.surrogate`) ->
plots and generated text (:mod:`p2psim.explain.text`, :mod:`p2psim.report.plots`) -> a report section.
The coordinator's weight changes are explained the same way (:mod:`p2psim.explain.coordinator`).

Entry points:

- ``explain(source, targets=None)``: ``source`` is a RunResult, a run directory, or a list of them
  (samples concatenated, days kept apart per run). Returns an :class:`Explanation`.
- ``explanation_stage(result)``: the post-run stage (after the allocation stage); returns a writer.
- ``python -m p2psim explain RUN_DIR [--target T]`` (:mod:`p2psim.cli.explain`): re-explain an
  existing run in place (explain files and report rewritten atomically), without re-running it.

Package: this ``__init__`` holds the pipeline, the stage and the re-explanation of a run directory;
:mod:`~p2psim.explain.features` (samples and targets), :mod:`~p2psim.explain.surrogate` (surrogate,
fidelity, SHAP), :mod:`~p2psim.explain.text` (generated text), :mod:`~p2psim.explain.coordinator`
(the coordinator's weight changes) and :mod:`~p2psim.explain.synthetic` (a run with a known answer).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from p2psim.explain.coordinator import coordinator_markdown, explain_coordinator, importance_frame
from p2psim.explain.features import (
    FEATURE_LABELS,
    FEATURES,
    TARGETS,
    ExplanationInputError,
    RunData,
    as_run_data,
    build_samples,
    target_label,
)
from p2psim.explain.surrogate import Surrogate, fit_surrogate

SECTION_TITLE = "Explanations"
RUN_ALLOCATION_FIRST = ("run with allocation enabled first: python -m p2psim STUDY.py --days 7 --out RUN_DIR "
                        "(allocation is on unless --set allocation=false), or explain the market settlement "
                        "instead: python -m p2psim explain RUN_DIR --target market")
EXPLAIN_FILES = ("explain_samples.parquet", "explain_shap.parquet", "explain_fidelity.parquet")


@dataclass
class Explanation:
    """Surrogates and SHAP values of the benefit targets (and of the coordinator's weight changes)."""

    surrogates: dict[str, Surrogate]
    """By target, the primary target first."""
    coordinator: dict[str, Surrogate] = field(default_factory=dict)
    coordinator_notes: list[str] = field(default_factory=list)
    """Why (part of) the coordinator explanation was skipped."""
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    currency: str = "EUR"
    """The runs' currency (labels of money targets)."""

    @property
    def primary(self) -> Surrogate:
        """The explained target the report's plots show.

        What members are paid in a run settled by a rule, else weighted Shapley when allocations exist.
        """
        return next(iter(self.surrogates.values()))

    def fidelity(self) -> pd.DataFrame:
        """One row per fitted surrogate: kind, target, held-out R^2 and MAE, in-sample R^2, sizes."""
        rows = [{"kind": kind, "target": s.target, "r2_heldout": s.r2_heldout, "mae_heldout": s.mae_heldout,
                 "r2_train": s.r2_train, "n_samples": len(s.samples), "n_days": s.n_days, "n_folds": s.n_folds,
                 "base_value": s.base_value, "additivity_error": s.additivity_error}
                for kind, group in (("benefit", self.surrogates), ("coordinator", self.coordinator))
                for s in group.values()]
        return pd.DataFrame(rows)


def _samples(source) -> tuple[pd.DataFrame, list[RunData]]:
    sources = source if isinstance(source, list | tuple) else [source]
    data = [as_run_data(s) for s in sources]
    labels = [d.name for d in data]
    if len(set(labels)) < len(labels):
        labels = [f"{d.name}#{k}" for k, d in enumerate(data)]
    return pd.concat([build_samples(d, run_label=lab) for d, lab in zip(data, labels, strict=True)],
                     ignore_index=True), data


def explain(source, targets: list[str] | tuple[str, ...] | None = None, *, seed: int = 0,
            features: tuple[str, ...] = FEATURES) -> Explanation:
    """Explain the benefit targets of one or several runs (see module docstring).

    ``targets=None`` explains every target the runs can give: what members are paid under the settlement
    rule first (``settled``, in runs settled by a rule), else weighted Shapley first. Asking for
    ``weighted_shapley`` of a run without allocations, or a run of fewer than 3 days, raises an
    :class:`ExplanationInputError` that says what to run first.
    """
    start = time.perf_counter()
    samples, data = _samples(source)
    unknown = [t for t in targets or () if t not in TARGETS]
    if unknown:
        from p2psim.errors import unknown_name

        raise unknown_name("explanation target", unknown[0], TARGETS)
    has_allocation = samples.weighted_shapley.notna().any()
    settled = samples.settled.notna().any()
    if targets is None:  # what members are paid first: the rule's benefit in a rule-settled run
        targets = [t for t in TARGETS if (t != "weighted_shapley" or has_allocation) and (t != "settled" or settled)]
    elif "settled" in targets and not settled:
        raise ExplanationInputError(
            f"run {', '.join(d.name for d in data)} was settled by the market (settlement_rule='market'), so what "
            "members are paid is the market benefit: explain --target market")
    elif "weighted_shapley" in targets and not has_allocation:
        raise ExplanationInputError(
            f"run {', '.join(d.name for d in data)} has no allocations (allocation_daily.parquet with rule "
            f"weighted_shapley), so its weighted Shapley benefit cannot be explained; {RUN_ALLOCATION_FIRST}")
    surrogates = {t: fit_surrogate(samples, t, features, seed=seed) for t in targets}
    logs = [d.coordinator for d in data if d.coordinator is not None]
    coordinator, coordinator_notes = explain_coordinator(logs[0] if len(logs) == 1 else None, seed)
    if len(logs) > 1:
        coordinator_notes = ["Coordinator logs of several runs are not pooled; explain one run at a time."]
    return Explanation(surrogates, coordinator, coordinator_notes, [], time.perf_counter() - start, data[0].currency)


def _figure_line(caption: str, png: Path) -> str:
    return f"![{caption}]({png.name})"


def explanation_markdown(exp: Explanation, directory: Path) -> tuple[str, list[Path]]:
    """Write the explanation figures into ``directory``; return the section's Markdown and its PNGs."""
    from p2psim.explain.text import (
        class_importance,
        class_paragraphs,
        extremes,
        importance_table,
        participant_contributions,
        waterfall_caption,
    )
    from p2psim.report import plots

    s = exp.primary
    labels = [FEATURE_LABELS.get(f, f) for f in s.features]
    fid = f"surrogate R\u00b2 {s.r2_heldout:.2f} on held-out days"
    name = target_label(s.target, exp.currency)
    pngs = [plots.shap_beeswarm(s.shap_values, s.samples[s.features], labels, directory / "explain_beeswarm.png",
                                f"What drives the {name} ({fid})"),
            plots.shap_class_bars(class_importance(s), FEATURE_LABELS, directory / "explain_classes.png",
                                  f"Mean |SHAP| by class ({fid})")]
    worst, best = extremes(s)
    for which, who in (("worst-off", worst), ("best-off", best)):
        values, base, _, _ = participant_contributions(s, who)
        pngs.append(plots.shap_waterfall(values, base, FEATURE_LABELS, directory / f"explain_waterfall_{which}.png",
                                         f"{which.capitalize()}: {who}, mean over its days ({fid})"))
    out = [
        f"Why participants gain what they gain: a surrogate (gradient-boosted trees) learns each target from "
        f"participant features on {len(s.samples)} participant-days, and SHAP (TreeExplainer, exact for trees) "
        f"splits every prediction into feature contributions (base + contributions = prediction, checked; "
        f"largest error {max(x.additivity_error for x in exp.surrogates.values()):.1e}). A SHAP value is in the "
        f"target's unit per day relative to the average participant-day. Attributions describe the surrogate; "
        f"its fidelity on held-out days is given with every explanation. Correlated "
        f"features (income and class, PV size and PV energy, PV size and export share) share credit between "
        f"them: read them together.",
        "", "### Fidelity of the surrogates", "", importance_table(exp.surrogates), "",
        f"### What drives the {name}", "", s.fidelity_text(), "",
        _figure_line(f"SHAP summary of the {name}: one dot per participant-day, colour = feature value ({fid})",
                     pngs[0]),
        "", "### By class", "", s.fidelity_short(), "",
        _figure_line(f"Mean |SHAP| per feature and class ({fid})", pngs[1]), "",
        *[p + "\n" for p in class_paragraphs(s, exp.currency)],
        "### Worst-off and best-off participants", "", s.fidelity_short(), "",
        waterfall_caption(s, worst, "worst-off", exp.currency), "",
        _figure_line(f"Worst-off participant {worst} ({fid})", pngs[2]), "",
        waterfall_caption(s, best, "best-off", exp.currency), "",
        _figure_line(f"Best-off participant {best} ({fid})", pngs[3]),
        "", "### Coordinator weight changes", "", coordinator_markdown(exp.coordinator, exp.coordinator_notes), "",
    ]
    notes = exp.notes + [f"{t}: {n}" for t, x in exp.surrogates.items() for n in x.notes]
    if exp.coordinator:
        png = plots.importance_bars(importance_frame(exp.coordinator), {}, directory / "explain_coordinator.png",
                                    "Coordinator: mean |SHAP| of each observation per weight change")
        pngs.append(png)
        out += [_figure_line("Coordinator weight changes: mean |SHAP| per observation", png), ""]
    out += [f"- {n}" for n in notes]
    return "\n".join(out).replace("\n\n\n", "\n\n").strip(), pngs


def write_explanation(exp: Explanation, directory: Path) -> tuple[str, str, list[Path]]:
    """Write the explain tables and figures; return the report section (title, Markdown, PNGs)."""
    directory = Path(directory)
    samples = exp.primary.samples.drop(columns=["prediction", "heldout_prediction"])
    for target, s in exp.surrogates.items():
        samples = samples.merge(s.samples[["run", "day", "participant", "prediction"]].rename(
            columns={"prediction": f"{target}_surrogate"}), on=["run", "day", "participant"], how="left")
    samples.to_parquet(directory / "explain_samples.parquet", index=False)
    shap_long = pd.concat([s.frame() for s in [*exp.surrogates.values(), *exp.coordinator.values()]],
                          ignore_index=True)
    shap_long.to_parquet(directory / "explain_shap.parquet", index=False)
    exp.fidelity().to_parquet(directory / "explain_fidelity.parquet", index=False)
    text, pngs = explanation_markdown(exp, directory)
    return SECTION_TITLE, text, pngs


def explanation_stage(result):
    """Stage for :mod:`p2psim.runner.stages` (after the allocation stage): explain, return the writer.

    A run too short to hold days out gets a report note instead of an explanation (no failure).
    """
    if not result.study.explain:
        return None
    try:
        exp = explain(result, seed=result.study.seed)
    except ExplanationInputError as exc:
        exp, note = None, f"No explanation for this run: {exc}"
    else:
        result.extras["explanation"] = exp
        result.summary["explain_r2_heldout"] = float(exp.primary.r2_heldout)

    def write(res, directory: Path) -> None:
        section = write_explanation(exp, directory) if exp is not None else (SECTION_TITLE, note, [])
        res.extras.setdefault("report_sections", []).append(section)

    return write


def rewrite_explanation(staging: Path, exp: Explanation) -> None:
    """In ``staging`` (a copy of the run): replace the explain files, the summary's R^2 and the report."""
    from p2psim.report import load_sections, rewrite_report

    for old in [*staging.glob("explain_*.png"), *(staging / f for f in EXPLAIN_FILES)]:
        old.unlink(missing_ok=True)
    sections = [s for s in load_sections(staging) if s[0] != SECTION_TITLE]
    sections.append(write_explanation(exp, staging))
    summary_path = staging / "summary.json"
    summary = json.loads(summary_path.read_text())
    r2 = float(exp.primary.r2_heldout)
    summary["explain_r2_heldout"] = r2 if r2 == r2 else None  # JSON has no NaN
    summary_path.write_text(json.dumps(summary, indent=2, sort_keys=True))
    rewrite_report(staging, sections)
