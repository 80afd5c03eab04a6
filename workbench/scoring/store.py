"""Scores in the store, dated by ``as_of``: monthly runs build a history; re-running a date replaces it.

Tables (created here, inside :func:`workbench.data.store.connect`):

- ``customer_scores``: one row per (as_of, customer_id), the contract the
  survey and campaign stages read (stage, tier, octant, churn_index,
  churn_reasons, early_warning, p_alive, clv_365, worth_winning_back, ...).
- ``scoring_correlations``: the churn indicators' pairwise correlations per as_of.
- ``scoring_runs``: one row per as_of: industry, config file, customer count, fitted model parameters.

All rows of one ``as_of`` are replaced in a single transaction, so a reader
never sees half a run.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from workbench.data.store import connect, transaction

#: customer_scores columns and SQL types (the contract; extra columns after ``worth_winning_back``).
SCORE_SCHEMA: dict[str, str] = {
    "as_of": "DATE", "customer_id": "VARCHAR", "industry": "VARCHAR",
    "stage": "VARCHAR", "tier": "INTEGER", "octant": "VARCHAR",
    "churn_index": "DOUBLE", "churn_reasons": "VARCHAR",
    "early_warning": "BOOLEAN", "early_warning_reason": "VARCHAR",
    "p_alive": "DOUBLE", "expected_visits_365": "DOUBLE", "clv_365": "DOUBLE",
    "worth_winning_back": "BOOLEAN",
    "winback_rank": "INTEGER", "value_if_won_back": "DOUBLE", "expected_spend_per_visit": "DOUBLE",
    "value_score": "DOUBLE", "early_warning_index": "DOUBLE", "do_not_contact": "BOOLEAN",
    "days_since_last": "DOUBLE", "first_purchase": "DATE", "last_purchase": "DATE",
    "visits": "INTEGER", "visits_365": "INTEGER",
    "spend": "DOUBLE", "spend_365": "DOUBLE", "necessary_spend": "DOUBLE", "necessary_spend_365": "DOUBLE",
    "discretionary_spend": "DOUBLE", "discretionary_spend_365": "DOUBLE",
    "typical_interval_days": "DOUBLE", "overdue_ratio": "DOUBLE", "rhythm_days": "DOUBLE",
    "overdue_vs_rhythm": "DOUBLE", "frequency_drop": "DOUBLE", "spend_drop": "DOUBLE",
    "engagement_drop": "DOUBLE", "complaints_365": "INTEGER", "engagement_points": "DOUBLE",
}
SCORE_COLUMNS = list(SCORE_SCHEMA)

_DDL = [
    "CREATE TABLE IF NOT EXISTS customer_scores (\n  "
    + ",\n  ".join(f'"{c}" {t}' + (" NOT NULL" if c in {"as_of", "customer_id"} else "")
                   for c, t in SCORE_SCHEMA.items()) + "\n)",
    """CREATE TABLE IF NOT EXISTS scoring_correlations (
        as_of DATE NOT NULL, industry VARCHAR, indicator_a VARCHAR NOT NULL, indicator_b VARCHAR NOT NULL,
        pearson_r DOUBLE, spearman_r DOUBLE, n BIGINT, redundant BOOLEAN)""",
    """CREATE TABLE IF NOT EXISTS scoring_runs (
        as_of DATE NOT NULL, industry VARCHAR NOT NULL, config_file VARCHAR, customers BIGINT,
        model JSON, created_at TIMESTAMP NOT NULL)""",
]


def ensure_scoring_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create the scoring tables if missing (idempotent)."""
    for ddl in _DDL:
        con.execute(ddl)


def _table_exists(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    return bool(con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = ?",
                            [name]).fetchall()[0][0])


def write_scores(db_path: str | Path | None, as_of: dt.date, industry: str, scores: pd.DataFrame,
                 correlations: pd.DataFrame, *, config_file: str = "", model: dict[str, Any] | None = None) -> None:
    """Replace everything stored for ``as_of`` with these scores, in one transaction."""
    frame = scores[[c for c in SCORE_COLUMNS if c not in {"as_of", "industry"}]]
    corr = correlations.assign(industry=industry)
    with connect(db_path) as con:
        ensure_scoring_tables(con)
        con.register("_scores", frame)
        con.register("_corr", corr)
        try:
            with transaction(con):
                for table in ("customer_scores", "scoring_correlations", "scoring_runs"):
                    con.execute(f"DELETE FROM {table} WHERE as_of = ?", [as_of])
                con.execute(f"INSERT INTO customer_scores BY NAME "
                            f"SELECT DATE '{as_of}' AS as_of, ? AS industry, * FROM _scores", [industry])
                con.execute(f"INSERT INTO scoring_correlations BY NAME "
                            f"SELECT DATE '{as_of}' AS as_of, * FROM _corr")
                con.execute("INSERT INTO scoring_runs VALUES (?, ?, ?, ?, ?, now()::TIMESTAMP)",
                            [as_of, industry, config_file, len(frame), json.dumps(model or {}, default=str)])
        finally:
            con.unregister("_scores")
            con.unregister("_corr")


def _read(db_path: str | Path | None, table: str, as_of: Any, order: str) -> pd.DataFrame:
    from workbench.scoring.features import as_date

    with connect(db_path, read_only=True) as con:
        if not _table_exists(con, table):
            return pd.DataFrame()
        if as_of is None:
            latest = con.execute(f"SELECT max(as_of) FROM {table}").fetchall()[0][0]
            if latest is None:
                return con.sql(f"SELECT * FROM {table} LIMIT 0").df()
            as_of = latest
        return con.execute(f"SELECT * FROM {table} WHERE as_of = ? ORDER BY {order}", [as_date(as_of)]).df()


def read_scores(db_path: str | Path | None = None, as_of: Any = None) -> pd.DataFrame:
    """The ``customer_scores`` rows of one as_of date (the latest by default), ordered by customer_id.

    Returns an empty frame with the contract's columns when nothing was scored yet.
    """
    df = _read(db_path, "customer_scores", as_of, "customer_id")
    if df.empty and not len(df.columns):
        return pd.DataFrame({c: pd.Series(dtype="object") for c in SCORE_COLUMNS})
    return df


def read_correlations(db_path: str | Path | None = None, as_of: Any = None) -> pd.DataFrame:
    """The churn indicators' pairwise correlations stored for one as_of (latest by default)."""
    return _read(db_path, "scoring_correlations", as_of, "indicator_a, indicator_b")


def score_history(db_path: str | Path | None = None) -> pd.DataFrame:
    """Customers per as_of and stage over all stored runs (tidy: as_of, stage, customers, worth_winning_back)."""
    with connect(db_path, read_only=True) as con:
        if not _table_exists(con, "customer_scores"):
            return pd.DataFrame(columns=["as_of", "stage", "customers", "worth_winning_back", "early_warning"])
        return con.sql("""SELECT as_of, stage, count(*) AS customers,
                                 count(*) FILTER (WHERE worth_winning_back) AS worth_winning_back,
                                 count(*) FILTER (WHERE early_warning) AS early_warning
                          FROM customer_scores GROUP BY ALL ORDER BY as_of, stage""").df()
