"""Checks before any result: sample-ratio mismatch, holdout contamination, contact coverage, complete windows.

A round whose arm sizes do not match the planned split (chi-square against the
round's holdout share, flagged below ``srm_alpha``) or whose holdout was
contacted cannot be read at face value; the report leads with these.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from workbench.evaluation import stats as S
from workbench.evaluation.rounds import RoundData


def contaminated(rd: RoundData) -> pd.DataFrame:
    """Holdout customers with any contact attempt recorded in the round (they should never be contacted)."""
    hold = set(rd.customers.loc[rd.customers["treat"] == 0, "customer_id"])
    a = rd.attempts[rd.attempts["customer_id"].isin(hold)]
    return (a.groupby("customer_id").agg(attempts=("attempts", "sum"), first_attempt=("attempt_date", "min"),
                                         outcomes=("outcome", lambda s: ", ".join(sorted(set(map(str, s))))))
            .reset_index())


def design_checks(rd: RoundData, out: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per check: check, value, p_val, flag (True = a problem), detail."""
    c = rd.customers
    n_t, n_h = int((c["treat"] == 1).sum()), int((c["treat"] == 0).sum())
    rows = []
    srm = S.srm([n_t, n_h], [1 - rd.holdout_share, rd.holdout_share]).iloc[0]
    share = n_h / (n_t + n_h) if n_t + n_h else np.nan
    rows.append({"check": "sample_ratio", "value": share, "p_val": srm["p_val"],
                 "flag": bool(srm["p_val"] < rd.settings.srm_alpha),
                 "detail": f"holdout {n_h:,} of {n_t + n_h:,} ({share:.1%}) against a planned {rd.holdout_share:.1%}; "
                           f"chi-square {srm['chi2']:.2f}, p = {srm['p_val']:.3g} (flagged below {rd.settings.srm_alpha:g})"})
    bad = contaminated(rd)
    rows.append({"check": "holdout_contamination", "value": len(bad) / n_h if n_h else np.nan, "p_val": np.nan,
                 "flag": bool(len(bad) > 0),
                 "detail": f"{len(bad):,} holdout customer(s) with contact attempts"
                           + (f" (e.g. {', '.join(bad['customer_id'].head(5))})" if len(bad) else "")})
    treated = c[c["treat"] == 1]
    rate = float(treated["contacted"].mean()) if len(treated) else np.nan
    reached = float(treated["reached"].mean()) if len(treated) else np.nan
    rows.append({"check": "contact_coverage", "value": rate, "p_val": np.nan, "flag": bool(len(treated) and rate < 0.5),
                 "detail": f"{rate:.1%} of treated customers have a contact attempt recorded, {reached:.1%} were reached; "
                           "the estimate covers all assigned customers (intention to treat)"})
    rows.append({"check": "attribution_window", "value": np.nan, "p_val": np.nan, "flag": False,
                 "detail": f"both arms measured from the round date {rd.round_date}, windows: {rd.window_rule}"})
    if rd.continuing:
        n_cont = sum(rd.continuing.values())
        parts = ", ".join(f"{v:,} {k}" for k, v in sorted(rd.continuing.items()))
        rows.append({"check": "continuing_customers", "value": n_cont, "p_val": np.nan, "flag": False,
                     "detail": f"{n_cont:,} customers continue a sequence from an earlier round ({parts}): their arm "
                               "was drawn there, so they are evaluated with that round and in the campaign effect, "
                               "not here"})
    if rd.as_of_note:
        rows.append({"check": "as_of", "value": np.nan, "p_val": np.nan, "flag": False, "detail": rd.as_of_note})
    if out is not None and len(out):
        for m, g in out.groupby("month"):
            share_obs = float(g["observed"].mean())
            rows.append({"check": f"window_complete_month_{m}", "value": share_obs, "p_val": np.nan,
                         "flag": bool(share_obs < 1),
                         "detail": f"month {m}: {share_obs:.1%} of customers' windows ended by the data end {rd.data_end}"})
    return pd.DataFrame(rows)
