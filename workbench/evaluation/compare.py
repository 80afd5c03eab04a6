"""Treated vs holdout, before vs after, and the breakdowns by segment: tidy frames from the customer outcomes.

The headline is the effect of being *assigned* to contact, over every
assigned customer with their zeros (treated customers never reached stay in
the treated arm), adjusted for the customer's own value in the equal window
before (ANCOVA ``post ~ arm + pre``, the CUPED idea). Before/after is shown for
both arms: pre vs post on contacted customers alone is not the effect, because
lapsed customers drift back on their own (regression to the mean); the
difference-in-differences against the holdout is.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import pandas as pd

from workbench.evaluation import stats as S
from workbench.evaluation.config import EvaluationSettings
from workbench.stats import adjust

RATE_OUTCOMES = ("came_back", "engaged", "offer_match")
AMOUNT_OUTCOMES = ("spend", "spend_capped", "spend_necessary", "spend_discretionary", "visits", "engagement")
BOOTSTRAPPED = ("spend", "spend_capped")
MISSING_CELL = "(missing)"


def look_months(out: pd.DataFrame, settings: EvaluationSettings) -> dict[int, str]:
    """Each month's look: ``final`` (the last month of the design: the primary result), ``interim`` (an
    earlier month, a monitoring look) or ``open`` (some customers' windows have not ended: not a look yet,
    nothing is tested). A month becomes a look once, when its windows have all ended, and stays the same."""
    last = max(settings.months)
    done = out.groupby("month")["observed"].all()
    return {int(m): ("open" if not done.get(m, False) else "final" if m == last else "interim")
            for m in sorted(out["month"].unique())}


@lru_cache(maxsize=512)
def _cached_levels(fractions: tuple[float, ...], corr: tuple[float, ...], alpha: float, spending: str) -> tuple:
    k = len(fractions)
    return tuple(S.look_levels(fractions, np.array(corr).reshape(k, k), alpha, spending))


def _by_customer(out: pd.DataFrame, values: np.ndarray, months: list[int], rows: np.ndarray | None
                 ) -> tuple[np.ndarray, np.ndarray]:
    """``values`` as a customers x months array and the customers' arm (treated True). ``customer_outcomes``
    returns a full grid sorted by month then customer, so its month blocks are reshaped directly; any
    other frame is pivoted."""
    keep = np.ones(len(out), dtype=bool) if rows is None else np.asarray(rows, bool)
    month = out["month"].to_numpy()
    ids = out["customer_id"].to_numpy()
    blocks = [np.flatnonzero(month == m) for m in months]
    n = len(blocks[0])
    if all(len(b) == n for b in blocks) and all(np.array_equal(ids[b], ids[blocks[0]]) for b in blocks[1:]):
        first = blocks[0]
        mine = keep[first]
        y = np.column_stack([values[b] for b in blocks])[mine]
        return y, out["treat"].to_numpy()[first][mine] == 1
    frame = pd.DataFrame({"customer_id": ids[keep], "month": month[keep], "treat": out["treat"].to_numpy()[keep],
                          "y": values[keep]})
    frame = frame[frame["month"].isin(months)]
    wide = frame.pivot_table(index="customer_id", columns="month", values="y", aggfunc="first").reindex(columns=months)
    treat = frame.drop_duplicates("customer_id").set_index("customer_id")["treat"].reindex(wide.index)
    return wide.fillna(0.0).to_numpy(), treat.to_numpy() == 1


def look_levels(out: pd.DataFrame, settings: EvaluationSettings, values: pd.Series | np.ndarray,
                rows: np.ndarray | None = None, looks: dict[int, str] | None = None) -> dict[int, float]:
    """Significance level of each month's look for one outcome (alpha spent across the looks; NaN when open).

    ``values`` is the outcome per row of ``out`` (for example ``came_back``, or the change for a
    difference-in-differences); ``rows`` restricts the customers (e.g. those offered a bundle). The looks'
    correlation comes from the customers' influence values on the arm difference, month by month.
    ``looks`` is :func:`look_months` of ``out`` when the caller has it already.
    """
    looks = look_months(out, settings) if looks is None else looks
    months = [m for m, kind in looks.items() if kind != "open"]
    levels = {m: math.nan for m in looks}
    if not months:
        return levels
    y, treat = _by_customer(out, np.asarray(values, float), months, rows)
    corr = S.look_correlation(S.mean_difference_influence(y, treat))
    last = max(settings.months)
    fractions = tuple(round(m / last, 6) for m in months)
    # correlations rounded to 0.02 share one computation (a calibration run reuses them across rounds): the
    # boundaries depend on the correlation weakly, so the last level moves by at most about 0.0003 in p
    key = tuple((np.round(corr * 50) / 50).ravel().tolist())
    for m, level in zip(months, _cached_levels(fractions, key, float(settings.alpha), settings.sequential)):
        levels[m] = float(level)
    return levels


def adjusted_values(out: pd.DataFrame, outcome: str) -> np.ndarray:
    """The outcome less its regression on the customer's own before-window, per month (what ANCOVA compares)."""
    y = out[outcome].to_numpy(float).copy()
    pre = out["pre_" + outcome].to_numpy(float)
    for _, idx in out.groupby("month").indices.items():
        x = pre[idx]
        if np.var(x) > 0:
            b = np.cov(x, y[idx])[0, 1] / np.var(x, ddof=1)
            y[idx] = y[idx] - b * x
    return y


