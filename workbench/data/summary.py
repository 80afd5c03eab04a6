"""A profile of what is in the store: row counts, date ranges, spend by year and type, the import log."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from workbench.data.store import connect


def data_summary(db: str | Path | None = None) -> dict[str, pd.DataFrame]:
    """Tidy frames describing the store's contents, one per aspect."""
    with connect(db, read_only=True) as con:
        tables = con.sql("""
            SELECT 'customers' AS "table", count(*) AS rows, NULL::DATE AS first_date, NULL::DATE AS last_date
              FROM customers
            UNION ALL SELECT 'transactions', count(*), min(date), max(date) FROM transactions
            UNION ALL SELECT 'events', count(*), min(date), max(date) FROM events""").df()
        spend = con.sql("""
            SELECT year(date) AS year, coalesce(spend_type, 'unknown') AS spend_type,
                   count(*) AS transactions, count(DISTINCT customer_id) AS customers,
                   CAST(sum(amount) AS DOUBLE) AS amount
              FROM transactions GROUP BY ALL ORDER BY year, spend_type""").df()
        events = con.sql("""SELECT kind, count(*) AS events, count(DISTINCT customer_id) AS customers
                              FROM events GROUP BY kind ORDER BY events DESC""").df()
        stores = con.sql("""SELECT coalesce(store, 'unknown') AS store, count(*) AS customers
                              FROM customers GROUP BY 1 ORDER BY 1""").df()
        imports = con.sql("""SELECT import_id, table_name, file_name, sheet, rows_read, rows_inserted,
                                    rows_updated, rows_skipped, imported_at FROM imports ORDER BY import_id""").df()
    return {"tables": tables, "spend_by_year": spend, "events_by_kind": events, "customers_by_store": stores,
            "imports": imports}


def customer_table(db: str | Path | None = None) -> pd.DataFrame:
    """Customers with their visit and spend totals: the table a manager scrolls first."""
    with connect(db, read_only=True) as con:
        return con.sql("""
            WITH v AS (
              SELECT customer_id, count(DISTINCT date) AS visits, min(date) AS first_visit,
                     max(date) AS last_visit, CAST(sum(amount) AS DOUBLE) AS total_spend,
                     CAST(sum(amount) FILTER (WHERE spend_type = 'necessary') AS DOUBLE) AS necessary_spend,
                     CAST(sum(amount) FILTER (WHERE spend_type = 'discretionary') AS DOUBLE) AS discretionary_spend
                FROM transactions GROUP BY customer_id),
            e AS (SELECT customer_id, count(*) AS events FROM events GROUP BY customer_id)
            SELECT c.customer_id, c.name, c.gender, c.age_band, c.region, c.store, c.preferred_channel,
                   c.colour, c.first_purchase_date, coalesce(v.visits, 0) AS visits, v.first_visit,
                   v.last_visit, coalesce(v.total_spend, 0) AS total_spend,
                   coalesce(v.necessary_spend, 0) AS necessary_spend,
                   coalesce(v.discretionary_spend, 0) AS discretionary_spend, coalesce(e.events, 0) AS events,
                   c.do_not_contact
              FROM customers c LEFT JOIN v USING (customer_id) LEFT JOIN e USING (customer_id)
             ORDER BY c.customer_id""").df()
