"""RFM summary from transactions as of a date, and the ``lifetimes`` frequency/recency/T view of it.

:func:`rfm_summary` gives, per customer who bought: days since the last visit,
visits and spend (total, average), all time and in the last 365 days, split
into necessary and discretionary spend, the customer's own typical interval
between visits and how overdue they are against it. :func:`lifetimes_summary`
turns it into the columns the BG/NBD family of models expects, in the same
convention as ``lifetimes.utils.summary_data_from_transaction_data`` so that
analysts can cross-check.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from workbench.scoring.features import as_date, customer_features

RFM_COLUMNS = [
    "customer_id", "first_purchase", "last_purchase", "days_since_last",
    "visits", "visits_365", "spend", "spend_365", "avg_spend", "avg_spend_365",
    "necessary_spend", "necessary_spend_365", "discretionary_spend", "discretionary_spend_365",
    "typical_interval_days", "overdue_ratio", "monetary_value",
]


def rfm_summary(transactions: pd.DataFrame, as_of: Any) -> pd.DataFrame:
    """One row per customer with a purchase on or before ``as_of`` (see module docstring).

    ``typical_interval_days`` is the mean gap between the customer's visits,
    ``(last - first) / (visits - 1)``, NaN for one-visit customers;
    ``overdue_ratio`` is days since the last visit divided by it. A transaction
    whose ``spend_type`` is not ``necessary`` counts as discretionary.
    """
    df = customer_features(transactions, as_of)
    return df.loc[df["visits"] > 0, RFM_COLUMNS].reset_index(drop=True)


def lifetimes_summary(rfm: pd.DataFrame, as_of: Any, unit_days: float = 1.0) -> pd.DataFrame:
    """``frequency`` (repeat visits), ``recency`` (age at last visit), ``T`` (age) and ``monetary_value``.

    Ages are measured from the first visit, in units of ``unit_days`` (7 for
    weeks); ``monetary_value`` is the mean spend of the repeat visits (0 for
    one-visit customers), as in ``lifetimes``.
    """
    as_of_ts = pd.Timestamp(as_date(as_of))
    day = pd.Timedelta(days=1)
    out = pd.DataFrame({
        "customer_id": rfm["customer_id"],
        "frequency": (rfm["visits"] - 1).astype("float64"),
        "recency": (rfm["last_purchase"] - rfm["first_purchase"]) / day / unit_days,
        "T": (as_of_ts - rfm["first_purchase"]) / day / unit_days,
        "monetary_value": rfm["monetary_value"].astype("float64"),
    })
    return out
