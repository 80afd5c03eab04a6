"""Cost of a round against its incremental spend: return on the campaign with an interval.

Cost = contact attempts by channel at the campaign's unit costs
(``contact.channel_cost``) + the cost of each bundle actually redeemed (a
treated customer bought in the offered bundle's categories inside the window).
Incremental spend = (treated mean - holdout mean) x treated customers, with
the bootstrap interval of the mean difference scaled the same way; ROI =
(margin_rate x incremental spend - cost) / cost, its interval from the
interval of the incremental spend (cost is known). With ``margin_rate`` unset
the return is on revenue (margin 1), and every table and sentence says so
(``basis`` = "revenue"): a return on revenue overstates the return on profit.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from workbench.evaluation.rounds import RoundData


def contact_costs(rd: RoundData) -> pd.DataFrame:
    """Attempts and their cost per channel (channel missing on an attempt: the customer's assigned channel)."""
    a = rd.attempts.copy()
    if a.empty:
        return pd.DataFrame(columns=["channel", "attempts", "unit_cost", "cost"])
    assigned = rd.customers.set_index("customer_id")["channel"]
    a["channel"] = a["channel"].where(a["channel"].notna(), a["customer_id"].map(assigned)).fillna("unknown").astype(str)
    g = a.groupby("channel", as_index=False)["attempts"].sum()
    g["unit_cost"] = g["channel"].map(rd.channel_cost).astype(float).fillna(0.0)
    g["cost"] = g["attempts"] * g["unit_cost"]
    return g


def redeemed_bundle_cost(rd: RoundData, treated: pd.DataFrame) -> float:
    """Cost of the bundles redeemed by these treated customer-rows (``offer_match`` True)."""
    if rd.bundles.empty or not len(treated):
        return 0.0
    unit = rd.bundles.drop_duplicates("bundle").set_index("bundle")["cost"].astype(float)
    return float(treated.loc[treated["offer_match"], "bundle"].map(unit).fillna(0.0).sum())


def round_roi(rd: RoundData, out: pd.DataFrame, amounts: pd.DataFrame) -> pd.DataFrame:
    """Per month: contact cost, redeemed bundle cost, incremental spend with CI, net and ROI with CI."""
    contacts = contact_costs(rd)
    contact_cost = float(contacts["cost"].sum()) if len(contacts) else 0.0
    margin = 1.0 if rd.settings.margin_rate is None else rd.settings.margin_rate
    basis = "revenue" if rd.settings.margin_rate is None else "profit"
    rows = []
    for m, g in out.groupby("month", sort=True):
        t = g[g["treat"] == 1]
        redeemed = t[t["offer_match"]]
        bundle_cost = redeemed_bundle_cost(rd, t)
        sp = amounts[(amounts["month"] == m) & (amounts["outcome"] == "spend")]
        n_t = len(t)
        if sp.empty:
            continue
        s = sp.iloc[0]
        incr, lo, hi = s["diff"] * n_t, s["boot_lo"] * n_t, s["boot_hi"] * n_t
        cost = contact_cost + bundle_cost
        roi = (margin * np.array([incr, lo, hi]) - cost) / cost if cost > 0 else np.full(3, np.nan)
        rows.append({"month": m, "treated": n_t, "contact_attempts": int(contacts["attempts"].sum()) if len(contacts) else 0,
                     "contact_cost": contact_cost, "bundles_redeemed": len(redeemed), "bundle_cost": bundle_cost,
                     "cost": cost, "incremental_spend": incr, "incremental_lo": lo, "incremental_hi": hi,
                     "margin_rate": margin, "basis": basis, "net": margin * incr - cost, "roi": roi[0], "roi_lo": roi[1], "roi_hi": roi[2]})
    return pd.DataFrame(rows)
