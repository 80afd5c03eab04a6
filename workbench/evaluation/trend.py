"""The monthly trend across rounds (article 000's monthly report): are we winning back more than we lose?

Three tidy tables:

* :func:`round_trend`: one row per round of a campaign: treated and holdout,
  won back (treated who came back inside their window, by the last month
  measured), the holdout's rate, incremental returns and spend, cost and
  effort (contact attempts), still silent, and customers let go or passed to
  the next round after ``let_go_after_contacts`` contacts without coming back.
* :func:`lost_population`: per calendar month, customers lost at the start and
  the end (no purchase for more than the industry's sleeping limit), newly
  lost, lost customers who bought again, and the net change (= newly lost -
  returned).
* :func:`early_warning_hits`: per scoring date, of the customers flagged by
  the early warning, how many have not bought since (lapsed) and how many are
  lost by the data end, against the unflagged active/silent customers.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as st

from workbench.data.store import connect
from workbench.evaluation.config import EvaluationSettings
from workbench.evaluation.evaluate import evaluate_round
from workbench.evaluation.outcomes import customer_outcomes
from workbench.evaluation.roi import contact_costs, redeemed_bundle_cost
from workbench.evaluation.rounds import campaign_rounds, data_end, load_round

DEFAULT_LOST_DAYS = 730


def lost_days_for(definition: dict[str, Any]) -> float:
    """Days without a purchase after which a customer is lost: the industry's sleeping limit (scoring config)."""
    industry = definition.get("industry")
    if industry:
        try:
            from workbench.scoring.config import load_industry

            return float(load_industry(industry).stage_limits["sleeping"])
        except (ValueError, KeyError, FileNotFoundError):
            pass
    return float(DEFAULT_LOST_DAYS)


def round_trend(db: str | Path | None, campaign_id: str, *, as_of: Any = None,
                settings: EvaluationSettings | None = None) -> pd.DataFrame:
    """One row per round of the campaign, oldest first (measured at the last month whose windows all ended,
    else the last month asked for, flagged ``complete`` False)."""
    rounds = campaign_rounds(db, campaign_id)
    end = pd.Timestamp(as_of).date() if as_of is not None else data_end(db)
    rows = []
    attempts_so_far = []
    for rid in rounds["round_id"]:
        rd = load_round(db, rid, settings, end)
        out = customer_outcomes(db, rd)
        done = out.groupby("month")["observed"].all()
        month = int(done[done].index.max()) if done.any() else int(out["month"].max())
        g = out[out["month"] == month]
        t, h = g[g["treat"] == 1], g[g["treat"] == 0]
        n_t, n_h = len(t), len(h)
        rate_t = float(t["came_back"].mean()) if n_t else np.nan
        rate_h = float(h["came_back"].mean()) if n_h else np.nan
        spend_diff = (float(t["spend"].mean()) - float(h["spend"].mean())) if n_t and n_h else np.nan
        costs = contact_costs(rd)
        attempts_so_far.append(rd.attempts[["customer_id", "attempts"]])
        all_attempts = pd.concat(attempts_so_far).groupby("customer_id")["attempts"].sum()
        many = set(all_attempts[all_attempts >= rd.settings.let_go_after_contacts].index)
        silent_t = t.loc[~t["came_back"], "customer_id"]
        cost = (float(costs["cost"].sum()) if len(costs) else 0.0) + redeemed_bundle_cost(rd, t)
        rows.append({
            "round_id": rid, "round_date": rd.round_date, "month_measured": month, "complete": bool(done.get(month, False)),
            "treated": n_t, "holdout": n_h, "contact_attempts": int(costs["attempts"].sum()) if len(costs) else 0,
            "won_back": int(t["came_back"].sum()), "treated_rate": rate_t, "holdout_rate": rate_h,
            "incremental_returns": (rate_t - rate_h) * n_t, "still_silent": len(silent_t),
            "let_go_after_contacts": int(silent_t.isin(many).sum()),
            "incremental_spend": spend_diff * n_t, "cost": cost,
            "cost_per_incremental_return": cost / ((rate_t - rate_h) * n_t) if rate_t > rate_h else np.nan})
    return pd.DataFrame(rows)


def _month_starts(start: dt.date, end: dt.date) -> list[pd.Timestamp]:
    first = pd.Timestamp(start).to_period("M").to_timestamp()
    return list(pd.date_range(first, pd.Timestamp(end), freq="MS"))


