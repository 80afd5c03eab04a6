"""A seeded simulation of the months after a round, from the demo's planted campaign effect.

The demo data stop at the as-of date, so a demo round has nothing to measure
yet. :func:`simulate_round` appends what the next months could look like for
the round's treated and holdout customers, all in one transaction (nothing is
written if anything fails), so the evaluation has results to show.

What is planted (``workbench.data.demo.CAMPAIGN_EFFECT`` and the constants below):

* Contact attempts (only when the round has none yet): every treated customer
  gets a first attempt 1-10 days after the round date on their assigned
  channel by their assigned agent; outcomes reached 45%, interested 15%,
  booked 10%, not reached 30%. Holdout customers are never contacted.
* Return within the horizon (``horizon_days``, default 90 = 3 months):
  probability ``CAMPAIGN_EFFECT["holdout"]`` (0.10) for holdout customers,
  ``CAMPAIGN_EFFECT["treatment"]`` (0.18) for treated customers, and
  ``CAMPAIGN_EFFECT["no_need_treatment"]`` (0.10, no effect) for treated
  customers whose round reason is ``no_need``. The return day is uniform over
  the horizon from the round date, for both arms alike (the evaluation's clock
  starts there for both), so the planted difference inside an evaluation window
  of ``L`` days is ``L / horizon`` of it (see :func:`planted_difference`).
* Visits: 1 + Poisson(0.4) per returning customer; each visit buys in the
  offered bundle's categories with probability ``offer_match_treatment`` (0.6)
  or ``offer_match_holdout`` (0.25: people buy those categories anyway
  sometimes), else in a category drawn from the store's history; amounts are
  the category's median in the store times a lognormal(0, 0.4) factor.
* Engagement (an event other than a complaint) within the horizon:
  probability ``engagement_holdout`` (0.05) and ``engagement_treatment`` (0.08).

Every planted number can be given in ``effect``; :func:`null_effect` gives a
campaign that changes nothing (the A/A rounds of the calibration benchmark).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from workbench.data.demo import CAMPAIGN_EFFECT
from workbench.data.store import connect, transaction
from workbench.errors import InputError, NotFound
from workbench.evaluation.outcomes import ENGAGEMENT_KINDS

ATTEMPT_OUTCOMES = {"reached": .45, "interested": .15, "booked": .10, "not_reached": .30}
ENGAGEMENT_EFFECT = {"holdout": 0.05, "treatment": 0.08}
OFFER_MATCH = {"holdout": 0.25, "treatment": 0.6}
EXTRA_VISITS = 0.4
NECESSARY = {"maintenance", "repair", "tyres", "brakes", "handset", "battery"}
DEFAULT_HORIZON = 90


class SimulationError(InputError):
    """The round cannot be simulated as asked (for example: it was simulated already)."""


def full_effect(effect: dict[str, float] | None = None) -> dict[str, float]:
    """The planted effect with every key: ``effect`` over the demo's defaults; refused if a value is not a rate."""
    out = {**CAMPAIGN_EFFECT, "engagement_holdout": ENGAGEMENT_EFFECT["holdout"],
           "engagement_treatment": ENGAGEMENT_EFFECT["treatment"], "offer_match_holdout": OFFER_MATCH["holdout"],
           "offer_match_treatment": OFFER_MATCH["treatment"]}
    unknown = set(effect or {}) - set(out)
    if unknown:
        raise SimulationError(f"effect: unknown keys {sorted(unknown)}; known: {sorted(out)}")
    out.update(effect or {})
    bad = {k: v for k, v in out.items() if not (isinstance(v, (int, float)) and 0 <= v <= 1)}
    if bad:
        raise SimulationError(f"effect: every value must be a probability between 0 and 1, got {bad}")
    return {k: float(v) for k, v in out.items()}


def null_effect(return_rate: float = CAMPAIGN_EFFECT["holdout"]) -> dict[str, float]:
    """A campaign with no effect at all: both arms return, engage and buy the offered categories alike."""
    return {"holdout": return_rate, "treatment": return_rate, "no_need_treatment": return_rate,
            "engagement_holdout": ENGAGEMENT_EFFECT["holdout"], "engagement_treatment": ENGAGEMENT_EFFECT["holdout"],
            "offer_match_holdout": OFFER_MATCH["holdout"], "offer_match_treatment": OFFER_MATCH["holdout"]}


