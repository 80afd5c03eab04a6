"""The assignment engine: who gets which contact, script step, channel, time, bundle and agent in a round.

Pure DataFrames in, DataFrames out (:func:`plan_round`); the store side lives in
:mod:`workbench.campaigns.rounds`. Rules, in the order they are applied (the
first that applies is the customer's recorded ``exclusion``):

1. Target: the playbook's stages and query, narrowed by the round's filters (tiers, stages, reasons).
2. ``do_not_contact`` (customers table, scores, or the ``do_not_contact`` table from call results),
   ``in_open_round`` (any campaign's round still open), ``converted`` (bought after the first contact of
   this campaign's sequence: exit on conversion, both arms), ``refused`` / ``wrong_number`` (last outcome),
   ``sequence_finished`` (past the family's last step), ``no_third_contact`` (article 000: a 3rd contact only
   after the 2nd moved the customer, for the family's tiers), ``quiet_stage`` (the stage policy forbids
   contact), ``below_value_floor``, ``too_soon`` (minimum gap since the last contact) and ``monthly_cap``.
3. Priority: value if won back (currency per year), highest first.
4. Holdout: customers new to the campaign are randomised within tier x stage strata with the round's share
   and seed; a draw whose arms differ by |SMD| >= max_smd on pre-period spend and visits is redrawn with the
   next seed (recorded). Earlier holdout customers stay in the holdout (never contacted).
5. Steps: the next step after the last contact; a contact that did not reach the customer is repeated
   ``repeat_not_reached`` times. Holdout customers advance through the same steps without being contacted.
6. Channel (first matching playbook rule intersected with the stage policy's channels; the customer's
   preferred channel when it is in that list), time window, bundle (see :mod:`workbench.campaigns.bundles`;
   holdout rows carry the bundle they would have been offered, never sent), agent (the stage policy's team,
   round robin in priority order).
7. Budget: treatment costs (channel cost + bundle cost, as if every offer were taken up) are added in
   priority order up to the budget; the rest, and holdout customers ranked below the last funded one, are
   ``over_budget``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from workbench.campaigns.balance import COVARIATES, balance_table, max_abs_smd
from workbench.campaigns.bundles import bundle_scores, pick_bundles
from workbench.campaigns.playbook import COLOURS, Playbook
from workbench.campaigns.reasons import attach_reasons

#: Outcomes that mean the contact reached the customer (anything else: the step is repeated).
REACHED = ("reached", "refused", "interested", "booked", "do_not_contact")
#: When several attempts of one round disagree, the outcome that counts (first wins).
OUTCOME_PRIORITY = ("do_not_contact", "booked", "interested", "refused", "reached", "wrong_number", "not_reached")
EXCLUSIONS = ("do_not_contact", "in_open_round", "converted", "refused", "wrong_number", "sequence_finished",
              "no_third_contact", "quiet_stage", "below_value_floor", "too_soon", "monthly_cap", "over_budget")
ASSIGNMENT_COLUMNS = ["round_id", "customer_id", "arm", "exclusion", "tier", "stage", "reason", "reason_source",
                      "reason_family", "colour", "script_step", "channel", "time_window", "bundle",
                      "bundle_categories", "bundle_cost", "valid_until", "contact_cost", "agent", "team",
                      "priority", "value", "cohort_round"]
HISTORY_COLUMNS = ["customer_id", "round_id", "round_date", "arm", "script_step", "outcome", "attempt_date",
                   "cohort_round"]


@dataclass
class RoundInputs:
    """Everything :func:`plan_round` reads. ``history``: this campaign's earlier assignments (HISTORY_COLUMNS);
    ``spend``: customer_id, category, amount (before the round); ``last_purchase``: customer_id, last_purchase."""

    scores: pd.DataFrame
    customers: pd.DataFrame
    spend: pd.DataFrame
    known_reasons: pd.DataFrame
    history: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=HISTORY_COLUMNS))
    last_purchase: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["customer_id", "last_purchase"]))
    open_round_customers: frozenset[str] = frozenset()
    do_not_contact: frozenset[str] = frozenset()


@dataclass
class RoundPlan:
    """A planned round: ``round`` (the rounds row as a dict), ``assignments`` (one row per targeted customer,
    ASSIGNMENT_COLUMNS), ``balance`` (arms on pre-period covariates) and the customer details the workbook
    needs (``details``: customer_id, name, phone, store, preferred_time)."""

    round: dict[str, Any]
    assignments: pd.DataFrame
    balance: pd.DataFrame
    details: pd.DataFrame
    playbook: Playbook

    def counts(self) -> pd.DataFrame:
        """Customers per arm (excluded split by reason) with planned cost."""
        a = self.assignments
        key = a["arm"].where(a["arm"] != "excluded", "excluded: " + a["exclusion"].fillna(""))
        cost = (a["contact_cost"].fillna(0) + a["bundle_cost"].fillna(0)).where(a["arm"] == "treatment", 0.0)
        out = pd.DataFrame({"group": key, "cost": cost}).groupby("group", sort=True).agg(
            customers=("cost", "size"), planned_cost=("cost", "sum")).reset_index()
        return out


def _as_date(value: Any) -> dt.date:
    return pd.Timestamp(value).date()


def sequence_state(history: pd.DataFrame, round_date: dt.date) -> pd.DataFrame:
    """Per customer from this campaign's earlier rounds: first_date, ever_holdout, last_step, last_arm,
    last_outcome, times_at_step (rounds at the last step), last_contact (treatment), contacts_30d,
    cohort_round (the round whose draw put the customer in their arm) and rounds_held (rounds in the holdout
    since that draw)."""
    cols = ["customer_id", "first_date", "ever_holdout", "last_step", "last_outcome", "times_at_step",
            "last_contact", "contacts_30d", "cohort_round", "rounds_held"]
    if history is None or not len(history):
        return pd.DataFrame(columns=cols)
    h = history[history["arm"].isin(["treatment", "holdout"])].copy()
    if not len(h):
        return pd.DataFrame(columns=cols)
    h["round_date"] = pd.to_datetime(h["round_date"])
    h = h[h["round_date"] < pd.Timestamp(round_date)]
    h["contact_date"] = pd.to_datetime(h["attempt_date"]).fillna(h["round_date"])
    h = h.sort_values(["customer_id", "round_date"])
    # A customer's arm was drawn in their cohort round (older stores did not record it: their first round);
    # everything before a later re-draw (a released holdout) belongs to an earlier sequence and is dropped.
    if "cohort_round" not in h.columns:
        h["cohort_round"] = None
    first_round = h.groupby("customer_id", sort=False)["round_id"].transform("first")
    h["cohort_round"] = h["cohort_round"].where(h["cohort_round"].notna(), first_round)
    current = h.groupby("customer_id", sort=False)["cohort_round"].transform("last")
    h = h[h["cohort_round"] == current]
    g = h.groupby("customer_id", sort=False)
    last = g.tail(1).set_index("customer_id")
    state = pd.DataFrame({
        "first_date": g["round_date"].min(),
        "ever_holdout": g["arm"].agg(lambda s: bool((s == "holdout").any())),
    })
    state["last_step"] = last["script_step"].astype("Int64")
    state["last_outcome"] = last["outcome"]
    h["_at_last"] = h["script_step"].to_numpy() == h["customer_id"].map(last["script_step"]).to_numpy()
    state["times_at_step"] = h.groupby("customer_id")["_at_last"].sum()
    treated = h[h["arm"] == "treatment"]
    state["last_contact"] = treated.groupby("customer_id")["contact_date"].max()
    recent = treated[treated["contact_date"] > pd.Timestamp(round_date) - pd.Timedelta(days=30)]
    state["contacts_30d"] = recent.groupby("customer_id").size()
    state["contacts_30d"] = state["contacts_30d"].fillna(0).astype(int)
    state["cohort_round"] = last["cohort_round"]
    state["rounds_held"] = g["arm"].agg(lambda s: int((s == "holdout").sum()))
    return state.reset_index()[cols]


def _target(inputs: RoundInputs, playbook: Playbook, filters: dict[str, Any]) -> pd.DataFrame:
    scores = inputs.scores.copy()
    scores["customer_id"] = scores["customer_id"].astype(str)
    cust = inputs.customers.copy()
    cust["customer_id"] = cust["customer_id"].astype(str)
    keep = [c for c in cust.columns if c not in scores.columns or c == "customer_id"]
    df = scores.merge(cust[keep], on="customer_id", how="left")
    if "do_not_contact" in cust.columns and "do_not_contact" in scores.columns:
        dnc_c = df["customer_id"].map(cust.set_index("customer_id")["do_not_contact"])
        df["do_not_contact"] = df["do_not_contact"].fillna(False).astype(bool) | dnc_c.fillna(False).astype(bool)
    df["stage"] = df["stage"].astype(str)
    df = df[df["stage"].isin(playbook.target_stages)]
    if playbook.target_query:
        try:
            df = df.query(playbook.target_query, engine="python")
        except Exception as exc:  # noqa: BLE001 - the query is user text
            raise ValueError(f"{playbook.source}: target.query: cannot be applied: {exc}") from exc
    if filters.get("tiers"):
        df = df[df["tier"].isin([int(t) for t in filters["tiers"]])]
    if filters.get("stages"):
        df = df[df["stage"].isin(list(filters["stages"]))]
    return df.reset_index(drop=True)


def _draw_holdout(pool: pd.DataFrame, share: float, seed: int, max_smd: float, max_draws: int
                  ) -> tuple[np.ndarray, int, int]:
    """Boolean holdout mask over ``pool`` (randomised within tier x stage), the seed used and the draw count."""
    n = len(pool)
    if n == 0 or share <= 0:
        return np.zeros(n, dtype=bool), seed, 1
    strata = pool["tier"].astype(str) + "|" + pool["stage"].astype(str)
    codes, _ = pd.factorize(strata, sort=True)
    sizes = np.bincount(codes)
    best: tuple[float, np.ndarray, int, int] | None = None
    for draw in range(max_draws):
        s = seed + draw
        rng = np.random.default_rng(s)
        key = rng.random(n)
        # holdout count per stratum: n*share rounded at random, so small strata keep the share on average
        quota = np.floor(sizes * share + rng.random(len(sizes))).astype(int)
        order = np.lexsort((key, codes))
        start = np.r_[0, np.cumsum(sizes)[:-1]]
        rank = np.empty(n, dtype=int)
        rank[order] = np.arange(n) - np.repeat(start, sizes)
        mask = rank < quota[codes]
        worst = max_abs_smd(pool, mask) if mask.any() and (~mask).any() else 0.0
        if best is None or worst < best[0]:
            best = (worst, mask, s, draw + 1)
        if worst < max_smd:
            return mask, s, draw + 1
    assert best is not None
    return best[1], best[2], best[3]


def _channels(df: pd.DataFrame, playbook: Playbook) -> np.ndarray:
    combos = df[["tier", "stage", "script_step", "preferred_channel"]].astype(str).drop_duplicates()
    pick = {}
    for tier, stage, step, pref in combos.itertuples(index=False):
        t = int(float(tier)) if tier not in ("nan", "<NA>", "None") else 0
        rule = next(r for r in playbook.channels if r.matches(t, stage, int(float(step))))
        allowed = playbook.stage_channels(stage)
        cands = [c for c in rule.use if c in allowed] or list(allowed)
        pick[(tier, stage, step, pref)] = pref if pref in cands else cands[0]
    keys = list(zip(*(df[c].astype(str) for c in ("tier", "stage", "script_step", "preferred_channel"))))
    return np.array([pick[k] for k in keys], dtype=object)


def _time_windows(channel: pd.Series, preferred: pd.Series, playbook: Playbook) -> pd.Series:
    by_pref = preferred.map({k: v.zh for k, v in playbook.time_preferred.items()})
    by_chan = channel.map({k: v.zh for k, v in playbook.time_by_channel.items()})
    return by_chan.fillna(by_pref).fillna(playbook.time_default.zh)


def plan_round(inputs: RoundInputs, playbook: Playbook, round_date: Any, *, budget: float | None = None,
               filters: dict[str, Any] | None = None, holdout_share: float | None = None,
               seed: int | None = None, agents: list[str] | None = None, campaign_id: str | None = None,
               round_id: str | None = None) -> RoundPlan:
    """Plan one round (nothing is written). ``filters``: optional tiers / stages / reasons lists.

    ``budget`` is capped by the playbook's ``budget.round_cap``; None = the cap (or no limit).
    ``agents`` replaces the playbook's teams with one list of agents for every stage.
    """
    round_date = _as_date(round_date)
    filters = {k: v for k, v in (filters or {}).items() if v}
    share = playbook.holdout_share if holdout_share is None else float(holdout_share)
    if not 0 <= share <= 0.5:
        raise ValueError(f"holdout share must be between 0 and 0.5, got {share}")
    seed = playbook.holdout_seed if seed is None else int(seed)
    caps = [b for b in (budget, playbook.round_cap) if b is not None]
    limit = min(caps) if caps else None
    campaign_id = campaign_id or playbook.id
    round_id = round_id or f"{campaign_id}-{round_date:%Y%m%d}"

    df = _target(inputs, playbook, filters)
    df = attach_reasons(df, inputs.known_reasons, playbook)
    if filters.get("reasons"):
        df = df[df["reason"].isin(list(filters["reasons"]))].reset_index(drop=True)
    n = len(df)
    value = pd.to_numeric(df.get("value_if_won_back"), errors="coerce")
    if "clv_365" in df.columns:
        value = value.fillna(pd.to_numeric(df["clv_365"], errors="coerce"))
    df["value"] = value.fillna(0.0).astype(float)
    df = df.sort_values(["value", "customer_id"], ascending=[False, True], kind="stable").reset_index(drop=True)
    df["priority"] = np.arange(1, n + 1)
    colour = df["colour"] if "colour" in df.columns else pd.Series(pd.NA, index=df.index)
    df["colour"] = colour.where(colour.isin(COLOURS), "rational").astype(str)
    if "preferred_channel" not in df.columns:
        df["preferred_channel"] = pd.NA

    # --- sequence state from earlier rounds of this campaign
    state = sequence_state(inputs.history, round_date)
    if playbook.holdout_release_after_rounds is not None and len(state):
        # Released from the holdout after the configured number of rounds: drawn afresh as a new entrant.
        released = state["ever_holdout"].astype(bool) & (state["rounds_held"] >= playbook.holdout_release_after_rounds)
        state = state[~released]
    df = df.merge(state, on="customer_id", how="left")
    lp = inputs.last_purchase
    if lp is not None and len(lp):
        lp = lp.assign(customer_id=lp["customer_id"].astype(str))
        lp = lp[["customer_id", "last_purchase"]].rename(columns={"last_purchase": "_bought_last"})
        df = df.merge(lp, on="customer_id", how="left")
    else:
        df["_bought_last"] = pd.NaT
    in_seq = df["last_step"].notna()
    last_step = df["last_step"].fillna(0).astype(int)
    outcome = df["last_outcome"].astype("object")
    reached = outcome.isin(REACHED)
    repeat = in_seq & ~reached & ~outcome.eq("wrong_number") & (df["times_at_step"].fillna(0) <= playbook.repeat_not_reached)
    step = np.where(in_seq, np.where(repeat, last_step, last_step + 1), 1)
    step = np.where(df["ever_holdout"].fillna(False).astype(bool), last_step + 1, step)
    df["script_step"] = step.astype(int)

    fam_steps = df["reason_family"].map({f: playbook.family_steps(f) for f in playbook.scripts})
    third = df["reason_family"].map(playbook.scripts)
    third_ok = np.array([
        fs.third_allowed and (fs.third_tiers is None or (pd.notna(t) and int(t) in fs.third_tiers))
        and (o in fs.third_only_after or holdout)
        for fs, t, o, holdout in zip(third, df["tier"], outcome, df["ever_holdout"].fillna(False))], dtype=bool)
    last_contact = pd.to_datetime(df["last_contact"])
    gap = df["stage"].map({s: playbook.gap_days(s) for s in playbook.stage_policy})
    days_since = (pd.Timestamp(round_date) - last_contact).dt.days
    cap = df["stage"].map({s: playbook.monthly_cap(s) for s in playbook.stage_policy})
    converted = in_seq & pd.to_datetime(df["_bought_last"]).gt(pd.to_datetime(df["first_date"])).fillna(False)
    dnc = (df["do_not_contact"].fillna(False).astype(bool) if "do_not_contact" in df.columns
           else pd.Series(False, index=df.index))
    dnc |= df["customer_id"].isin(inputs.do_not_contact) | outcome.eq("do_not_contact")
    rules = [
        ("do_not_contact", dnc),
        ("in_open_round", df["customer_id"].isin(inputs.open_round_customers)),
        ("converted", converted),
        ("refused", in_seq & outcome.eq("refused")),
        ("wrong_number", in_seq & outcome.eq("wrong_number")),
        ("sequence_finished", df["script_step"] > fam_steps),
        ("no_third_contact", (df["script_step"] == 3) & ~third_ok),
        ("quiet_stage", df["stage"].map({s: playbook.stage_is_quiet(s) for s in playbook.stage_policy}).fillna(True)),
        ("below_value_floor", df["value"] < playbook.value_floor),
        ("too_soon", days_since.notna() & (days_since < gap)),
        ("monthly_cap", df["contacts_30d"].fillna(0) + 1 > cap),
    ]
    exclusion = pd.Series(pd.NA, index=df.index, dtype="object")
    for name, mask in rules:
        mask = pd.Series(mask, index=df.index).fillna(False).astype(bool)
        exclusion = exclusion.mask(exclusion.isna() & mask, name)
    df["exclusion"] = exclusion
    pool = df["exclusion"].isna()
    sticky = pool & df["ever_holdout"].fillna(False).astype(bool)
    continuing = pool & in_seq & ~sticky
    new = pool & ~in_seq

    # --- bundles (preferred, ignoring caps) and costs
    scores = bundle_scores(df, inputs.spend, playbook)
    offers_step = np.array([playbook.scripts[f].steps[min(s, playbook.scripts[f].max_steps)].bundle
                            for f, s in zip(df["reason_family"], df["script_step"])], dtype=bool)
    scores[~offers_step, :] = -np.inf
    preferred = pick_bundles(scores, playbook)
    bcost = pd.Series(preferred).map({b: v.cost for b, v in playbook.bundles.items()}).fillna(0.0).to_numpy()
    df["channel"] = _channels(df, playbook) if n else np.array([], dtype=object)
    ccost = df["channel"].map(playbook.channel_cost).fillna(0.0).to_numpy()

    # --- budget pre-cut (expected cost: new customers are treated with probability 1 - share)
    arm = np.full(n, "excluded", dtype=object)
    expected = np.where(new, (ccost + bcost) * (1 - share), np.where(continuing, ccost + bcost, 0.0))
    funded = pool.to_numpy().copy()
    if limit is not None:
        cum = np.cumsum(np.where(pool, expected, 0.0))
        funded &= cum <= limit + 1e-9
    draw_pool = df[new.to_numpy() & funded]
    mask, used_seed, draws = _draw_holdout(draw_pool, share, seed, playbook.holdout_max_smd,
                                           playbook.holdout_max_redraws)
    arm[draw_pool.index[mask]] = "holdout"
    arm[draw_pool.index[~mask]] = "treatment"
    arm[(continuing.to_numpy() & funded)] = "treatment"
    arm[(sticky.to_numpy() & funded)] = "holdout"

    # --- caps per bundle among the treated, in priority order; then the final budget cut
    treated = arm == "treatment"
    bundle = pick_bundles(scores, playbook, capped=treated, priority=df["priority"].to_numpy())
    bundle = np.where(treated, bundle, preferred)
    bcost = pd.Series(bundle).map({b: v.cost for b, v in playbook.bundles.items()}).fillna(0.0).to_numpy()
    if limit is not None:
        cum = np.cumsum(np.where(treated, ccost + bcost, 0.0))
        over_t = treated & (cum > limit + 1e-9)
        if over_t.any():
            last_funded = df["priority"].to_numpy()[treated & ~over_t].max(initial=0)
            over_h = (arm == "holdout") & new.to_numpy() & (df["priority"].to_numpy() > last_funded)
            over = over_t | over_h
            arm[over] = "excluded"
    unfunded = pool.to_numpy() & (arm == "excluded")
    df.loc[unfunded, "exclusion"] = "over_budget"
    df["arm"] = arm
    treated = arm == "treatment"
    live = arm != "excluded"

    df["bundle"] = pd.Series(np.where(live, bundle, None), index=df.index, dtype="object")
    df["bundle_cost"] = np.where(live & pd.notna(df["bundle"]), bcost, np.nan)
    df["bundle_categories"] = df["bundle"].map({b: " ".join(v.categories) for b, v in playbook.bundles.items()})
    valid = {b: round_date + dt.timedelta(days=v.valid_days) for b, v in playbook.bundles.items()}
    df["valid_until"] = pd.to_datetime(df["bundle"].map(valid))
    # Holdout rows carry the channel, team and agent they would have had (never used to contact them), so the
    # evaluation measures both arms with the same attribution window and compares like with like per cell.
    df["channel"] = df["channel"].where(live, None)
    df["contact_cost"] = np.where(treated, ccost, np.nan)
    df["time_window"] = _time_windows(df["channel"], df.get("preferred_time", pd.Series(pd.NA, index=df.index)),
                                      playbook).where(treated, None)
    df["team"] = df["stage"].map({s: playbook.team(s) for s in playbook.stage_policy}).where(live, None)
    df["agent"] = pd.Series(None, index=df.index, dtype="object")
    for arm_mask in (treated, arm == "holdout"):  # round robin per arm: the treated lists stay evenly split
        for team, grp in df[arm_mask].groupby("team", sort=True):
            names = list(agents) if agents else list(playbook.agents.get(team, ()))
            if not names:
                raise ValueError(f"{playbook.source}: agents: no agents for team {team!r}")
            order = grp.sort_values("priority").index
            df.loc[order, "agent"] = [names[i % len(names)] for i in range(len(order))]
    df.loc[~live, "script_step"] = df.loc[~live, "script_step"].where(
        df.loc[~live, "exclusion"].isin(["over_budget", "too_soon", "monthly_cap", "below_value_floor", "quiet_stage"]))
    df["round_id"] = round_id
    # The round whose draw set each live customer's arm: this round for new entrants, the earlier draw for
    # customers continuing their sequence (they are evaluated with the round that randomised them).
    df["cohort_round"] = pd.Series(np.where(new.to_numpy(), round_id, df["cohort_round"]), index=df.index,
                                   dtype="object").where(live, None)

    bal = balance_table(df[live & new.to_numpy()], covariates=COVARIATES)
    planned = float(np.nansum(df.loc[treated, "contact_cost"]) + np.nansum(df.loc[treated, "bundle_cost"]))
    rnd = {"round_id": round_id, "campaign_id": campaign_id, "round_date": round_date, "budget": limit,
           "holdout_share": share, "seed": used_seed, "holdout_draw": draws, "status": "open",
           "playbook": playbook.id, "playbook_file": playbook.source,
           "scores_as_of": _as_date(inputs.scores["as_of"].iloc[0]) if "as_of" in inputs.scores.columns
           and len(inputs.scores) else None,
           "planned_cost": round(planned, 2), "filters": filters}
    detail_cols = [c for c in ("customer_id", "name", "phone", "store", "preferred_time", "preferred_channel")
                   if c in df.columns]
    assignments = df[ASSIGNMENT_COLUMNS].copy()
    assignments["script_step"] = assignments["script_step"].astype("Int64")
    assignments["tier"] = pd.to_numeric(assignments["tier"], errors="coerce").astype("Int64")
    return RoundPlan(rnd, assignments, bal, df[detail_cols].copy(), playbook)
