"""Per-customer features as of a date, computed in one DuckDB query: RFM, own rhythm, engagement.

The aggregation runs in DuckDB because it is an order of magnitude faster than
pandas on millions of transactions and works the same on DataFrames (queried
in place) and on the store's tables. Same-day purchases are merged into one
visit (the convention of ``lifetimes`` and of the CDNOW reference data): a
visit is a (customer, day) pair, its amount the day's total.

Amounts are summed as exact decimals (cents) so that results do not depend on
the order in which parallel threads add them up: the same data always gives
the same scores, to the last bit.

Windows: "last 365 days" is the 365 days ending on ``as_of`` (``as_of - 364`` to
``as_of`` inclusive); "before" is everything from the first purchase up to the
start of that window. Purchases and events after ``as_of`` are ignored, so
scoring an earlier date reproduces what was knowable then.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import duckdb
import numpy as np
import pandas as pd

WINDOW_DAYS = 365
#: Engagement kinds counted per customer (``referral_bought`` = referrals whose friend bought by ``as_of``).
EVENT_KINDS = ("event_attended", "survey_answered", "forum_post", "answered_question", "suggestion")

FEATURE_COLUMNS = [
    "customer_id", "do_not_contact", "first_purchase", "last_purchase", "days_since_last",
    "visits", "visits_365", "spend", "spend_365", "avg_spend", "avg_spend_365",
    "necessary_spend", "necessary_spend_365", "discretionary_spend", "discretionary_spend_365",
    "typical_interval_days", "overdue_ratio", "monetary_value", "interval_before_days", "years_before",
    "engagement_events", "engagement_365", "engagement_before", "complaints", "complaints_365",
    "referral_bought", *EVENT_KINDS,
]


def as_date(value: Any) -> dt.date:
    """A calendar date from a date, datetime, Timestamp or ISO string (refusing anything else)."""
    if isinstance(value, pd.Timestamp):
        return value.date()
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        return dt.date.fromisoformat(value.strip()[:10])
    if isinstance(value, np.datetime64):
        return pd.Timestamp(value).date()
    raise TypeError(f"as_of: expected a date or 'YYYY-MM-DD', got {value!r}")


def _rfm_ctes(as_of: dt.date) -> str:
    window_start = as_of - dt.timedelta(days=WINDOW_DAYS)   # last 365 days: d > window_start
    return f"""
    tx AS (
        SELECT CAST(customer_id AS VARCHAR) AS customer_id, CAST("date" AS DATE) AS d,
               CAST(amount AS DECIMAL(18, 2)) AS amount, spend_type = 'necessary' AS nec
        FROM transactions
        WHERE customer_id IS NOT NULL AND CAST("date" AS DATE) <= DATE '{as_of}'
    ),
    visit AS (
        SELECT customer_id, d, sum(amount) AS amt,
               sum(CASE WHEN nec THEN amount ELSE 0 END) AS nec_amt
        FROM tx GROUP BY customer_id, d
    ),
    rfm AS (
        SELECT customer_id,
               min(d) AS first_purchase, max(d) AS last_purchase,
               count(*) AS visits,
               count(*) FILTER (WHERE d > DATE '{window_start}') AS visits_365,
               CAST(sum(amt) AS DOUBLE) AS spend,
               CAST(coalesce(sum(amt) FILTER (WHERE d > DATE '{window_start}'), 0) AS DOUBLE) AS spend_365,
               CAST(sum(nec_amt) AS DOUBLE) AS necessary_spend,
               CAST(coalesce(sum(nec_amt) FILTER (WHERE d > DATE '{window_start}'), 0) AS DOUBLE)
                   AS necessary_spend_365,
               CAST(arg_min(amt, d) AS DOUBLE) AS first_visit_spend,
               max(d) FILTER (WHERE d <= DATE '{window_start}') AS last_before
        FROM visit GROUP BY customer_id
    )"""


def _rfm_select(as_of: dt.date) -> str:
    window_start = as_of - dt.timedelta(days=WINDOW_DAYS)
    return f"""
        r.first_purchase, r.last_purchase,
        DATE '{as_of}' - r.last_purchase AS days_since_last,
        coalesce(r.visits, 0) AS visits, coalesce(r.visits_365, 0) AS visits_365,
        coalesce(r.spend, 0) AS spend, coalesce(r.spend_365, 0) AS spend_365,
        r.spend / r.visits AS avg_spend,
        CASE WHEN r.visits_365 > 0 THEN r.spend_365 / r.visits_365 END AS avg_spend_365,
        coalesce(r.necessary_spend, 0) AS necessary_spend,
        coalesce(r.necessary_spend_365, 0) AS necessary_spend_365,
        coalesce(r.spend - r.necessary_spend, 0) AS discretionary_spend,
        coalesce(r.spend_365 - r.necessary_spend_365, 0) AS discretionary_spend_365,
        CASE WHEN r.visits > 1 THEN (r.last_purchase - r.first_purchase) / (r.visits - 1) END
            AS typical_interval_days,
        CASE WHEN r.visits > 1 AND r.last_purchase > r.first_purchase
             THEN (DATE '{as_of}' - r.last_purchase) / ((r.last_purchase - r.first_purchase) / (r.visits - 1))
        END AS overdue_ratio,
        CASE WHEN r.visits > 1 THEN (r.spend - r.first_visit_spend) / (r.visits - 1)
             WHEN r.visits = 1 THEN 0.0 END AS monetary_value,
        CASE WHEN r.visits - r.visits_365 > 1
             THEN (r.last_before - r.first_purchase) / (r.visits - r.visits_365 - 1) END AS interval_before_days,
        CASE WHEN r.first_purchase <= DATE '{window_start}'
             THEN (DATE '{window_start}' - r.first_purchase) / 365.25 END AS years_before"""


def _features_sql(as_of: dt.date, with_customers: bool, with_events: bool = True) -> str:
    window_start = as_of - dt.timedelta(days=WINDOW_DAYS)
    counts = ["engagement_events", "engagement_365", "engagement_before", "complaints", "complaints_365",
              "referral_bought", *EVENT_KINDS]
    kinds = ",\n".join(f"count(*) FILTER (WHERE kind = '{k}') AS {k}" for k in EVENT_KINDS)
    eng_cte = f"""
    ev AS (
        SELECT CAST(customer_id AS VARCHAR) AS customer_id, CAST("date" AS DATE) AS d,
               CAST(kind AS VARCHAR) AS kind, CAST(referred_customer_id AS VARCHAR) AS ref
        FROM events
        WHERE customer_id IS NOT NULL AND CAST("date" AS DATE) <= DATE '{as_of}'
    ),
    eng AS (
        SELECT ev.customer_id,
               count(*) FILTER (WHERE kind <> 'complaint') AS engagement_events,
               count(*) FILTER (WHERE kind <> 'complaint' AND d > DATE '{window_start}') AS engagement_365,
               count(*) FILTER (WHERE kind <> 'complaint' AND d <= DATE '{window_start}') AS engagement_before,
               count(*) FILTER (WHERE kind = 'complaint') AS complaints,
               count(*) FILTER (WHERE kind = 'complaint' AND d > DATE '{window_start}') AS complaints_365,
               count(*) FILTER (WHERE kind = 'referral' AND b.customer_id IS NOT NULL) AS referral_bought,
               {kinds}
        FROM ev LEFT JOIN rfm b ON ev.ref = b.customer_id
        GROUP BY ev.customer_id
    )""" if with_events else ""
    cust_cte = """
    cust AS (SELECT CAST(customer_id AS VARCHAR) AS customer_id, any_value(do_not_contact) AS dnc
             FROM customers WHERE customer_id IS NOT NULL GROUP BY 1)""" if with_customers else ""
    # every customer known from any table: full outer joins on the id (USING merges the key columns)
    joins = "rfm r" + (" FULL OUTER JOIN eng e USING (customer_id)" if with_events else "") \
        + (" FULL OUTER JOIN cust c USING (customer_id)" if with_customers else "")
    eng_cols = ", ".join(f"coalesce(e.{c}, 0) AS {c}" if with_events else f"0 AS {c}" for c in counts)
    dnc_col = "coalesce(c.dnc, false)" if with_customers else "false"
    return f"""
    WITH {",".join(part for part in (_rfm_ctes(as_of), eng_cte, cust_cte) if part)}
    SELECT customer_id, {dnc_col} AS do_not_contact, {_rfm_select(as_of)}, {eng_cols}
    FROM {joins}
    ORDER BY customer_id
    """


def _finish(df: pd.DataFrame) -> pd.DataFrame:
    """Fix dtypes after DuckDB: counts as int64, dates as datetime64, customer_id as str."""
    for col in df.columns:
        if col in {"visits", "visits_365", "engagement_events", "engagement_365", "engagement_before",
                   "complaints", "complaints_365", "referral_bought", *EVENT_KINDS}:
            df[col] = df[col].astype("int64")
    for col in ("first_purchase", "last_purchase"):
        if col in df.columns:
            df[col] = pd.to_datetime(df[col])
    if "days_since_last" in df.columns:
        df["days_since_last"] = df["days_since_last"].astype("Float64").astype("float64")
    df["customer_id"] = df["customer_id"].astype("str")
    return df


def customer_features_sql(con: duckdb.DuckDBPyConnection, as_of: Any, *, with_customers: bool = True,
                          with_events: bool = True) -> pd.DataFrame:
    """Run the feature query on ``con``, whose ``transactions``, ``events`` (and ``customers``) it reads."""
    as_of = as_date(as_of)
    df = con.sql(_features_sql(as_of, with_customers, with_events)).df()
    return _finish(df)[FEATURE_COLUMNS]


def _memory_con(threads: int | None = None) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    return con


def customer_features(transactions: pd.DataFrame, as_of: Any, *, events: pd.DataFrame | None = None,
                      customers: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per customer (from customers, transactions and events) with every feature the scores use.

    ``transactions`` needs customer_id, date, amount, spend_type; ``events``
    customer_id, date, kind, referred_customer_id; ``customers`` customer_id
    and optionally do_not_contact. Customers without a purchase get NaN dates
    and zero counts.
    """
    _require(transactions, "transactions", ["customer_id", "date", "amount", "spend_type"])
    with _memory_con() as con:
        con.register("transactions", transactions)
        if events is not None:
            _require(events, "events", ["customer_id", "date", "kind"])
            if "referred_customer_id" not in events.columns:
                events = events.assign(referred_customer_id=pd.Series(pd.NA, index=events.index, dtype="str"))
            con.register("events", events)
        if customers is not None:
            _require(customers, "customers", ["customer_id"])
            cust = customers if "do_not_contact" in customers.columns else customers.assign(do_not_contact=False)
            con.register("customers", cust[["customer_id", "do_not_contact"]])
        return customer_features_sql(con, as_of, with_customers=customers is not None,
                                     with_events=events is not None)


def _require(df: pd.DataFrame, name: str, columns: list[str]) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"{name}: missing column(s) {missing}; it has {list(df.columns)}")