def lost_population(db: str | Path | None, start: Any, end: Any = None, lost_days: float = DEFAULT_LOST_DAYS
                    ) -> pd.DataFrame:
    """Per calendar month from ``start``'s month to ``end``: lost at start and end, newly lost, returned, net."""
    end = pd.Timestamp(end).date() if end is not None else data_end(db)
    months = _month_starts(pd.Timestamp(start).date(), end)
    if not months:
        return pd.DataFrame()
    L = int(lost_days)
    bounds = pd.DataFrame({"month": [m.strftime("%Y-%m") for m in months],
                           "d0": [(m - pd.Timedelta(days=1)).date() for m in months],
                           "d1": [min((m + pd.offsets.MonthEnd(0)).date(), end) for m in months]})
    with connect(db, read_only=True) as con:
        con.register("_b", bounds)
        frame = con.execute(f"""
            WITH per AS (
                SELECT b.month, b.d0, b.d1, t.customer_id,
                       max(t.date) FILTER (WHERE t.date <= b.d0) AS last0,
                       max(t.date) FILTER (WHERE t.date <= b.d1) AS last1,
                       count(*) FILTER (WHERE t.date > b.d0 AND t.date <= b.d1) AS bought
                FROM _b b JOIN transactions t ON t.date <= b.d1
                GROUP BY ALL)
            SELECT month, d1 AS month_end,
                   count(*) FILTER (WHERE last0 IS NOT NULL AND d0 - last0 > {L}) AS lost_start,
                   count(*) FILTER (WHERE d1 - last1 > {L}) AS lost_end,
                   count(*) FILTER (WHERE d1 - last1 > {L} AND (last0 IS NULL OR d0 - last0 <= {L})) AS newly_lost,
                   count(*) FILTER (WHERE last0 IS NOT NULL AND d0 - last0 > {L} AND bought > 0) AS returned
            FROM per GROUP BY ALL ORDER BY month""").df()
        con.unregister("_b")
    frame["net_change"] = frame["lost_end"] - frame["lost_start"]
    frame["lost_days"] = L
    return frame


def early_warning_hits(db: str | Path | None, end: Any = None, lost_days: float = DEFAULT_LOST_DAYS) -> pd.DataFrame:
    """Per scoring date: flagged customers who have not bought since (lapsed) or are lost by ``end``,
    against unflagged customers in the early warning's stages (active, silent)."""
    end = pd.Timestamp(end).date() if end is not None else data_end(db)
    L = int(lost_days)
    with connect(db, read_only=True) as con:
        have = con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = 'customer_scores'"
                           ).fetchall()[0][0]
        if not have:
            return pd.DataFrame()
        frame = con.execute(f"""
            WITH s AS (SELECT as_of, customer_id, coalesce(early_warning, false) AS flagged FROM customer_scores
                       WHERE stage IN ('active', 'silent') AND as_of < ?),
                 f AS (SELECT s.as_of, s.customer_id, s.flagged,
                              count(t.date) FILTER (WHERE t.date > s.as_of AND t.date <= ?) AS bought_after,
                              max(t.date) FILTER (WHERE t.date <= ?) AS last
                       FROM s LEFT JOIN transactions t USING (customer_id) GROUP BY ALL)
            SELECT as_of, flagged, count(*) AS customers,
                   count(*) FILTER (WHERE bought_after = 0) AS lapsed,
                   count(*) FILTER (WHERE ?::DATE - last > {L}) AS lost
            FROM f GROUP BY ALL ORDER BY as_of, flagged""", [end, end, end, end]).df()
    if frame.empty:
        return frame
    frame["followup_days"] = (pd.Timestamp(end) - pd.to_datetime(frame["as_of"])).dt.days
    frame["lapsed_rate"] = frame["lapsed"] / frame["customers"]
    frame["lost_rate"] = frame["lost"] / frame["customers"]
    wide = frame.pivot(index=["as_of", "followup_days"], columns="flagged",
                       values=["customers", "lapsed", "lost", "lapsed_rate", "lost_rate"])
    wide.columns = [f"{v}_{'flagged' if k else 'unflagged'}" for v, k in wide.columns]
    wide = wide.reset_index()
    for col in ("lapsed_rate", "lost_rate"):
        if f"{col}_flagged" in wide and f"{col}_unflagged" in wide:
            wide[f"{col}_ratio"] = wide[f"{col}_flagged"] / wide[f"{col}_unflagged"]
    return wide.rename(columns={"lapsed_rate_flagged": "hit_rate"})


