"""The churn index: a weighted score over a few related indicators, with the reasons behind each score.

Article 000 warns that "lost" needs an index, not one blunt rule (half a year
without a visit may just mean the car stood still), and that indicators must
be related but not redundant. So each indicator is measured against the
customer's *own* history, mapped linearly between two thresholds from the
industry YAML (``low`` -> 0, ``high`` -> 1), weighted, and summed to 0-100;
:func:`indicator_correlations` shows how redundant the indicators are, and the
top contributing indicators are reported per customer.

Indicators (raw values):

- ``overdue``: days since the last visit / the customer's rhythm. The rhythm is
  the customer's mean interval *before* the last 365 days (so a slowdown this
  year does not stretch the yardstick it is measured with; all-time when there
  are fewer than two visits before the window), shrunk toward the industry
  default by one pseudo-gap (``(gaps * own + default) / (gaps + 1)``), so two
  visits on consecutive days do not make a customer "overdue" a week later,
  and one-visit customers get the default.
- ``frequency_drop`` / ``spend_drop`` / ``engagement_drop``: 1 - (last 365 days)
  / (usual yearly amount before that window), clipped to 0-1; the usual amount
  is the pre-window total divided by the pre-window years (at least one year).
  0 when there is no history before the window to compare with.
- ``complaints``: complaints in the last 365 days.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from workbench.scoring.config import INDICATORS, IndexConfig, IndustryConfig

#: Contributions below this many index points are not named as reasons.
MIN_REASON_POINTS = 5.0
MAX_REASONS = 3
REASON_SEPARATOR = ", "
REDUNDANT_R = 0.8


def rhythm_days(features: pd.DataFrame, default_interval_days: float) -> np.ndarray:
    """Each customer's visit rhythm in days: own mean interval (before the last 365 days where it
    can be measured, else all time) shrunk toward the default by one gap."""
    visits = features["visits"].to_numpy("float64")
    before = visits - features["visits_365"].to_numpy("float64")
    own_all = features["typical_interval_days"].to_numpy("float64", na_value=np.nan)
    own_before = features["interval_before_days"].to_numpy("float64", na_value=np.nan)
    use_before = (before >= 2) & ~np.isnan(own_before)
    gaps = np.where(use_before, before - 1, np.maximum(visits - 1, 0))
    own = np.where(use_before, own_before, own_all)
    own = np.where(np.isnan(own), 0.0, own)
    return (gaps * own + default_interval_days) / (gaps + 1)


def _drop(recent: np.ndarray, before: np.ndarray, years_before: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        yearly = before / np.maximum(years_before, 1.0)
        drop = 1.0 - recent / yearly
    drop = np.where(np.isnan(years_before) | (yearly <= 0), 0.0, drop)
    return np.clip(drop, 0.0, 1.0)


def indicator_values(features: pd.DataFrame, config: IndustryConfig) -> pd.DataFrame:
    """Raw indicator values per customer (NaN for customers who never bought), plus ``rhythm_days``."""
    f = features
    yb = f["years_before"].to_numpy("float64", na_value=np.nan)
    bought = f["visits"].to_numpy() > 0
    rhythm = rhythm_days(f, config.default_interval_days)
    out = pd.DataFrame({
        "customer_id": f["customer_id"],
        "rhythm_days": rhythm,
        "overdue": f["days_since_last"].to_numpy("float64", na_value=np.nan) / rhythm,
        "frequency_drop": _drop(f["visits_365"].to_numpy("float64"),
                                (f["visits"] - f["visits_365"]).to_numpy("float64"), yb),
        "spend_drop": _drop(f["spend_365"].to_numpy("float64"),
                            (f["spend"] - f["spend_365"]).to_numpy("float64"), yb),
        "engagement_drop": _drop(f["engagement_365"].to_numpy("float64"),
                                 f["engagement_before"].to_numpy("float64"), yb),
        "complaints": f["complaints_365"].to_numpy("float64"),
    }, index=f.index)
    for name in INDICATORS:
        out.loc[~bought, name] = np.nan
    return out


def _reason_strings(points: np.ndarray, names: list[str], max_reasons: int, min_points: float) -> np.ndarray:
    """Top contributing indicator names per row, joined; vectorised by coding each row's ordered top-k."""
    n, k = points.shape
    if n == 0:
        return np.array([], dtype=object)
    filled = np.where(np.isnan(points), -1.0, points)
    order = np.argsort(-filled, axis=1, kind="stable")[:, :max_reasons]
    top = np.take_along_axis(filled, order, axis=1)
    order = np.where(top >= min_points, order, k)          # k = "no reason"
    base = k + 1
    code = np.zeros(n, dtype=np.int64)
    for j in range(order.shape[1]):
        code = code * base + order[:, j]
    uniq, inverse = np.unique(code, return_inverse=True)
    labels = []
    for c in uniq:
        idx = []
        for _ in range(order.shape[1]):
            idx.append(int(c % base))
            c //= base
        labels.append(REASON_SEPARATOR.join(names[i] for i in reversed(idx) if i < k))
    labels_arr = np.array(labels, dtype=object)
    return labels_arr[inverse]


