"""What the evaluation needs to know about a round: who was randomised to which arm, when the clock starts.

Both arms are measured alike, by construction (intention to treat):

* **Who.** The customers whose arm was drawn in this round (``cohort_round``):
  new entrants, treatment and holdout. Customers continuing a sequence from an
  earlier round (a 2nd or 3rd contact, or a persistent holdout) were filtered
  by what happened to them after their own draw, so they are not a randomised
  comparison here: they are counted, and evaluated with the round that drew
  them (and in the campaign-level effect). ``excluded`` customers are counted.
* **When.** Every customer's clock starts on the round date, treated or not,
  reached or not: a treated customer's first call can come days later, but
  starting them there would put post-randomisation days into their "before"
  window and measure the arms over different calendar spans.
* **How long.** The attribution window is the round's own ``window_days`` when
  set (rounds imported from other tools), else the window of each customer's
  *assigned* channel, which the holdout carries too (the channel it would have
  had). Where any live customer lacks an assigned channel (rounds written
  before holdouts carried one), every customer gets the default window, so the
  arms are never measured over different spans.

``data_end`` (the evaluation's as-of date) bounds what is observed: later
purchases are ignored, so re-running an evaluation as of the same date gives
the same numbers.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from workbench.data.store import connect
from workbench.errors import NotFound
from workbench.evaluation.config import EvaluationSettings, load_settings

ASSIGNMENT_COLUMNS = ["customer_id", "arm", "arm_name", "tier", "stage", "reason", "reason_source", "script_step",
                      "channel", "bundle", "agent", "cohort_round"]


@dataclass
class RoundData:
    """One round ready for evaluation (customers of both arms with their start and window)."""

    round_id: str
    campaign_id: str
    round_date: dt.date
    holdout_share: float
    settings: EvaluationSettings
    customers: pd.DataFrame          # one row per treatment/holdout customer
    attempts: pd.DataFrame           # contact attempts of the round (all arms)
    bundles: pd.DataFrame            # bundle, category, cost, valid_days
    channel_cost: dict[str, float]
    excluded: int
    data_end: dt.date
    definition: dict[str, Any] = field(repr=False, default_factory=dict)
    as_of_note: str = ""             # why the requested as_of was not used, if it was not
    continuing: dict[str, int] = field(default_factory=dict)  # arm -> customers drawn in an earlier round
    window_rule: str = ""            # how the attribution windows were set (the same rule for both arms)
    source: str = "workbench"        # where the round was run: workbench, or the file it was imported from


def _tables(con) -> set[str]:
    return {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}


def _assignments(db, round_id: str) -> pd.DataFrame:
    try:
        from workbench.campaigns.rounds import read_round
    except ImportError:  # the campaign stage is optional for evaluating rounds already in a store
        read_round = None
    if read_round is not None:
        return read_round(db, round_id)
    with connect(db, read_only=True) as con:
        frame = con.execute("""SELECT a.*, r.campaign_id, r.round_date, r.seed, r.holdout_share
                               FROM assignments a JOIN rounds r USING (round_id) WHERE a.round_id = ?""",
                            [round_id]).df()
    if frame.empty:
        raise NotFound(f"no round {round_id!r} in {db}")
    return frame


def latest_round(db, campaign_id: str | None = None) -> str:
    """The newest round (of a campaign, if given)."""
    with connect(db, read_only=True) as con:
        rows = con.execute("SELECT round_id FROM rounds WHERE ? IS NULL OR campaign_id = ? "
                           "ORDER BY round_date DESC, round_id DESC LIMIT 1", [campaign_id, campaign_id]).fetchall()
    if not rows:
        raise NotFound(f"no rounds{' of campaign ' + repr(campaign_id) if campaign_id else ''} in {db}")
    return rows[0][0]


def campaign_rounds(db, campaign_id: str) -> pd.DataFrame:
    """All rounds of a campaign (round_id, round_date), oldest first."""
    with connect(db, read_only=True) as con:
        return con.execute("SELECT round_id, round_date FROM rounds WHERE campaign_id = ? ORDER BY round_date, round_id",
                           [campaign_id]).df()


def data_end(db) -> dt.date:
    """The last date with any transaction or event: outcomes after it are not observed yet."""
    with connect(db, read_only=True) as con:
        row = con.execute("SELECT greatest((SELECT max(date) FROM transactions), (SELECT max(date) FROM events))"
                          ).fetchall()[0][0]
    if row is None:
        raise ValueError(f"{db}: no transactions or events: nothing to evaluate")
    return pd.Timestamp(row).date()


def _bundles(con, campaign_id: str, definition: dict) -> pd.DataFrame:
    cols = ["bundle", "category", "cost", "valid_days"]
    if "campaign_bundles" in _tables(con):
        frame = con.execute("SELECT bundle, category, cost, valid_days FROM campaign_bundles WHERE campaign_id = ?",
                            [campaign_id]).df()
        if len(frame):
            return frame[cols]
    rows = [(b, c, spec.get("cost", 0.0), spec.get("valid_days"))
            for b, spec in (definition.get("bundles") or {}).items() for c in spec.get("categories", [])]
    return pd.DataFrame(rows, columns=cols)


def _earlier_members(con, campaign_id: str, round_id: str, round_date: dt.date) -> set[str]:
    """Customers in a treatment or holdout arm of an earlier round of the campaign (for rounds written before
    ``cohort_round`` was recorded: a customer's first round is the one that drew their arm)."""
    rows = con.execute("""SELECT DISTINCT a.customer_id FROM assignments a JOIN rounds r USING (round_id)
                          WHERE r.campaign_id = ? AND a.arm IN ('treatment', 'holdout')
                            AND (r.round_date < ? OR (r.round_date = ? AND r.round_id < ?))""",
                       [campaign_id, round_date, round_date, round_id]).fetchall()
    return {str(r[0]) for r in rows}


def load_round(db: str | Path | None, round_id: str, settings: EvaluationSettings | None = None,
               as_of: Any = None) -> RoundData:
    """Read a round, its contact attempts and its campaign's costs and bundles from the store."""
    a = _assignments(db, round_id)
    if a.empty:
        raise NotFound(f"round {round_id!r} has no assignments")
    campaign_id = str(a["campaign_id"].iloc[0])
    round_date = pd.Timestamp(a["round_date"].iloc[0]).date()
    with connect(db, read_only=True) as con:
        rows = con.execute("SELECT definition FROM campaigns WHERE campaign_id = ?", [campaign_id]).fetchall()
        definition = json.loads(rows[0][0]) if rows and rows[0][0] else {}
        attempts = con.execute("SELECT * FROM contact_attempts WHERE round_id = ?", [round_id]).df()
        bundles = _bundles(con, campaign_id, definition)
        meta = con.execute("SELECT window_days, source FROM rounds WHERE round_id = ?", [round_id]).fetchall()
        round_window, source = meta[0] if meta else (None, None)
        earlier = (_earlier_members(con, campaign_id, round_id, round_date)
                   if "cohort_round" not in a.columns or a["cohort_round"].isna().any() else set())
    if settings is None:
        settings = load_settings(definition.get("evaluation"))
    for col in ASSIGNMENT_COLUMNS:
        if col not in a.columns:
            a[col] = pd.NA
    members = a[a["arm"].isin(["treatment", "holdout"])][ASSIGNMENT_COLUMNS].copy()
    members["customer_id"] = members["customer_id"].astype(str)
    cohort = members["cohort_round"].astype("object")
    legacy = cohort.isna()
    drawn_here = (cohort == round_id) | (legacy & ~members["customer_id"].isin(earlier))
    continuing = members[~drawn_here.to_numpy()]
    live = members[drawn_here.to_numpy()].copy()
    live["treat"] = (live["arm"] == "treatment").astype(int)
    if "attempts" not in attempts.columns:
        attempts["attempts"] = 1
    attempts["attempts"] = pd.to_numeric(attempts["attempts"], errors="coerce").fillna(1).clip(lower=1)
    attempts["customer_id"] = attempts["customer_id"].astype(str)
    attempts["attempt_date"] = pd.to_datetime(attempts["attempt_date"])
    attempts["is_reached"] = attempts["outcome"].isin(list(settings.reached_outcomes))
    summary = attempts.groupby("customer_id").agg(n_attempts=("attempts", "sum"), reached=("is_reached", "max"))
    live = live.merge(summary, left_on="customer_id", right_index=True, how="left")
    live["n_attempts"] = live["n_attempts"].fillna(0).astype(int)
    live["contacted"] = live["n_attempts"] > 0
    live["reached"] = live["reached"].astype("boolean").fillna(False).astype(bool)
    live["start"] = pd.Series(pd.Timestamp(round_date), index=live.index).astype("datetime64[ns]")
    if round_window is not None and not pd.isna(round_window):
        live["window_days"] = int(round_window)
        rule = f"{int(round_window)} days for every customer (set for this round)"
    elif len(live) and live["channel"].notna().all():
        live["window_days"] = [settings.window_days(c) for c in live["channel"]]
        rule = ("each customer's assigned channel (the holdout's is the channel it would have had): "
                + ", ".join(f"{c} {settings.window_days(c)} days" for c in sorted(live["channel"].astype(str).unique())))
    else:
        live["window_days"] = settings.attribution_days["default"]
        rule = (f"{settings.attribution_days['default']} days (the default) for every customer: not every customer "
                "has an assigned channel, and the arms must be measured over the same span")
    cc = (definition.get("contact") or {}).get("channel_cost") or {}
    end = pd.Timestamp(as_of).date() if as_of not in (None, "") else data_end(db)
    as_of_note = ""
    if end <= round_date:  # e.g. a monthly run's scoring date before the round: nothing would be observed
        as_of_note = (f"as_of {end} is not after the round date {round_date}: evaluated on all data in the store "
                      f"(up to {data_end(db)})")
        end = data_end(db)
    return RoundData(round_id=round_id, campaign_id=campaign_id, round_date=round_date,
                     holdout_share=float(a["holdout_share"].iloc[0]), settings=settings,
                     customers=live.reset_index(drop=True), attempts=attempts, bundles=bundles,
                     channel_cost={str(k): float(v) for k, v in cc.items()},
                     excluded=int((a["arm"] == "excluded").sum()), data_end=end, definition=definition,
                     as_of_note=as_of_note, continuing=continuing["arm"].value_counts().astype(int).to_dict(),
                     window_rule=rule, source=str(source) if source else "workbench")
