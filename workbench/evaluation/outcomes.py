"""Outcomes per customer and month after the round, and the same measures over an equal window before it.

For month ``m`` a customer's window is ``L = min(m * month_days, attribution
window)`` days: *after* = [start, start + L), *before* = [start - L, start).
Measured in both windows: came back (any purchase), visits (distinct purchase
days), spend (necessary, discretionary), non-spend engagement (events other
than complaints: referrals, events attended, surveys answered, forum posts,
answers to other customers, suggestions) and whether a purchase fell in the
categories of the bundle the customer was offered (article 000: "was it what
the contact said?"; holdout customers have the bundle they would have been
offered, so the holdout shows how often people buy those categories anyway).
The heavy lifting is one DuckDB query per table.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from workbench.data.store import connect
from workbench.evaluation.rounds import RoundData

ENGAGEMENT_KINDS = ("referral", "event_attended", "survey_answered", "forum_post", "answered_question", "suggestion")
MEASURES = ("came_back", "visits", "spend", "spend_necessary", "spend_discretionary", "engagement", "engaged",
            "referrals", "offer_match")


def _windows(rd: RoundData) -> tuple[pd.DataFrame, pd.DataFrame]:
    c = rd.customers
    w = pd.DataFrame({"customer_id": c["customer_id"].astype(str), "start": c["start"].astype("datetime64[us]"),
                      "window_days": c["window_days"].astype(int)})
    months = pd.DataFrame({"month": list(rd.settings.months),
                           "days": [m * rd.settings.month_days for m in rd.settings.months]})
    return w, months


def _offered(rd: RoundData) -> pd.DataFrame:
    c = rd.customers[["customer_id", "bundle"]].dropna()
    if c.empty or rd.bundles.empty:
        return pd.DataFrame({"customer_id": pd.Series(dtype=str), "category": pd.Series(dtype=str)})
    pairs = c.merge(rd.bundles[["bundle", "category"]], on="bundle")[["customer_id", "category"]]
    return pairs.drop_duplicates().astype(str)


def customer_outcomes(db: str | Path | None, rd: RoundData) -> pd.DataFrame:
    """One row per (customer, month): ``pre_*`` and post measures, the customer's arm and segment columns."""
    w, months = _windows(rd)
    offered = _offered(rd)
    kinds = ", ".join(f"'{k}'" for k in ENGAGEMENT_KINDS)
    with connect(db, read_only=True) as con:
        con.register("_w", w)
        con.register("_m", months)
        con.register("_o", offered)
        base = """
            WITH cw AS (SELECT w.customer_id, w.start::DATE AS start, m.month,
                               least(m.days, w.window_days)::INTEGER AS len
                        FROM _w w CROSS JOIN _m m),
                 lim AS (SELECT min(start::DATE) - max(window_days)::INTEGER AS lo,
                                least(max(start::DATE) + max(window_days)::INTEGER, ?::DATE + 1) AS hi FROM _w)
        """
        tx = con.execute(base + """
            , t AS (SELECT t.customer_id, t.date, t.amount::DOUBLE AS amount, t.category, t.spend_type
                    FROM transactions t, lim WHERE t.date >= lim.lo AND t.date < lim.hi
                      AND t.customer_id IN (SELECT customer_id FROM _w))
            SELECT cw.customer_id, cw.month, (t.date >= cw.start) AS post,
                   count(DISTINCT t.date) AS visits, sum(t.amount) AS spend,
                   coalesce(sum(t.amount) FILTER (WHERE t.spend_type = 'necessary'), 0) AS spend_necessary,
                   coalesce(sum(t.amount) FILTER (WHERE t.spend_type = 'discretionary'), 0) AS spend_discretionary,
                   bool_or(o.category IS NOT NULL) AS offer_match
            FROM cw JOIN t ON t.customer_id = cw.customer_id
                 AND t.date >= cw.start - cw.len AND t.date < cw.start + cw.len
            LEFT JOIN _o o ON o.customer_id = t.customer_id AND o.category = t.category
            GROUP BY ALL""", [rd.data_end]).df()
        ev = con.execute(base + f"""
            , e AS (SELECT e.customer_id, e.date, e.kind FROM events e, lim
                    WHERE e.date >= lim.lo AND e.date < lim.hi AND e.kind IN ({kinds})
                      AND e.customer_id IN (SELECT customer_id FROM _w))
            SELECT cw.customer_id, cw.month, (e.date >= cw.start) AS post, count(*) AS engagement,
                   count(*) FILTER (WHERE e.kind = 'referral') AS referrals
            FROM cw JOIN e ON e.customer_id = cw.customer_id
                 AND e.date >= cw.start - cw.len AND e.date < cw.start + cw.len
            GROUP BY ALL""", [rd.data_end]).df()
        for name in ("_w", "_m", "_o"):
            con.unregister(name)
    grid = pd.DataFrame({"customer_id": np.repeat(w["customer_id"].to_numpy(), len(months)),
                         "month": np.tile(months["month"].to_numpy(), len(w))})
    out = grid
    for frame, cols in ((tx, ["visits", "spend", "spend_necessary", "spend_discretionary", "offer_match"]),
                        (ev, ["engagement", "referrals"])):
        for post, prefix in ((True, ""), (False, "pre_")):
            part = frame[frame["post"] == post][["customer_id", "month", *cols]]
            part = part.rename(columns={c: prefix + c for c in cols})
            out = out.merge(part, on=["customer_id", "month"], how="left")
    for prefix in ("", "pre_"):
        for col in ("visits", "engagement", "referrals"):
            out[prefix + col] = out[prefix + col].fillna(0).astype(np.int64)
        for col in ("spend", "spend_necessary", "spend_discretionary"):
            out[prefix + col] = out[prefix + col].astype(float).fillna(0.0)
        out[prefix + "offer_match"] = out[prefix + "offer_match"].astype("boolean").fillna(False).astype(bool)
        out[prefix + "came_back"] = out[prefix + "visits"] > 0
        out[prefix + "engaged"] = out[prefix + "engagement"] > 0
    c = rd.customers
    out = out.merge(c, on="customer_id", how="left")
    has_bundle = out["bundle"].notna()
    out["offer_match"] = out["offer_match"] & has_bundle
    length = np.minimum(out["month"].to_numpy() * rd.settings.month_days, out["window_days"].to_numpy())
    out["window_end"] = out["start"] + pd.to_timedelta(length, unit="D")
    out["observed"] = out["window_end"] <= pd.Timestamp(rd.data_end) + pd.Timedelta(days=1)
    return out.sort_values(["month", "customer_id"], kind="stable").reset_index(drop=True)