def campaign_effect(db: str | Path | None, campaign_id: str, *, as_of: Any = None,
                    settings: EvaluationSettings | None = None) -> pd.DataFrame:
    """The campaign-level effect across its rounds: is the programme worth continuing?

    Each round contributes the customers whose arm it drew (its cohort), measured from its own round date
    at its last month whose windows have all ended (else the last month asked for, ``complete`` False):
    incremental returns = (treated rate - holdout rate) x treated, and the same for spend, each with its
    normal 95% interval. Cohorts are disjoint and independently randomised, so the campaign row adds the
    increments and their variances. One row per round, oldest first, then a ``round_id`` "campaign" row.
    """
    rounds = campaign_rounds(db, campaign_id)
    rows = []
    for rid in rounds["round_id"]:
        ev = evaluate_round(db, rid, as_of=as_of, settings=settings)
        alpha = ev.data.settings.alpha
        z = float(st.norm.ppf(1 - alpha / 2))
        cb = ev.rates[ev.rates["outcome"] == "came_back"]
        if cb.empty:
            continue
        done = cb[cb["look"] != "open"]
        r = (done if len(done) else cb).sort_values("month").iloc[-1]
        sp = ev.amounts[(ev.amounts["outcome"] == "spend") & (ev.amounts["month"] == r["month"])]
        n_t, n_h = int(r["n_treat"]), int(r["n_hold"])
        pt, ph = float(r["rate_treat"]), float(r["rate_hold"])
        se = float(np.sqrt(pt * (1 - pt) / n_t + ph * (1 - ph) / n_h)) if n_t and n_h else np.nan
        spend_diff = float(sp["diff"].iloc[0]) if len(sp) else np.nan
        spend_se = float((sp["diff_hi"].iloc[0] - sp["diff_lo"].iloc[0]) / (2 * z)) if len(sp) else np.nan
        roi = ev.roi[ev.roi["month"] == r["month"]]
        rows.append({"round_id": rid, "round_date": ev.data.round_date, "month": int(r["month"]),
                     "complete": r["look"] != "open", "treated": n_t, "holdout": n_h, "rate_treat": pt,
                     "rate_hold": ph, "diff": pt - ph, "incremental_returns": (pt - ph) * n_t,
                     "returns_se": se * n_t, "incremental_spend": spend_diff * n_t, "spend_se": spend_se * n_t,
                     "cost": float(roi["cost"].iloc[0]) if len(roi) else 0.0, "z": z})
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    z = float(frame["z"].iloc[0])
    total = {"round_id": "campaign", "round_date": frame["round_date"].max(), "month": np.nan,
             "complete": bool(frame["complete"].all()), "treated": int(frame["treated"].sum()),
             "holdout": int(frame["holdout"].sum()),
             "rate_treat": float((frame["rate_treat"] * frame["treated"]).sum() / frame["treated"].sum()),
             "rate_hold": float((frame["rate_hold"] * frame["holdout"]).sum() / frame["holdout"].sum()),
             "incremental_returns": float(frame["incremental_returns"].sum()),
             "returns_se": float(np.sqrt((frame["returns_se"] ** 2).sum())),
             "incremental_spend": float(frame["incremental_spend"].sum()),
             "spend_se": float(np.sqrt((frame["spend_se"] ** 2).sum())), "cost": float(frame["cost"].sum()), "z": z}
    total["diff"] = total["incremental_returns"] / total["treated"]
    frame = pd.concat([frame, pd.DataFrame([total])], ignore_index=True)
    for what, se in (("returns", "returns_se"), ("spend", "spend_se")):
        frame[f"incremental_{what}_lo"] = frame[f"incremental_{what}"] - z * frame[se]
        frame[f"incremental_{what}_hi"] = frame[f"incremental_{what}"] + z * frame[se]
    frame["p_val"] = 2 * st.norm.sf(np.abs(frame["incremental_returns"] / frame["returns_se"]))
    return frame.drop(columns=["z"])


def campaign_verdict(effect: pd.DataFrame, alpha: float = 0.05) -> tuple[str, str]:
    """The answer to "is it worth continuing?" in English and Chinese, from :func:`campaign_effect`."""
    if effect is None or effect.empty:
        return ("No evaluated rounds yet.", "还没有可评估的轮次。")
    t = effect[effect["round_id"] == "campaign"].iloc[0]
    n = len(effect) - 1
    inc, lo, hi = t["incremental_returns"], t["incremental_returns_lo"], t["incremental_returns_hi"]
    ci = f"{lo:,.0f} to {hi:,.0f}"
    pending = "" if t["complete"] else " (the newest round's months are still open: provisional)"
    pending_zh = "" if t["complete"] else "（最新一轮尚未满期，为暂定结果）"
    if lo > 0:
        en = (f"Over {n} round(s) the programme brought back {inc:,.0f} customers more than the holdout would have "
              f"(95% CI {ci}), for a cost of {t['cost']:,.0f}: worth continuing{pending}.")
        zh = (f"{n} 轮挽回合计比对照组多带回 {inc:,.0f} 位客户（95% 置信区间 {lo:,.0f} 至 {hi:,.0f}），"
              f"成本 {t['cost']:,.0f}：值得继续{pending_zh}。")
    elif hi < 0:
        en = (f"Over {n} round(s) the programme brought back {abs(inc):,.0f} customers fewer than the holdout "
              f"(95% CI {ci}): contact is driving customers away; stop and review the scripts{pending}.")
        zh = (f"{n} 轮挽回合计比对照组少带回 {abs(inc):,.0f} 位客户（95% 置信区间 {lo:,.0f} 至 {hi:,.0f}）："
              f"联系反而让客户流失，应暂停并检查话术{pending_zh}。")
    else:
        en = (f"Over {n} round(s) the programme's effect is {inc:,.0f} customers (95% CI {ci}): not distinguishable "
              f"from zero yet, for a cost of {t['cost']:,.0f}{pending}.")
        zh = (f"{n} 轮挽回合计效果为 {inc:,.0f} 位客户（95% 置信区间 {lo:,.0f} 至 {hi:,.0f}）：尚无法与零区分，"
              f"成本 {t['cost']:,.0f}{pending_zh}。")
    return en, zh
