"""Erase one person's personal data from the store, keep the anonymous aggregates.

``purge_customers(db, ["C00042"])`` (or ``workbench purge --customer C00042``), for a customer who asks to be
forgotten:

* the customer's ``personal`` columns (schema.yaml: name, phone, WeChat id, birth year, plate number, ...)
  become missing, and so does every free text tied to them: event details, free-text and "other" survey
  answers, call-team notes;
* the customer is marked do-not-contact (customers flag and the ``do_not_contact`` table), so no later
  survey sample or campaign round picks them, and recorded in ``purged_customers``, so a later CRM
  re-import cannot bring the personal data back (the importer scrubs purged customers in the same
  transaction that lands the file);
* transactions, events (their kind and date), stages, tiers, scores, survey codes and campaign
  assignments stay under the pseudonymous customer id: totals, rates and evaluations do not change;
* the store file is then rewritten (``COPY FROM DATABASE`` into a new file, swapped in atomically): DuckDB
  leaves overwritten values in free blocks of the old file, and a purge must not leave them readable.

Workbooks already written (earlier months' outputs) are files outside the store: delete or re-export them.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from collections.abc import Sequence
from pathlib import Path

import duckdb
import pandas as pd

from workbench.data.schema import load_schema
from workbench.data.store import connect, quote_identifier as _q, require_room, transaction
from workbench.errors import InputError
from workbench.paths import default_db_path

#: Columns of workbench-written tables that hold free text about a person, wherever a customer_id sits beside.
FREE_TEXT_COLUMNS = ("notes", "note", "detail", "comment", "text", "quote", "free_text")
#: Survey answer types whose text is the person's own words (choice codes and numbers are kept).
FREE_TEXT_TYPES = ("free_text",)

class PurgeError(InputError):
    """The purge could not be done (unknown customer); nothing was changed."""


@dataclass(frozen=True)
class PurgeResult:
    """What a purge changed: one row per table and column (``cells`` set to missing)."""

    customer_ids: tuple[str, ...]
    db: Path
    changes: pd.DataFrame

    def __str__(self) -> str:
        n = int(self.changes["cells"].sum()) if len(self.changes) else 0
        return (f"{len(self.customer_ids)} customer(s) purged ({', '.join(self.customer_ids)}): {n} personal "
                f"value(s) erased from {self.db}, marked do-not-contact; aggregates kept")


def personal_columns() -> dict[str, list[str]]:
    """Per importable table, the columns schema.yaml marks ``personal``."""
    return {t.name: [c.name for c in t.columns.values() if c.personal] for t in load_schema().values()}


def _tables(con: duckdb.DuckDBPyConnection) -> dict[str, list[str]]:
    """Every table of the store with its columns, in order."""
    rows = con.execute("SELECT table_name, column_name FROM information_schema.columns "
                       "WHERE table_schema = 'main' ORDER BY table_name, ordinal_position").fetchall()
    out: dict[str, list[str]] = {}
    for t, c in rows:
        out.setdefault(t, []).append(c)
    return out


def _free_text_questions(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    """(survey_id, question) pairs whose answers are the respondent's own words."""
    pairs = []
    for survey_id, definition in con.execute("SELECT survey_id, definition FROM surveys").fetchall():
        doc = json.loads(definition) if isinstance(definition, str) else definition
        for q in (doc or {}).get("questions", []):
            if not isinstance(q, dict) or "name" not in q:
                continue
            pairs.append((survey_id, f"{q['name']}_other"))  # "other, please say" texts
            if q.get("type") in FREE_TEXT_TYPES:
                pairs.append((survey_id, q["name"]))
    return pairs


