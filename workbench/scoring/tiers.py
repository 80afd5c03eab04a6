"""Value tiers (a pyramid of at most 5) and the 8 RFM octants.

Article 000: tier customers by future value, at most 5 tiers; separate
necessary from discretionary spend, look at all years *and* the last 365 days,
at amount, number of visits and the interval; count non-spend value too
(referrals who bought, events, surveys, forum help, suggestions). Article 003:
high/low on spend, frequency and recency give 8 octants, a second view for
spending staff time.

The value score is a weighted mean of percentile scores (0 = lowest, 1 =
highest, ties share the lowest rank), so it does not depend on currency or on
outliers; weights come from the industry YAML. Tiers cut the ranking into a
pyramid (tier 1 the smallest, most valuable group).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from workbench.scoring.config import IndustryConfig

#: Octant code -> (English, Chinese) name; R+ = recent, F+ = frequent, M+ = high spend.
OCTANT_LABELS = {
    "R+F+M+": ("Important value", "重要价值客户"),
    "R+F-M+": ("Important to develop", "重要发展客户"),
    "R-F+M+": ("Important to keep", "重要保持客户"),
    "R-F-M+": ("Important to win back", "重要挽留客户"),
    "R+F+M-": ("General value", "一般价值客户"),
    "R+F-M-": ("General to develop", "一般发展客户"),
    "R-F+M-": ("General to keep", "一般保持客户"),
    "R-F-M-": ("General to win back", "一般挽留客户"),
}


def percentile_score(values: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """(min-rank - 1) / (n - 1) among ``mask`` rows: 0 for the lowest (and its ties), 1 for the highest.

    Rows outside ``mask`` or NaN get 0.
    """
    values = np.asarray(values, dtype="float64")
    ok = ~np.isnan(values) if mask is None else (mask & ~np.isnan(values))
    out = np.zeros(len(values))
    ref = np.sort(values[ok])
    n = len(ref)
    if n > 1:
        out[ok] = np.searchsorted(ref, values[ok], side="left") / (n - 1)
    elif n == 1:
        out[ok] = 1.0
    return out


def engagement_points(features: pd.DataFrame, config: IndustryConfig) -> np.ndarray:
    """Non-spend value: weighted count of engagement events (points per kind from the YAML)."""
    total = np.zeros(len(features))
    for kind, pts in config.engagement_points.items():
        total += pts * features[kind].to_numpy("float64")
    return total


def value_scores(features: pd.DataFrame, config: IndustryConfig) -> pd.DataFrame:
    """Per customer: the four component scores, ``engagement_points``, ``value_score`` (0-1) and ``tier``."""
    f = features
    bought = f["visits"].to_numpy() > 0
    rs, ns = config.recent_share, config.necessary_share

    def pct(col: str, sign: float = 1.0) -> np.ndarray:
        return percentile_score(sign * f[col].to_numpy("float64", na_value=np.nan), bought)

    recency = pct("days_since_last", -1.0)
    frequency = rs * pct("visits_365") + (1 - rs) * pct("visits")
    necessary = rs * pct("necessary_spend_365") + (1 - rs) * pct("necessary_spend")
    discretionary = rs * pct("discretionary_spend_365") + (1 - rs) * pct("discretionary_spend")
    monetary = ns * necessary + (1 - ns) * discretionary
    points = engagement_points(f, config)
    engagement = percentile_score(points, points > 0)
    engagement = np.where(points > 0, 0.5 + 0.5 * engagement, 0.0)   # any engagement beats none
    w = config.tier_weights
    score = (w["recency"] * recency + w["frequency"] * frequency + w["monetary"] * monetary
             + w["engagement"] * engagement)
    return pd.DataFrame({
        "customer_id": f["customer_id"], "recency_score": recency, "frequency_score": frequency,
        "monetary_score": monetary, "engagement_score": engagement, "engagement_points": points,
        "value_score": score, "tier": assign_tiers(score, config.tier_shares),
    }, index=f.index)


def assign_tiers(score: np.ndarray, shares: tuple[float, ...]) -> np.ndarray:
    """Cut the ranking (highest score first, ties by position) into tiers of the given shares; 1 = top."""
    n = len(score)
    order = np.argsort(-np.asarray(score, dtype="float64"), kind="stable")
    position = np.empty(n, dtype=np.int64)
    position[order] = np.arange(n)
    bounds = np.cumsum(shares)[:-1] * n
    tier = np.searchsorted(bounds, position, side="right") + 1
    return tier.astype(np.int64)


def octants(features: pd.DataFrame) -> pd.Series:
    """Article 003's 8 octants, coded ``R+F-M+`` etc.; NA for customers who never bought.

    High/low splits at the medians among buyers: recent = days since last <= median;
    frequent = visits > median; high spend = total spend > median.
    """
    f = features
    bought = f["visits"].to_numpy() > 0
    days = f["days_since_last"].to_numpy("float64", na_value=np.nan)
    visits = f["visits"].to_numpy("float64")
    spend = f["spend"].to_numpy("float64")
    if not bought.any():
        return pd.Series(pd.array([None] * len(f), dtype="str"), index=f.index, name="octant")
    r = days <= np.median(days[bought])
    fr = visits > np.median(visits[bought])
    m = spend > np.median(spend[bought])
    code = r.astype(int) * 4 + fr.astype(int) * 2 + m.astype(int)
    names = np.array([f"R{'+' if c & 4 else '-'}F{'+' if c & 2 else '-'}M{'+' if c & 1 else '-'}"
                      for c in range(8)], dtype=object)
    out = np.where(bought, names[code], None)
    return pd.Series(pd.array(out, dtype="str"), index=f.index, name="octant")