def weighted_index(values: pd.DataFrame, index: IndexConfig, *, max_reasons: int = MAX_REASONS,
                   min_points: float = MIN_REASON_POINTS) -> pd.DataFrame:
    """Score 0-100 from the indicators in ``index``; per-indicator points and the top reasons.

    Returns ``index`` (NaN where any used indicator is NaN, i.e. never bought),
    ``reasons`` and one ``points_<indicator>`` column per indicator.
    """
    names = [i.name for i in index.indicators]
    points = np.empty((len(values), len(names)))
    for j, ind in enumerate(index.indicators):
        raw = values[ind.name].to_numpy("float64", na_value=np.nan)
        scaled = np.clip((raw - ind.low) / (ind.high - ind.low), 0.0, 1.0)
        points[:, j] = 100.0 * ind.weight * scaled
    total = points.sum(axis=1)                      # NaN propagates for never-bought customers
    reasons = _reason_strings(points, names, max_reasons, min_points)
    reasons = np.where(np.isnan(total), None, reasons)
    out = pd.DataFrame({"index": total, "reasons": pd.array(reasons, dtype="str")}, index=values.index)
    for j, name in enumerate(names):
        out[f"points_{name}"] = points[:, j]
    return out


def churn_index(features: pd.DataFrame, config: IndustryConfig, values: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per customer: ``churn_index`` (0-100), ``churn_reasons`` (top indicators) and the points per indicator."""
    values = indicator_values(features, config) if values is None else values
    idx = weighted_index(values, config.churn)
    out = idx.rename(columns={"index": "churn_index", "reasons": "churn_reasons"})
    out.insert(0, "customer_id", values["customer_id"])
    return out


def indicator_correlations(values: pd.DataFrame, config: IndustryConfig | None = None) -> pd.DataFrame:
    """Pairwise Pearson and Spearman correlations of the churn indicators among customers who bought.

    Tidy: indicator_a, indicator_b, pearson_r, spearman_r, n, redundant
    (|r| >= 0.8 on either measure: consider dropping one, article 000).
    """
    names = [i.name for i in config.churn.indicators] if config else list(INDICATORS)
    data = values[names].dropna()
    n = len(data)
    if n > 200_000:   # correlations are stable long before this; keep the report fast
        data = data.sample(200_000, random_state=0)
    pear = data.corr(method="pearson") if n > 2 else None
    spear = data.rank().corr(method="pearson") if n > 2 else None
    rows = []
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            pr = float(pear.loc[a, b]) if pear is not None else np.nan
            sr = float(spear.loc[a, b]) if spear is not None else np.nan
            redundant = bool(np.nanmax(np.abs([pr, sr])) >= REDUNDANT_R) if np.isfinite([pr, sr]).any() else False
            rows.append({"indicator_a": a, "indicator_b": b, "pearson_r": pr, "spearman_r": sr,
                         "n": n, "redundant": redundant})
    return pd.DataFrame(rows, columns=["indicator_a", "indicator_b", "pearson_r", "spearman_r", "n", "redundant"])