def scrub_purged(con: duckdb.DuckDBPyConnection, ids: list[str] | None = None) -> pd.DataFrame:
    """Set every personal value of the purged customers (``ids``, default all in ``purged_customers``) to
    missing, inside the caller's transaction. Returns the cells changed per table and column."""
    con.register("_purged_ids", pd.DataFrame({"customer_id": pd.Series(
        ids if ids is not None else [r[0] for r in con.execute("SELECT customer_id FROM purged_customers").fetchall()],
        dtype="object")}))
    changes = []
    try:
        tables = _tables(con)
        targets: dict[str, list[str]] = {}
        for table, cols in personal_columns().items():
            targets.setdefault(table, []).extend(c for c in cols if c in tables.get(table, []))
        for table, cols in tables.items():
            if "customer_id" in cols and table not in ("survey_responses",):
                targets.setdefault(table, []).extend(c for c in cols if c in FREE_TEXT_COLUMNS)
        for table, cols in targets.items():
            for col in dict.fromkeys(cols):
                n = con.execute(f"UPDATE {_q(table)} SET {_q(col)} = NULL WHERE {_q(col)} IS NOT NULL AND "
                                f"CAST(customer_id AS VARCHAR) IN (SELECT customer_id FROM _purged_ids)").fetchall()[0][0]
                changes.append({"table": table, "column": col, "cells": int(n)})
        if "survey_responses" in tables:
            con.register("_free_q", pd.DataFrame(_free_text_questions(con), columns=["survey_id", "question"]))
            n = con.execute("UPDATE survey_responses SET answer = NULL WHERE answer IS NOT NULL AND "
                            "customer_id IN (SELECT customer_id FROM _purged_ids) AND (survey_id, question) IN "
                            "(SELECT survey_id, question FROM _free_q)").fetchall()[0][0]
            con.unregister("_free_q")
            changes.append({"table": "survey_responses", "column": "answer (free text)", "cells": int(n)})
        if "customers" in tables and "do_not_contact" in tables["customers"]:
            con.execute("UPDATE customers SET do_not_contact = TRUE WHERE customer_id IN "
                        "(SELECT customer_id FROM _purged_ids) AND do_not_contact IS DISTINCT FROM TRUE")
    finally:
        con.unregister("_purged_ids")
    return pd.DataFrame(changes, columns=["table", "column", "cells"])


def _check_room(db: Path) -> None:
    """PurgeError before anything changes when the disk cannot hold the rewritten copy of the store."""
    try:
        require_room(db, int(db.stat().st_size * 1.1), "rewriting the store to erase the data")
    except OSError as exc:
        raise PurgeError(f"not enough free space: {exc.strerror}; nothing was changed") from exc


def rewrite_store(db: str | Path) -> None:
    """Rewrite the store into a fresh file and swap it in, so erased values leave no trace in free blocks.

    Both files stay open (and so locked against other processes) across the swap: a process waiting for
    the store opens it only once the new file is complete and in place, and no write can land in the old
    file after the copy. A failure leaves the old file untouched and removes the half-written copy."""
    db = Path(db)
    fresh = db.with_name(f".{db.name}.rewrite")
    for leftover in (fresh, fresh.with_name(fresh.name + ".wal")):
        leftover.unlink(missing_ok=True)
    _check_room(db)
    with connect(db) as con:
        con.execute("CHECKPOINT")
        try:
            con.execute(f"ATTACH '{str(fresh).replace(chr(39), chr(39) * 2)}' AS _fresh")
            con.execute(f"COPY FROM DATABASE {_q(_catalog(con))} TO _fresh")
            con.execute("DETACH _fresh")
            with connect(fresh, read_only=True):  # lock the new file before its name becomes the store's
                os.replace(fresh, db)
                con.close()  # the old file, now nameless: nothing more is written to it
        except BaseException:
            fresh.unlink(missing_ok=True)
            raise


def _catalog(con: duckdb.DuckDBPyConnection) -> str:
    return con.execute("SELECT current_database()").fetchall()[0][0]


def purge_customers(db: str | Path | None, customer_ids: Sequence[str]) -> PurgeResult:
    """Erase these customers' personal data (see the module docstring) in one transaction and one rewrite
    of the store; PurgeError naming every unknown id, with nothing changed, if any id is not in the store."""
    path = Path(db) if db is not None else default_db_path()
    ids = list(dict.fromkeys(str(c).strip() for c in customer_ids))
    if not ids:
        raise PurgeError("no customer id given")
    _check_room(path)
    with connect(path) as con:
        con.register("_ids", pd.DataFrame({"customer_id": pd.Series(ids, dtype="object")}))
        unknown = [r[0] for r in con.execute("SELECT customer_id FROM _ids WHERE customer_id NOT IN "
                                             "(SELECT customer_id FROM customers)").fetchall()]
        if unknown:
            raise PurgeError(f"customer(s) {', '.join(map(repr, unknown))} not in the store {path}: "
                             "nothing was changed")
        with transaction(con):
            con.execute("INSERT INTO purged_customers SELECT customer_id, now() FROM _ids ON CONFLICT DO NOTHING")
            changes = scrub_purged(con, ids)
            con.execute("INSERT INTO do_not_contact (customer_id, round_id, source_file, recorded_at) "
                        "SELECT customer_id, NULL, 'workbench purge', now() FROM _ids ON CONFLICT DO NOTHING")
        con.unregister("_ids")
    rewrite_store(path)
    return PurgeResult(tuple(ids), path, changes)
