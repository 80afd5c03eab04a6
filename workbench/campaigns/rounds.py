"""Rounds in the store: read the engine's inputs, save a planned round, read it back, close it.

Tables (``workbench/data/store.sql``; columns documented in ``docs/campaigns.md``): ``campaigns``,
``rounds``, ``assignments``, ``contact_attempts``, ``campaign_bundles`` (bundle -> categories, for the
evaluation's "did they buy what was offered") and ``do_not_contact``. A round is written in one
transaction; the evaluation stage reads it with :func:`read_round`.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pandas as pd

from workbench.campaigns.assign import HISTORY_COLUMNS, OUTCOME_PRIORITY, RoundInputs, RoundPlan, plan_round
from workbench.campaigns.playbook import Playbook, load_playbook
from workbench.campaigns.reasons import known_reasons
from workbench.data.store import connect, transaction
from workbench.errors import InputError, NotFound

CUSTOMER_FIELDS = ["customer_id", "name", "phone", "store", "preferred_channel", "preferred_time", "colour",
                   "age_band", "gender", "region", "do_not_contact"]


class RoundError(InputError):
    """A round cannot be created, replaced or closed as asked."""


def _rows(con, sql: str, params: list | None = None) -> list[tuple]:
    return con.execute(sql, params or []).fetchall()


def load_inputs(db: str | Path | None, playbook: Playbook, round_date: Any, *, campaign_id: str | None = None,
                exclude_round: str | None = None, survey_id: str | None = None) -> RoundInputs:
    """Read everything :func:`workbench.campaigns.assign.plan_round` needs from the store."""
    from workbench.scoring.store import read_scores

    round_date = pd.Timestamp(round_date).date()
    campaign_id = campaign_id or playbook.id
    scores = read_scores(db)
    if not len(scores):
        raise RoundError(f"{db}: no customer scores yet: run the scoring first (workbench.scoring.score_customers)")
    known = known_reasons(db, survey_id)
    with connect(db):  # a read-write open brings an older store's schema up to date (idempotent)
        pass
    with connect(db, read_only=True) as con:
        have = {r[0] for r in _rows(con, "SELECT column_name FROM information_schema.columns WHERE table_name='customers'")}
        cols = ", ".join(f'"{c}"' for c in CUSTOMER_FIELDS if c in have)
        extra = [c for c in playbook.segment_by if c in have and c not in CUSTOMER_FIELDS]
        customers = con.sql(f"SELECT {cols}{''.join(', ' + repr(c).replace(chr(39), chr(34)) for c in extra)} "
                            f"FROM customers").df()
        spend = con.execute("SELECT customer_id, category, sum(amount)::DOUBLE AS amount FROM transactions "
                            "WHERE date < ? AND category IS NOT NULL GROUP BY ALL", [round_date]).df()
        last = con.sql("SELECT customer_id, max(date) AS last_purchase FROM transactions GROUP BY ALL").df()
        history = con.execute(f"""
            WITH att AS (
                SELECT round_id, customer_id, max(attempt_date) AS attempt_date,
                       arg_min(outcome, CASE outcome {' '.join(f"WHEN '{o}' THEN {i}" for i, o in enumerate(OUTCOME_PRIORITY))}
                                        ELSE 99 END) AS outcome
                FROM contact_attempts GROUP BY ALL)
            SELECT a.customer_id, a.round_id, r.round_date, a.arm, a.script_step, att.outcome, att.attempt_date,
                   a.cohort_round
            FROM assignments a JOIN rounds r USING (round_id)
            LEFT JOIN att ON att.round_id = a.round_id AND att.customer_id = a.customer_id
            WHERE r.campaign_id = ? AND a.arm IN ('treatment', 'holdout') AND a.round_id <> ?""",
                              [campaign_id, exclude_round or ""]).df()
        open_ids = {r[0] for r in _rows(con, """
            SELECT DISTINCT a.customer_id FROM assignments a JOIN rounds r USING (round_id)
            WHERE r.status = 'open' AND a.arm IN ('treatment', 'holdout') AND a.round_id <> ?""",
                                        [exclude_round or ""])}
        dnc = {r[0] for r in _rows(con, "SELECT customer_id FROM do_not_contact")}
    return RoundInputs(scores=scores, customers=customers, spend=spend, known_reasons=known,
                       history=history[HISTORY_COLUMNS], last_purchase=last,
                       open_round_customers=frozenset(open_ids), do_not_contact=frozenset(dnc))


def plan_from_store(db: str | Path | None, playbook: str | Path | Playbook, round_date: Any, *,
                    budget: float | None = None, filters: dict[str, Any] | None = None,
                    holdout_share: float | None = None, seed: int | None = None, agents: list[str] | None = None,
                    campaign_id: str | None = None, survey_id: str | None = None) -> RoundPlan:
    """Plan a round from the store without writing anything (the notebook's live preview)."""
    pb = playbook if isinstance(playbook, Playbook) else load_playbook(playbook)
    campaign_id = campaign_id or pb.id
    round_id = f"{campaign_id}-{pd.Timestamp(round_date):%Y%m%d}"
    inputs = load_inputs(db, pb, round_date, campaign_id=campaign_id, exclude_round=round_id, survey_id=survey_id)
    return plan_round(inputs, pb, round_date, budget=budget, filters=filters, holdout_share=holdout_share,
                      seed=seed, agents=agents, campaign_id=campaign_id, round_id=round_id)


def save_round(db: str | Path | None, plan: RoundPlan, *, replace: bool = False) -> str:
    """Write the round (campaign, bundle map, rounds row, assignments) in one transaction; returns the round id.

    An existing round with the same id is refused unless ``replace`` is true and no contact attempts were
    recorded for it yet.
    """
    r = plan.round
    pb = plan.playbook
    a = plan.assignments.copy()
    bundles = pd.DataFrame([{"campaign_id": r["campaign_id"], "bundle": b.id, "category": c, "kind": b.kind,
                             "cost": b.cost, "valid_days": b.valid_days}
                            for b in pb.bundles.values() for c in b.categories])
    with connect(db) as con:
        exists = _rows(con, "SELECT status FROM rounds WHERE round_id = ?", [r["round_id"]])
        if exists:
            attempts = _rows(con, "SELECT count(*) FROM contact_attempts WHERE round_id = ?", [r["round_id"]])[0][0]
            if not replace:
                raise RoundError(f"round {r['round_id']!r} already exists; pass replace=True to re-plan it "
                                 f"(only before any call results are imported)")
            if attempts:
                raise RoundError(f"round {r['round_id']!r} already has {attempts} contact attempt(s) imported; "
                                 f"it cannot be replaced")
        con.register("_a", a)
        con.register("_b", bundles)
        try:
            with transaction(con):
                if exists:
                    con.execute("DELETE FROM assignments WHERE round_id = ?", [r["round_id"]])
                    con.execute("DELETE FROM rounds WHERE round_id = ?", [r["round_id"]])
                con.execute("INSERT OR IGNORE INTO campaigns VALUES (?, ?, ?, now()::TIMESTAMP)",
                            [r["campaign_id"], pb.id, json.dumps(pb.raw, ensure_ascii=False, default=str)])
                con.execute("INSERT OR REPLACE INTO campaign_bundles BY NAME SELECT * FROM _b")
                con.execute("""INSERT INTO rounds (round_id, campaign_id, round_date, budget, holdout_share, seed, status,
                                   created_at, playbook, playbook_file, scores_as_of, planned_cost, holdout_draw, filters)
                               VALUES (?, ?, ?, ?, ?, ?, 'open', now()::TIMESTAMP, ?, ?, ?, ?, ?, ?)""",
                            [r["round_id"], r["campaign_id"], r["round_date"], r["budget"], r["holdout_share"], r["seed"],
                             r["playbook"], r["playbook_file"], r["scores_as_of"], r["planned_cost"], r["holdout_draw"],
                             json.dumps(r["filters"], ensure_ascii=False, default=str)])
                con.execute("INSERT INTO assignments BY NAME SELECT * FROM _a")
        finally:
            con.unregister("_a")
            con.unregister("_b")
    return str(r["round_id"])


def create_round(db: str | Path | None, playbook: str | Path | Playbook, round_date: Any, *,
                 budget: float | None = None, filters: dict[str, Any] | None = None,
                 holdout_share: float | None = None, seed: int | None = None, agents: list[str] | None = None,
                 campaign_id: str | None = None, replace: bool = False) -> RoundPlan:
    """Plan a round from the store and save it; returns the plan (``plan.round['round_id']``)."""
    plan = plan_from_store(db, playbook, round_date, budget=budget, filters=filters, holdout_share=holdout_share,
                           seed=seed, agents=agents, campaign_id=campaign_id)
    save_round(db, plan, replace=replace)
    return plan


def read_round(db: str | Path | None, round_id: str) -> pd.DataFrame:
    """The assignments of one round (every targeted customer: treatment, holdout and excluded), with the
    round's date, campaign and seed; ordered by priority. KeyError if there is no such round."""
    with connect(db, read_only=True) as con:
        if not _rows(con, "SELECT 1 FROM rounds WHERE round_id = ?", [round_id]):
            raise NotFound(f"no round {round_id!r} in {db}")
        return con.execute("""
            SELECT a.*, r.campaign_id, r.round_date, r.seed, r.holdout_share, r.status AS round_status
            FROM assignments a JOIN rounds r USING (round_id)
            WHERE a.round_id = ? ORDER BY a.priority, a.customer_id""", [round_id]).df()


def list_rounds(db: str | Path | None, campaign_id: str | None = None) -> pd.DataFrame:
    """Rounds with their counts per arm, newest first."""
    with connect(db, read_only=True) as con:
        return con.execute("""
            SELECT r.round_id, r.campaign_id, r.round_date, r.status, r.budget, r.planned_cost, r.holdout_share, r.seed,
                   count(*) FILTER (WHERE a.arm = 'treatment') AS treatment,
                   count(*) FILTER (WHERE a.arm = 'holdout') AS holdout,
                   count(*) FILTER (WHERE a.arm = 'excluded') AS excluded
            FROM rounds r LEFT JOIN assignments a USING (round_id)
            WHERE ? IS NULL OR r.campaign_id = ?
            GROUP BY ALL ORDER BY r.round_date DESC, r.round_id""", [campaign_id, campaign_id]).df()


def close_round(db: str | Path | None, round_id: str) -> None:
    """Mark a round closed: its customers may enter the next round (which continues their sequence)."""
    with connect(db) as con:
        if not _rows(con, "SELECT 1 FROM rounds WHERE round_id = ?", [round_id]):
            raise NotFound(f"no round {round_id!r} in {db}")
        con.execute("UPDATE rounds SET status = 'closed', closed_at = now()::TIMESTAMP WHERE round_id = ?", [round_id])


def bundle_categories(db: str | Path | None, campaign_id: str | None = None) -> pd.DataFrame:
    """The bundle -> category mapping per campaign (campaign_id, bundle, category, kind, cost, valid_days)."""
    with connect(db, read_only=True) as con:
        return con.execute("SELECT * FROM campaign_bundles WHERE ? IS NULL OR campaign_id = ? "
                           "ORDER BY campaign_id, bundle, category", [campaign_id, campaign_id]).df()


def round_date_of(db: str | Path | None, round_id: str) -> dt.date:
    with connect(db, read_only=True) as con:
        rows = _rows(con, "SELECT round_date FROM rounds WHERE round_id = ?", [round_id])
    if not rows:
        raise NotFound(f"no round {round_id!r} in {db}")
    return rows[0][0]
