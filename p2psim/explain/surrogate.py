"""The surrogate behind every explanation: gradient-boosted trees, held-out-day fidelity, SHAP.

A surrogate f(x) ~ y is fitted on participant-day samples (features x, one target y). Its fidelity
is measured on held-out DAYS: the days (per run) are split into k groups (k = min(5, number of
days)); each group is predicted by a model fitted on the other days, and R^2 and MAE are computed
over these out-of-fold predictions. A row split would leak: the same day's weather and prices
would sit on both sides. The explained model is then fitted on all samples, and
``shap.TreeExplainer`` (exact for trees, path-dependent) gives phi with
base + sum_j phi_j = f(x) for every sample, which is checked (an InvariantError otherwise).

Everything is seeded: the same samples give the same surrogate, SHAP values and numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from p2psim.errors import InvariantError
from p2psim.explain.features import ExplanationInputError

MIN_DAYS = 3
"""Fewest distinct days a held-out-day fidelity needs (train on >= 2 days, test on another)."""
FIDELITY_WARNING_R2 = 0.5
"""Below this held-out R^2 the report warns that the explanation describes a poor surrogate."""
ADDITIVITY_TOLERANCE = 1e-6


@dataclass
class Surrogate:
    """A fitted surrogate of one target with its fidelity and SHAP values."""

    target: str
    features: list[str]
    samples: pd.DataFrame
    """Keys, features and the target of every sample, plus ``prediction`` (in-sample)."""
    shap_values: np.ndarray
    """(samples, features) SHAP values of the model fitted on all samples."""
    base_value: float
    r2_heldout: float
    mae_heldout: float
    r2_train: float
    n_days: int
    n_folds: int
    additivity_error: float
    notes: list[str] = field(default_factory=list)

    @property
    def poor(self) -> bool:
        """Whether the held-out fidelity is too low to trust the explanation."""
        return not np.isfinite(self.r2_heldout) or self.r2_heldout < FIDELITY_WARNING_R2

    def fidelity_text(self) -> str:
        """One line with the fidelity, and a warning when it is poor."""
        text = (f"Surrogate fidelity on held-out days: R\u00b2 = {self.r2_heldout:.2f}, MAE = {self.mae_heldout:.3f} "
                f"({self.n_folds}-fold split over {self.n_days} days, {len(self.samples)} participant-days; "
                f"in-sample R\u00b2 = {self.r2_train:.2f}).")
        if self.poor:
            text += (f" **Warning: R\u00b2 < {FIDELITY_WARNING_R2}: the surrogate does not reproduce this target "
                     "well, so the attributions below describe the surrogate more than the allocation.**")
        return text

    def fidelity_short(self) -> str:
        """The fidelity in a few words (and the warning when it is poor), for every explanation."""
        text = f"*Surrogate fidelity: R\u00b2 {self.r2_heldout:.2f} on held-out days (MAE {self.mae_heldout:.3f}).*"
        if self.poor:
            text += f" **Warning: R\u00b2 < {FIDELITY_WARNING_R2}; read these attributions with caution.**"
        return text

    def mean_abs(self) -> pd.Series:
        """Mean |SHAP| per feature, largest first (ties by feature order)."""
        values = pd.Series(np.abs(self.shap_values).mean(axis=0), index=self.features)
        return values.iloc[np.argsort(-values.to_numpy(), kind="stable")]

    def frame(self) -> pd.DataFrame:
        """SHAP values as a long table: keys, feature, value, shap."""
        keys = [c for c in ("run", "day", "participant", "socio_class", "kind") if c in self.samples]
        wide = pd.DataFrame(self.shap_values, columns=self.features)
        long = pd.concat([self.samples[keys].reset_index(drop=True), wide], axis=1).melt(
            id_vars=keys, var_name="feature", value_name="shap")
        values = self.samples[self.features].reset_index(drop=True).assign(_row=np.arange(len(self.samples)))
        long["value"] = values.melt(id_vars="_row", var_name="feature").value.to_numpy()
        long.insert(0, "target", self.target)
        return long


def make_model(seed: int = 0):
    """The surrogate: 150 shallow trees with shrinkage and row subsampling (seeded, so deterministic).

    Tuned for a week of a small community (~100 participant-days): stochastic boosting (subsample
    0.7) and leaves of >= 6 samples generalise to held-out days better than deeper or longer
    ensembles (benchmarks/results/explain.md).
    """
    from sklearn.ensemble import GradientBoostingRegressor

    return GradientBoostingRegressor(n_estimators=150, max_depth=3, learning_rate=0.05, min_samples_leaf=6,
                                     subsample=0.7, random_state=seed)


def day_groups(samples: pd.DataFrame) -> np.ndarray:
    """One group id per (run, day)."""
    keys = samples["run"].astype(str) + "/" + samples["day"].astype(str) if "run" in samples else samples["day"]
    return pd.factorize(keys, sort=True)[0]


def heldout_predictions(x: np.ndarray, y: np.ndarray, groups: np.ndarray, seed: int = 0) -> tuple[np.ndarray, int]:
    """Out-of-fold predictions with whole days held out; returns (predictions, number of folds)."""
    from sklearn.model_selection import GroupKFold

    n_folds = int(min(5, np.unique(groups).size))
    out = np.empty_like(y, dtype=float)
    for train, test in GroupKFold(n_splits=n_folds).split(x, y, groups):
        out[test] = make_model(seed).fit(x[train], y[train]).predict(x[test])
    return out, n_folds


def r2(y: np.ndarray, prediction: np.ndarray) -> float:
    """Coefficient of determination (NaN when y is constant)."""
    total = float(((y - y.mean()) ** 2).sum())
    return float(1 - ((y - prediction) ** 2).sum() / total) if total > 0 else float("nan")


def fit_surrogate(samples: pd.DataFrame, target: str, features: list[str] | tuple[str, ...], *,
                  seed: int = 0, what_to_run: str = "") -> Surrogate:
    """Fit, validate on held-out days and explain ``target`` from ``features``."""
    import shap

    features = list(features)
    rows = samples[samples[target].notna()].reset_index(drop=True)
    groups = day_groups(rows) if len(rows) else np.zeros(0, int)
    n_days = int(np.unique(groups).size)
    if n_days < MIN_DAYS:
        raise ExplanationInputError(
            f"explaining {target!r} needs samples from at least {MIN_DAYS} days to hold days out, "
            f"found {n_days}; {what_to_run or 'run a longer study, e.g. python -m p2psim STUDY.py --days 7'}")
    x = rows[features].to_numpy(dtype=float)
    y = rows[target].to_numpy(dtype=float)
    heldout, n_folds = heldout_predictions(x, y, groups, seed)
    model = make_model(seed).fit(x, y)
    prediction = model.predict(x)
    explainer = shap.TreeExplainer(model)
    values = np.asarray(explainer.shap_values(x, check_additivity=False), dtype=float)
    base = float(np.ravel(explainer.expected_value)[0])
    error = float(np.max(np.abs(base + values.sum(axis=1) - prediction))) if len(x) else 0.0
    if error > ADDITIVITY_TOLERANCE * max(1.0, float(np.abs(prediction).max())):
        raise InvariantError(f"SHAP additivity fails for {target!r}: max |base + sum(phi) - f(x)| = {error:.3g} "
                             f"> tolerance {ADDITIVITY_TOLERANCE}")
    notes = []
    constant = [f for f in features if np.ptp(rows[f].to_numpy(dtype=float)) == 0]
    if constant:
        notes.append(f"constant in these samples (attribution 0 by construction): {', '.join(constant)}")
    return Surrogate(
        target=target, features=features, samples=rows.assign(prediction=prediction, heldout_prediction=heldout),
        shap_values=values, base_value=base, r2_heldout=r2(y, heldout), mae_heldout=float(np.abs(y - heldout).mean()),
        r2_train=r2(y, prediction), n_days=n_days, n_folds=n_folds, additivity_error=error, notes=notes,
    )