def return_probability(arm: pd.Series, reason: pd.Series, effect: dict[str, float] = CAMPAIGN_EFFECT) -> np.ndarray:
    """The planted probability of coming back within the horizon, per customer."""
    treated = arm.to_numpy() == "treatment"
    no_need = reason.astype("object").eq("no_need").to_numpy()
    return np.where(treated, np.where(no_need, effect["no_need_treatment"], effect["treatment"]), effect["holdout"])


def planted_difference(customers: pd.DataFrame, days: np.ndarray | pd.Series, effect: dict[str, float] = CAMPAIGN_EFFECT,
                       horizon_days: int = DEFAULT_HORIZON) -> float:
    """Expected treated-minus-holdout return rate inside windows of ``days`` (per customer), as planted.

    ``customers`` needs ``arm`` and ``reason``; uniform return timing makes the
    chance of a return inside ``L`` days ``p * min(L, horizon) / horizon``.
    """
    p = return_probability(customers["arm"], customers["reason"], effect)
    q = p * np.minimum(np.asarray(days, float), horizon_days) / horizon_days
    t = customers["arm"].to_numpy() == "treatment"
    return float(q[t].mean() - q[~t].mean())


def _round(con, round_id: str) -> tuple[dt.date, pd.DataFrame]:
    rows = con.execute("SELECT round_date, campaign_id FROM rounds WHERE round_id = ?", [round_id]).fetchall()
    if not rows:
        raise NotFound(f"no round {round_id!r} in the store")
    a = con.execute("""SELECT a.customer_id, a.arm, a.reason, a.channel, a.agent, a.bundle, c.store
                       FROM assignments a LEFT JOIN customers c USING (customer_id)
                       WHERE a.round_id = ? AND a.arm IN ('treatment', 'holdout') ORDER BY a.customer_id""",
                    [round_id]).df()
    return pd.Timestamp(rows[0][0]).date(), a.assign(campaign_id=rows[0][1])


