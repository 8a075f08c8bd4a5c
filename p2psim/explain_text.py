"""Words from numbers: the per-class paragraphs and tables of the explanations section.

Every sentence is generated from the SHAP values and samples of a :class:`Surrogate`; nothing is
hand-written per study. Numbers are printed with fixed precision, so the same run gives the same
text (the report stays deterministic).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from p2psim.explain_features import FEATURE_LABELS, TARGETS
from p2psim.explain_model import Surrogate

HOUSEHOLD_CLASSES = ("low", "middle", "high")
AMOUNT = {
    "settled": "{v:.2f} {c} a day of benefit as paid under the settlement rule",
    "weighted_shapley": "{v:.2f} {c} a day of weighted Shapley benefit",
    "market": "{v:.2f} {c} a day of market settlement benefit",
    "normalised": "a relative saving of {v:.2f} (benefit / need)",
}


def amount(target: str, value: float, currency: str = "EUR") -> str:
    """'2.31 EUR a day of weighted Shapley benefit' and the like."""
    fallback = "{v:.2f} of " + TARGETS.get(target, target).replace("{currency}", "{c}")
    return AMOUNT.get(target, fallback).format(v=value, c=currency)


def label(feature: str) -> str:
    """Readable name of a feature."""
    return FEATURE_LABELS.get(feature, feature.replace("_", " "))


def _who(cls: str, pv: str | None, kinds: set[str]) -> str:
    noun = "households" if kinds == {"household"} else "participants"
    noun = f"{cls}-income {noun}" if cls in HOUSEHOLD_CLASSES else f"{cls} {noun}"
    return noun if pv is None else f"{noun} {pv}"


def groups(s: Surrogate) -> list[tuple[str, str | None, np.ndarray]]:
    """(class, PV qualifier or None, sample mask) per class, split by PV ownership when a class has both."""
    out = []
    samples = s.samples
    order = samples.groupby("socio_class").class_rank.first().sort_values(kind="stable").index
    for cls in order:
        mask = (samples.socio_class == cls).to_numpy()
        has_pv = (samples.pv_peak_kw > 0).to_numpy() if "pv_peak_kw" in samples else np.zeros(len(samples), bool)
        if has_pv[mask].any() and not has_pv[mask].all():
            out += [(cls, "without PV", mask & ~has_pv), (cls, "with PV", mask & has_pv)]
        else:
            out.append((cls, None, mask))
    return out


def _contributions(s: Surrogate, mask: np.ndarray) -> pd.Series:
    values = pd.Series(s.shap_values[mask].mean(axis=0), index=s.features)
    return values.iloc[np.argsort(-values.abs().to_numpy(), kind="stable")]


def _phrase(s: Surrogate, feature: str, value: float, mask: np.ndarray) -> str:
    own = float(s.samples.loc[mask, feature].mean())
    overall = float(s.samples[feature].mean())
    return f"{label(feature)} ({value:+.2f}; theirs {own:.2f} vs {overall:.2f} overall)"


def class_paragraph(s: Surrogate, cls: str, pv: str | None, mask: np.ndarray, currency: str = "EUR") -> str:
    """One paragraph: how much a group gains and which features move it from the average."""
    rows = s.samples[mask]
    n_people = f"{rows.participant.nunique()} participant(s)"
    mean = float(rows[s.target].mean())
    contributions = _contributions(s, mask)
    ups = [(f, v) for f, v in contributions.items() if v > 1e-3 * max(1.0, abs(s.base_value))][:2]
    downs = [(f, v) for f, v in contributions.items() if v < -1e-3 * max(1.0, abs(s.base_value))][:2]
    side = "above" if mean > s.base_value else "below"
    who = _who(cls, pv, set(rows["kind"]) if "kind" in rows else set())
    kinds = rows.drop_duplicates("participant")["kind"].value_counts() if "kind" in rows else pd.Series(dtype=int)
    mix = ", ".join(f"{n} {k}{'s' if n > 1 else ''}" for k, n in kinds.items())
    text = (f"**{who[0].upper() + who[1:]}** ({mix or n_people}; {len(rows)} participant-days) receive "
            f"on average {amount(s.target, mean, currency)}, {side} the average participant-day "
            f"({s.base_value:.2f}).")
    if ups:
        verb = "gain mainly through" if mean > 0 else "are lifted mainly by"
        text += f" They {verb} " + " and ".join(_phrase(s, f, v, mask) for f, v in ups) + "."
    if downs:
        text += " They are held back by " + " and ".join(_phrase(s, f, v, mask) for f, v in downs) + "."
    if not ups and not downs:
        text += " No feature moves them noticeably from the average."
    return text


def class_paragraphs(s: Surrogate, currency: str = "EUR") -> list[str]:
    """The paragraphs of every class (and PV sub-group)."""
    return [class_paragraph(s, cls, pv, mask, currency) for cls, pv, mask in groups(s) if mask.any()]


def importance_table(surrogates: dict[str, Surrogate], top: int = 5) -> str:
    """Markdown: for each target, the fidelity and the top features by mean |SHAP|."""
    lines = ["| target | held-out R\u00b2 | held-out MAE | top features (mean abs SHAP) |", "|---|---|---|---|"]
    for target, s in surrogates.items():
        top_features = ", ".join(f"{label(f)} {v:.3f}" for f, v in s.mean_abs().head(top).items())
        flag = " (low fidelity)" if s.poor else ""
        lines.append(f"| {target}{flag} | {s.r2_heldout:.2f} | {s.mae_heldout:.3f} | {top_features} |")
    return "\n".join(lines)


def class_importance(s: Surrogate) -> pd.DataFrame:
    """Mean |SHAP| per class (rows) and feature (columns)."""
    frame = pd.DataFrame(np.abs(s.shap_values), columns=s.features).assign(socio_class=s.samples.socio_class.values)
    order = s.samples.groupby("socio_class").class_rank.first().sort_values(kind="stable").index
    return frame.groupby("socio_class").mean().reindex(order)


def extremes(s: Surrogate) -> tuple[str, str]:
    """The worst-off and the best-off participant by mean target over their days."""
    means = s.samples.groupby("participant")[s.target].mean().sort_index()
    return str(means.idxmin()), str(means.idxmax())


def participant_contributions(s: Surrogate, participant: str) -> tuple[pd.Series, float, float, float]:
    """A participant's mean SHAP per feature over its days, the base, its mean prediction and mean target."""
    mask = (s.samples.participant == participant).to_numpy()
    values = pd.Series(s.shap_values[mask].mean(axis=0), index=s.features)
    return values, s.base_value, float(s.samples.prediction[mask].mean()), float(s.samples[s.target][mask].mean())


def waterfall_caption(s: Surrogate, participant: str, which: str, currency: str = "EUR") -> str:
    """One sentence under a waterfall plot."""
    values, base, prediction, actual = participant_contributions(s, participant)
    cls = s.samples.loc[s.samples.participant == participant, "socio_class"].iloc[0]
    top = values.iloc[np.argsort(-values.abs().to_numpy(), kind="stable")].head(2)
    reasons = " and ".join(f"{label(f)} ({v:+.2f})" for f, v in top.items())
    return (f"The {which} participant, {participant} ({cls} income), receives on average "
            f"{amount(s.target, actual, currency)} "
            f"(surrogate {prediction:.2f}, average participant-day {base:.2f}); the largest contributions are "
            f"{reasons}.")