def _arms(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    t = frame["treat"].to_numpy() == 1
    return frame[t], frame[~t]


def _mark_look(r: pd.DataFrame, look: str, level: float, p_col: str) -> None:
    """Add ``look``, ``level`` (the look's significance level after alpha spending) and ``significant``."""
    r["look"] = look
    r["level"] = level
    r["significant"] = bool(r[p_col].iloc[0] < level) if look != "open" else False


def add_capped_spend(out: pd.DataFrame, percentile: float) -> pd.DataFrame:
    """``spend_capped`` and ``pre_spend_capped``: spend capped per month at a percentile of buyers' spend."""
    out = out.copy()
    out["spend_capped"] = 0.0
    out["pre_spend_capped"] = 0.0
    out["spend_cap"] = np.nan
    for m, idx in out.groupby("month").groups.items():
        capped, limit = S.cap(out.loc[idx, "spend"], percentile)
        out.loc[idx, "spend_capped"] = capped
        out.loc[idx, "pre_spend_capped"] = np.minimum(out.loc[idx, "pre_spend"].to_numpy(), limit)
        out.loc[idx, "spend_cap"] = limit
    return out


def rate_comparisons(out: pd.DataFrame, settings: EvaluationSettings) -> pd.DataFrame:
    """Per month and yes/no outcome: two-proportion tests, lift, Cohen's h, the pre-adjusted estimate and the MDE."""
    rows = []
    looks = look_months(out, settings)
    offered = out["bundle"].notna().to_numpy()
    levels = {o: look_levels(out, settings, out[o].astype(float), offered if o == "offer_match" else None, looks)
              for o in RATE_OUTCOMES}
    adj_levels = look_levels(out, settings, adjusted_values(out, "came_back"), looks=looks)
    for m, g in out.groupby("month", sort=True):
        t, h = _arms(g)
        for outcome in RATE_OUTCOMES:
            gg, tt, hh = g, t, h
            if outcome == "offer_match":  # only customers who were (or would have been) offered a bundle
                gg = g[g["bundle"].notna()]
                tt, hh = _arms(gg)
            if not len(tt) or not len(hh):
                continue
            r = S.two_proportions(int(tt[outcome].sum()), len(tt), int(hh[outcome].sum()), len(hh), settings.alpha)
            small = r["min_expected"].iloc[0] < settings.min_expected
            r["test"] = "Fisher exact" if small else "z test"
            r["p_report"] = r["fisher_p"] if small else r["p_val"]
            adj = S.ancova(gg["treat"], gg["pre_" + outcome].astype(float), gg[outcome].astype(float), settings.alpha)
            r.insert(0, "outcome", outcome)
            r.insert(0, "month", m)
            r["adj_estimate"], r["adj_lo"], r["adj_hi"], r["adj_p"] = adj.iloc[0][["estimate", "est_lo", "est_hi", "p_val"]]
            r["mde"] = S.mde_proportion(len(tt), len(hh), r["rate_hold"].iloc[0], settings.alpha, settings.power)
            r["observed_share"] = float(gg["observed"].mean())
            _mark_look(r, looks[int(m)], levels[outcome][int(m)], "p_report")
            adj_level = adj_levels[int(m)] if outcome == "came_back" else math.nan
            r["adj_level"] = adj_level
            r["adj_significant"] = bool(r["adj_p"].iloc[0] < adj_level) if outcome == "came_back" else False
            r["primary"] = outcome == "came_back" and looks[int(m)] == "final"
            rows.append(r)
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()


def amount_comparisons(out: pd.DataFrame, settings: EvaluationSettings) -> pd.DataFrame:
    """Per month and amount: Welch t, Mann-Whitney with rank-biserial, bootstrap CI (spend), pre-adjusted estimate, MDE."""
    rows = []
    rng = np.random.default_rng(settings.seed)
    looks = look_months(out, settings)
    levels = {o: look_levels(out, settings, out[o].astype(float), looks=looks) for o in AMOUNT_OUTCOMES}
    for m, g in out.groupby("month", sort=True):
        t, h = _arms(g)
        if not len(t) or not len(h):
            continue
        for outcome in AMOUNT_OUTCOMES:
            x, y = t[outcome].to_numpy(float), h[outcome].to_numpy(float)
            r = S.welch(x, y, settings.alpha)
            mw = S.mann_whitney(x, y).iloc[0]
            r["U"], r["mw_p"], r["rank_biserial"] = mw["U"], mw["p_val"], mw["rank_biserial"]
            if outcome in BOOTSTRAPPED:
                b = S.bootstrap_mean_diff(x, y, settings.alpha, settings.resamples, rng).iloc[0]
                for col in ("boot_lo", "boot_hi", "lift", "lift_lo", "lift_hi"):
                    r[col] = b[col]
                r["perm_p"] = S.permutation_mean_diff(x, y, settings.resamples, rng)
            adj = S.ancova(g["treat"], g["pre_" + outcome].astype(float), g[outcome].astype(float), settings.alpha)
            r["adj_estimate"], r["adj_lo"], r["adj_hi"], r["adj_p"] = adj.iloc[0][["estimate", "est_lo", "est_hi", "p_val"]]
            r["mde"] = S.mde_mean(len(x), len(y), float(np.std(np.r_[x, y], ddof=1)), settings.alpha, settings.power)
            if outcome == "spend_capped":
                r["cap"] = float(g["spend_cap"].iloc[0])
            # spend is judged by its permutation test (exact for mostly-zero, skewed amounts); others by Welch
            _mark_look(r, looks[int(m)], levels[outcome][int(m)], "perm_p" if outcome in BOOTSTRAPPED else "p_val")
            r.insert(0, "outcome", outcome)
            r.insert(0, "month", m)
            rows.append(r)
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()


def spend_split(out: pd.DataFrame, settings: EvaluationSettings) -> pd.DataFrame:
    """Mean spend = P(buy) x spend per buyer, per month and arm, with the difference of each part tested."""
    rows = []
    for m, g in out.groupby("month", sort=True):
        t, h = _arms(g)
        p = S.two_proportions(int(t["came_back"].sum()), len(t), int(h["came_back"].sum()), len(h), settings.alpha).iloc[0]
        bt, bh = t.loc[t["came_back"], "spend"], h.loc[h["came_back"], "spend"]
        w = S.welch(bt, bh, settings.alpha).iloc[0]
        rows.append({"month": m, "p_buy_treat": p["rate_treat"], "p_buy_hold": p["rate_hold"], "p_buy_diff": p["diff"],
                     "p_buy_lo": p["diff_lo"], "p_buy_hi": p["diff_hi"], "p_buy_p": p["p_val"],
                     "per_buyer_treat": w["mean_treat"], "per_buyer_hold": w["mean_hold"], "per_buyer_diff": w["diff"],
                     "per_buyer_lo": w["diff_lo"], "per_buyer_hi": w["diff_hi"], "per_buyer_p": w["p_val"],
                     "buyers_treat": len(bt), "buyers_hold": len(bh),
                     "mean_spend_treat": float(t["spend"].mean()), "mean_spend_hold": float(h["spend"].mean())})
    return pd.DataFrame(rows)


def before_after(out: pd.DataFrame, settings: EvaluationSettings) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Paired before/after tests per arm (McNemar for came back, paired t and Wilcoxon for spend and visits)
    and the difference-in-differences of treated vs holdout (the arms' mean change, pooled two-sample error)."""
    paired_rows, did_rows = [], []
    looks = look_months(out, settings)
    did_levels = {o: look_levels(out, settings, out[o].astype(float) - out["pre_" + o].astype(float), looks=looks)
                  for o in ("came_back", "spend", "visits")}
    for m, g in out.groupby("month", sort=True):
        for arm, a in (("treatment", g[g["treat"] == 1]), ("holdout", g[g["treat"] == 0])):
            if not len(a):
                continue
            mc = S.mcnemar(S.paired_table(a["pre_came_back"], a["came_back"])).iloc[0]
            paired_rows.append({"month": m, "arm": arm, "outcome": "came_back", "n": len(a),
                                "before": float(a["pre_came_back"].mean()), "after": float(a["came_back"].mean()),
                                "diff": float(a["came_back"].mean() - a["pre_came_back"].mean()),
                                "diff_lo": np.nan, "diff_hi": np.nan, "test": "McNemar (exact; chi2 uncorrected)",
                                "statistic": mc["chi2"], "p_val": mc["p_exact"], "p_alt": mc["p_chi2"]})
            for outcome in ("spend", "visits"):
                r = S.paired(a["pre_" + outcome], a[outcome], settings.alpha).iloc[0]
                paired_rows.append({"month": m, "arm": arm, "outcome": outcome, "n": len(a), "before": r["mean_before"],
                                    "after": r["mean_after"], "diff": r["diff"], "diff_lo": r["diff_lo"],
                                    "diff_hi": r["diff_hi"], "test": "paired t (Wilcoxon signed-rank in p_alt)",
                                    "statistic": r["t"], "p_val": r["p_t"], "p_alt": r["p_wilcoxon"]})
        if g["treat"].nunique() == 2:
            for outcome in ("came_back", "spend", "visits"):
                d = S.did(g["treat"], g["pre_" + outcome].astype(float), g[outcome].astype(float),
                          groups=g["customer_id"], alpha=settings.alpha).iloc[0]
                row = {"month": m, "outcome": outcome, **d.to_dict()}
                level = did_levels[outcome][int(m)]
                row.update({"look": looks[int(m)], "level": level, "significant": bool(row["p_val"] < level)})
                did_rows.append(row)
    return pd.DataFrame(paired_rows), pd.DataFrame(did_rows)


def breakdowns(out: pd.DataFrame, settings: EvaluationSettings, columns: tuple[str, ...] | None = None) -> pd.DataFrame:
    """Treated vs holdout within each cell of each breakdown, per month: return rate and spend, with the
    correction applied across the cells of a breakdown (per month and outcome); small cells flagged."""
    columns = columns or settings.breakdowns
    rows = []
    for col in columns:
        if col not in out.columns:
            continue
        key = out[col].astype("object").where(out[col].notna(), MISSING_CELL).astype(str)
        # A holdout without this column (e.g. no agent: it is never called) is compared whole with each cell.
        split_holdout = bool(out.loc[out["treat"] == 0, col].notna().any())
        frame = out if split_holdout else out[out["treat"] == 1]
        whole = {m: g for m, g in out[out["treat"] == 0].groupby("month")}
        for (m, cell), g in frame.groupby([frame["month"], key.loc[frame.index]], sort=True):
            t, h = _arms(g)
            if not split_holdout:
                h = whole.get(m, h)
            base = {"breakdown": col, "cell": cell, "month": m, "n_treat": len(t), "n_hold": len(h),
                    "holdout_basis": "same cell" if split_holdout else f"whole holdout (holdout has no {col})"}
            if len(t) and len(h):
                p = S.two_proportions(int(t["came_back"].sum()), len(t), int(h["came_back"].sum()), len(h),
                                      settings.alpha).iloc[0]
                w = S.welch(t["spend"], h["spend"], settings.alpha).iloc[0]
                base.update({"rate_treat": p["rate_treat"], "rate_hold": p["rate_hold"], "diff": p["diff"],
                             "diff_lo": p["diff_lo"], "diff_hi": p["diff_hi"],
                             "p_val": p["fisher_p"] if p["min_expected"] < settings.min_expected else p["p_val"],
                             "test": "Fisher exact" if p["min_expected"] < settings.min_expected else "z test",
                             "lift": p["lift"], "lift_lo": p["lift_lo"], "lift_hi": p["lift_hi"], "cohen_h": p["cohen_h"],
                             "min_expected": p["min_expected"],
                             "spend_treat": w["mean_treat"], "spend_hold": w["mean_hold"], "spend_diff": w["diff"],
                             "spend_lo": w["diff_lo"], "spend_hi": w["diff_hi"], "spend_p": w["p_val"],
                             "cohen_d": w["cohen_d"]})
            else:
                base.update({"rate_treat": t["came_back"].mean() if len(t) else np.nan,
                             "rate_hold": h["came_back"].mean() if len(h) else np.nan, "test": "no comparison arm"})
            small = (len(t) < settings.min_customers or len(h) < settings.min_customers
                     or not base.get("min_expected", 0) >= settings.min_expected)
            base["small_cell"] = bool(small)
            rows.append(base)
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    for col in ("p_val", "spend_p", "diff", "diff_lo", "diff_hi", "lift", "lift_lo", "lift_hi"):
        if col not in frame.columns:
            frame[col] = np.nan
    frame["p_adj"] = np.nan
    frame["spend_p_adj"] = np.nan
    for _, idx in frame.groupby(["breakdown", "month"]).groups.items():
        frame.loc[idx, "p_adj"] = adjust(frame.loc[idx, "p_val"], settings.correction, settings.alpha)
        frame.loc[idx, "spend_p_adj"] = adjust(frame.loc[idx, "spend_p"], settings.correction, settings.alpha)
    frame["significant"] = frame["p_adj"] < settings.alpha
    frame["correction"] = settings.correction
    return frame