def simulate_round(db: str | Path | None, round_id: str, *, seed: int = 0, effect: dict[str, float] | None = None,
                   horizon_days: int = DEFAULT_HORIZON, simulate_contacts: bool = True,
                   replace: bool = False) -> dict[str, Any]:
    """Append simulated contact attempts, transactions and events after a round (all or nothing).

    Returns counts and ``data_end``, the last day simulated (pass it as the
    evaluation's ``as_of``: every window up to ``horizon_days`` has then ended).
    """
    effect = full_effect(effect)
    rng = np.random.default_rng([seed, 7])
    prefix = f"SIM-{round_id}-"
    with connect(db) as con:
        round_date, a = _round(con, round_id)
        if a.empty:
            raise SimulationError(f"round {round_id!r} has no treatment or holdout customers")
        done = con.execute("SELECT count(*) FROM transactions WHERE transaction_id LIKE ? || '%'", [prefix]).fetchall()[0][0]
        done += con.execute("SELECT count(*) FROM events WHERE event_id LIKE ? || '%'", [prefix]).fetchall()[0][0]
        if done and not replace:
            raise SimulationError(f"round {round_id!r} was simulated already ({done} rows); replace it to redo (replace=True, or --replace on the command line)")
        bundles = con.execute("SELECT bundle, category FROM campaign_bundles WHERE campaign_id = ?",
                              [a["campaign_id"].iloc[0]]).df() if _has(con, "campaign_bundles") else pd.DataFrame(
            columns=["bundle", "category"])
        medians = con.execute("SELECT category, median(amount)::DOUBLE AS amount, count(*) AS n FROM transactions "
                              "WHERE category IS NOT NULL AND NOT starts_with(transaction_id, 'SIM-') GROUP BY ALL").df()
        attempt_cols = [r[0] for r in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'contact_attempts'").fetchall()]
        existing = con.execute("SELECT customer_id, min(attempt_date) AS first FROM contact_attempts "
                               "WHERE round_id = ? AND notes IS DISTINCT FROM 'simulated' GROUP BY ALL",
                               [round_id]).df()

        n = len(a)
        treated = (a["arm"] == "treatment").to_numpy()
        rd = pd.Timestamp(round_date)
        attempts = pd.DataFrame()
        if simulate_contacts and existing.empty:
            t_idx = np.flatnonzero(treated)
            outcomes = rng.choice(list(ATTEMPT_OUTCOMES), len(t_idx), p=list(ATTEMPT_OUTCOMES.values()))
            attempts = pd.DataFrame({
                "round_id": round_id, "customer_id": a["customer_id"].to_numpy()[t_idx],
                "attempt_date": (rd + pd.to_timedelta(rng.integers(1, 11, len(t_idx)), unit="D")).date,
                "channel": a["channel"].to_numpy()[t_idx], "agent": a["agent"].to_numpy()[t_idx],
                "outcome": outcomes, "notes": "simulated", "source_file": f"simulation seed {seed}"})
            if "attempts" in attempt_cols:
                attempts["attempts"] = 1
        start = pd.Series(rd, index=a.index)  # both arms' behaviour runs from the round date

        # --- returns, visits and what they bought
        p = return_probability(a["arm"], a["reason"], effect)
        back = rng.random(n) < p
        day0 = rng.random(n) * horizon_days
        idx = np.flatnonzero(back)
        k = 1 + rng.poisson(EXTRA_VISITS, len(idx))
        vi = np.repeat(idx, k)
        first_visit = np.r_[0, np.cumsum(k)[:-1]]
        vday = day0[vi] + rng.random(len(vi)) * (horizon_days - day0[vi])
        vday[first_visit] = day0[idx]
        vdate = start.to_numpy()[vi] + pd.to_timedelta(np.floor(vday).astype(int), unit="D").to_numpy()
        cats = medians.sort_values("n", ascending=False)
        all_cats = cats["category"].to_numpy() if len(cats) else np.array(["maintenance"])
        weights = cats["n"].to_numpy(float) / cats["n"].sum() if len(cats) else np.array([1.0])
        offered = bundles.groupby("bundle")["category"].apply(list).to_dict() if len(bundles) else {}
        cat = rng.choice(all_cats, len(vi), p=weights).astype(object)
        match_p = np.where(treated[vi], effect["offer_match_treatment"], effect["offer_match_holdout"])
        bundle_of = a["bundle"].to_numpy()[vi]
        for j in np.flatnonzero(rng.random(len(vi)) < match_p):
            options = offered.get(bundle_of[j])
            if options:
                cat[j] = options[rng.integers(len(options))]
        typical = dict(zip(medians["category"], medians["amount"]))
        amount = np.round(np.array([typical.get(c, 800.0) for c in cat]) * rng.lognormal(0, 0.4, len(vi)), 2)
        tx = pd.DataFrame({
            "transaction_id": [f"{prefix}T{i:07d}" for i in range(1, len(vi) + 1)],
            "customer_id": a["customer_id"].to_numpy()[vi], "date": pd.to_datetime(vdate).date,
            "amount": amount, "category": cat.astype(str),
            "spend_type": np.where(np.isin(cat.astype(str), list(NECESSARY)), "necessary", "discretionary"),
            "store": a["store"].to_numpy()[vi]})
        tx["_key"] = tx["transaction_id"]

        # --- non-spend engagement
        pe = np.where(treated, effect["engagement_treatment"], effect["engagement_holdout"])
        ei = np.flatnonzero(rng.random(n) < pe)
        edate = start.to_numpy()[ei] + pd.to_timedelta(rng.integers(0, horizon_days, len(ei)), unit="D").to_numpy()
        ev = pd.DataFrame({
            "event_id": [f"{prefix}E{i:07d}" for i in range(1, len(ei) + 1)],
            "customer_id": a["customer_id"].to_numpy()[ei], "date": pd.to_datetime(edate).date,
            "kind": rng.choice(list(ENGAGEMENT_KINDS), len(ei)), "referred_customer_id": None,
            "detail": "simulated", "store": a["store"].to_numpy()[ei]})
        ev["_key"] = ev["event_id"]

        end = (start.max() + pd.Timedelta(days=horizon_days - 1)).date()
        con.register("_tx", tx)
        con.register("_ev", ev)
        if len(attempts):  # an empty frame without columns cannot be registered (a round with attempts already)
            con.register("_at", attempts)
        try:
            with transaction(con):
                if done:
                    con.execute("DELETE FROM transactions WHERE transaction_id LIKE ? || '%'", [prefix])
                    con.execute("DELETE FROM events WHERE event_id LIKE ? || '%'", [prefix])
                con.execute("DELETE FROM contact_attempts WHERE round_id = ? AND notes = 'simulated'", [round_id])
                con.execute("INSERT INTO transactions BY NAME SELECT * FROM _tx")
                con.execute("INSERT INTO events BY NAME SELECT * FROM _ev")
                if len(attempts):
                    con.execute("INSERT INTO contact_attempts BY NAME SELECT * FROM _at")
        finally:
            for name in ("_tx", "_ev", "_at") if len(attempts) else ("_tx", "_ev"):
                con.unregister(name)
    return {"round_id": round_id, "customers": n, "returned": int(back.sum()), "transactions": len(tx),
            "events": len(ev), "attempts": len(attempts), "data_end": end, "effect": effect}


def _has(con, table: str) -> bool:
    return bool(con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [table]).fetchall()[0][0])


def write_synthetic_round(db: str | Path | None, customers: pd.DataFrame, round_id: str, round_date: Any, *,
                          campaign_id: str = "synthetic", holdout_share: float = 0.15, seed: int = 0,
                          definition: dict[str, Any] | None = None) -> str:
    """Write a plain round (campaign, round, assignments, bundle map) for tests and benchmarks.

    ``customers`` has ``customer_id`` and any of the assignment columns (tier,
    stage, reason, reason_source, script_step, channel, bundle, agent); the
    arm is drawn at random with ``holdout_share`` (unless an ``arm`` column is
    given). Real rounds come from ``workbench.campaigns``.
    """
    import json

    rng = np.random.default_rng([seed, 11])
    a = customers.copy()
    if "arm" not in a.columns:
        a["arm"] = np.where(rng.random(len(a)) < holdout_share, "holdout", "treatment")
    a["round_id"] = round_id
    keep = ["round_id", "customer_id", "arm", "arm_name", "tier", "stage", "reason", "reason_source", "script_step",
            "channel", "bundle", "agent", "cohort_round"]
    a = a[[c for c in keep if c in a.columns]]
    definition = definition or {}
    bundles = pd.DataFrame([{"campaign_id": campaign_id, "bundle": b, "category": c, "cost": float(spec.get("cost", 0)),
                             "valid_days": spec.get("valid_days")}
                            for b, spec in (definition.get("bundles") or {}).items() for c in spec.get("categories", [])],
                           columns=["campaign_id", "bundle", "category", "cost", "valid_days"])
    with connect(db) as con:
        con.register("_a", a)
        con.register("_b", bundles)
        try:
            with transaction(con):
                con.execute("INSERT OR REPLACE INTO campaigns (campaign_id, playbook, definition, created_at) "
                            "VALUES (?, ?, ?, now()::TIMESTAMP)", [campaign_id, campaign_id, json.dumps(definition)])
                con.execute("INSERT INTO rounds (round_id, campaign_id, round_date, holdout_share, seed, status, created_at) "
                            "VALUES (?, ?, ?, ?, ?, 'open', now()::TIMESTAMP)",
                            [round_id, campaign_id, pd.Timestamp(round_date).date(), holdout_share, seed])
                con.execute("INSERT INTO assignments BY NAME SELECT * FROM _a")
                if len(bundles) and _has(con, "campaign_bundles"):
                    con.execute("INSERT OR REPLACE INTO campaign_bundles BY NAME SELECT * FROM _b")
        finally:
            con.unregister("_a")
            con.unregister("_b")
    return round_id
