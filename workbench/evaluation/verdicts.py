"""Plain-language verdicts generated from the numbers only.

Rules: "more" or "less" only when the test says so at its look's level;
otherwise "too small to tell" when the round could not have detected the
smallest effect worth acting on (its minimum detectable effect is larger), or
"no detectable difference" with the size that would have been seen. Each month
is a *look* at the same round: it is judged once every customer's window for
it has ended (before that it is shown as open and not tested), and alpha is
spent across the looks (``sequential`` in the settings), so a round with no
effect is called significant at any look at most alpha of the time. The
primary result is the adjusted return rate at the last month; earlier months
are monitoring looks. Problems with the design (sample-ratio mismatch, a
contacted holdout) come first, and before/after on contacted customers is
never called the effect.
"""

from __future__ import annotations

import math

import pandas as pd

from workbench.evaluation.config import EvaluationSettings


def fmt_p(p: float) -> str:
    """p < 0.001, or p = 0.042 (three decimals)."""
    if p is None or (isinstance(p, float) and math.isnan(p)):
        return "p not available"
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def _pts(x: float) -> str:
    return f"{x * 100:.1f}"


def _money(x: float) -> str:
    return f"{x:,.0f}"


def _look_note(r: pd.Series, settings: EvaluationSettings, p_col: str = "p_val") -> str:
    """'(monitoring look, significant below p = 0.0120)' or '(primary, final look, significant below ...)'."""
    look = r.get("look", "final")
    level = r.get("level", settings.alpha)
    where = {"final": "final look", "interim": "monitoring look"}.get(look, look)
    return f"{where}, significant below p = {level:.4f} after spending alpha across the months"


def _open_text(label: str, m: int, measure: str, r: pd.Series, nums: str) -> str:
    return (f"{label}, {measure}: month {m} is still open ({r.get('observed_share', 0):.0%} of the customers' "
            f"windows have ended) {nums}; it is judged once every window has ended.")


def rate_verdict(r: pd.Series, label: str, settings: EvaluationSettings, what: str = "came back",
                 measure: str = "return rate") -> str:
    """One sentence about a return-rate comparison (a row of ``rate_comparisons``)."""
    m = int(r["month"])
    p = r.get("p_report", r["p_val"])
    test = " Fisher" if r.get("test") == "Fisher exact" else ""
    nums = (f"({_pts(r['rate_treat'])}% vs {_pts(r['rate_hold'])}%, difference {_pts(r['diff'])} points, "
            f"{int(round((1 - settings.alpha) * 100))}% CI {_pts(r['diff_lo'])} to {_pts(r['diff_hi'])},{test} {fmt_p(p)})")
    if r.get("look", "final") == "open":
        return _open_text(label, m, measure, r, nums)
    note = _look_note(r, settings)
    if r.get("significant", p < settings.alpha):
        more = "more" if r["diff"] > 0 else "less"
        return f"{label}: contacted customers {what} {more} than the holdout in month {m} {nums}; {note}."
    if not r["mde"] <= settings.meaningful["came_back"]:
        return (f"{label}, {measure}: too small to tell in month {m} {nums}: with {int(r['n_treat']):,} treated and "
                f"{int(r['n_hold']):,} holdout customers only a difference of {_pts(r['mde'])} points or more "
                f"could be detected, more than the {_pts(settings.meaningful['came_back'])} points worth acting on "
                f"({note}).")
    return (f"{label}, {measure}: no detectable difference between contacted customers and the holdout in month {m} "
            f"{nums}; a difference of {_pts(r['mde'])} points would probably have been seen ({note}).")


def spend_verdict(r: pd.Series, label: str, settings: EvaluationSettings) -> str:
    """One sentence about the spend difference (a ``spend`` row of ``amount_comparisons``), bootstrap CI."""
    m = int(r["month"])
    nums = (f"({_money(r['mean_treat'])} vs {_money(r['mean_hold'])} per customer, difference {_money(r['diff'])}, "
            f"bootstrap {int(round((1 - settings.alpha) * 100))}% CI {_money(r['boot_lo'])} to {_money(r['boot_hi'])}, "
            f"permutation {fmt_p(r.get('perm_p', r['p_val']))})")
    if r.get("look", "final") == "open":
        return _open_text(label, m, "spend", r, nums)
    note = _look_note(r, settings)
    excludes_zero = r["boot_lo"] > 0 or r["boot_hi"] < 0
    if r.get("significant", r["p_val"] < settings.alpha) and excludes_zero:
        more = "more" if r["diff"] > 0 else "less"
        return f"{label}: contacted customers spent {more} than the holdout by month {m} {nums}; {note}."
    if not r["mde"] <= settings.meaningful["spend"]:
        return (f"{label}: spend difference too small to tell by month {m} {nums}; the round could only detect "
                f"{_money(r['mde'])} per customer or more ({note}).")
    return f"{label}: no detectable spend difference by month {m} {nums} ({note})."


def adjusted_verdict(r: pd.Series, label: str, settings: EvaluationSettings) -> str:
    """The headline: return rate adjusted for each customer's own before-window (ANCOVA)."""
    m = int(r["month"])
    ci = f"{_pts(r['adj_lo'])} to {_pts(r['adj_hi'])}"
    role = "the primary result" if r.get("primary", False) else "a monitoring look"
    if r.get("look", "final") == "open":
        return (f"{label}: adjusted for each customer's own history, the effect on the return rate by month {m} is "
                f"{_pts(r['adj_estimate'])} points so far (CI {ci}); month {m} is still open and not judged yet.")
    level = r.get("adj_level", settings.alpha)
    sig = r.get("adj_significant", r["adj_p"] < settings.alpha)
    tail = f"{role}, significant below p = {level:.4f} after spending alpha across the months"
    if sig:
        dirn = "raised" if r["adj_estimate"] > 0 else "lowered"
        return (f"{label}: being assigned to contact {dirn} the return rate by {_pts(abs(r['adj_estimate']))} points "
                f"by month {m}, adjusted for each customer's own history (CI {ci}, {fmt_p(r['adj_p'])}; {tail}).")
    return (f"{label}: adjusted for each customer's own history, the effect on the return rate by month {m} is "
            f"{_pts(r['adj_estimate'])} points (CI {ci}, {fmt_p(r['adj_p'])}): not distinguishable from zero ({tail}).")


def roi_verdict(r: pd.Series, label: str) -> str:
    """Cost against incremental spend; says "on revenue, not on profit" when no margin is set."""
    m = int(r["month"])
    head = (f"{label}: by month {m} the round cost {_money(r['cost'])} and brought an estimated "
            f"{_money(r['incremental_spend'])} of incremental spend (CI {_money(r['incremental_lo'])} to "
            f"{_money(r['incremental_hi'])})")
    on_revenue = r.get("basis", "profit") == "revenue"
    if not r["cost"] > 0 or math.isnan(r["roi"]):
        return head + "; no cost recorded, so no return on cost."
    if r["roi_lo"] > 0:
        tail = "it paid for itself"
    elif r["roi_hi"] < 0:
        tail = "it did not pay for itself"
    else:
        tail = "whether it paid for itself cannot be told yet"
    if on_revenue:
        return (head + f": return on cost {r['roi']:.2f} (CI {r['roi_lo']:.2f} to {r['roi_hi']:.2f}), on revenue, not on "
                f"profit (set margin_rate for the return on profit); {tail}, counting all revenue as profit.")
    return head + (f": return on cost {r['roi']:.2f} (CI {r['roi_lo']:.2f} to {r['roi_hi']:.2f}) on profit at a "
                   f"{r['margin_rate']:.0%} margin, {tail}.")


def regression_to_mean_note(paired: pd.DataFrame, month: int) -> str:
    """Why before/after on the contacted is not the effect, with the holdout's own before/after."""
    p = paired[(paired["month"] == month) & (paired["outcome"] == "came_back")].set_index("arm")
    text = ("Before/after on contacted customers alone is not the effect: lapsed customers drift back on their own "
            "(regression to the mean), so the holdout's change is subtracted (difference-in-differences).")
    if {"treatment", "holdout"} <= set(p.index):
        t, h = p.loc["treatment"], p.loc["holdout"]
        text += (f" Month {month}: treated {_pts(t['before'])}% before vs {_pts(t['after'])}% after; "
                 f"holdout {_pts(h['before'])}% vs {_pts(h['after'])}%.")
    return text


def verdicts(label: str, checks: pd.DataFrame, rates: pd.DataFrame, amounts: pd.DataFrame, paired: pd.DataFrame,
             roi: pd.DataFrame, settings: EvaluationSettings) -> pd.DataFrame:
    """All verdicts of a round in reading order: topic, month, level (warning/result/note), text."""
    rows = []
    for _, c in checks[checks["flag"]].iterrows():
        if c["check"] == "sample_ratio":
            rows.append(("checks", None, "warning", f"{label}: sample-ratio mismatch: {c['detail']}. The split of the "
                         "arms is not what was planned, so the comparison may be biased; find out why before trusting it."))
        elif c["check"] == "holdout_contamination":
            rows.append(("checks", None, "warning", f"{label}: the holdout was contacted: {c['detail']}. The "
                         "difference between the arms understates the effect of contact."))
        elif c["check"] == "contact_coverage":
            rows.append(("checks", None, "warning", f"{label}: {c['detail']}."))
    if len(rates):
        last = max(settings.months)
        rows.append(("design", None, "note",
                     f"{label}: the primary result is the return rate at month {last}, adjusted for each customer's own "
                     f"history; months {', '.join(str(m) for m in settings.months if m != last) or 'before it'} are "
                     f"monitoring looks. Alpha {settings.alpha:g} is spent across the looks ({settings.sequential}), so a "
                     "round with no effect is called significant at any look at most that often."))
    for m in sorted(rates["month"].unique()) if len(rates) else []:
        cb = rates[(rates["month"] == m) & (rates["outcome"] == "came_back")]
        if len(cb):
            rows.append(("came_back", m, "result", rate_verdict(cb.iloc[0], label, settings)))
            rows.append(("headline", m, "result", adjusted_verdict(cb.iloc[0], label, settings)))
        om = rates[(rates["month"] == m) & (rates["outcome"] == "offer_match")]
        if len(om):
            rows.append(("offer_match", m, "result",
                         rate_verdict(om.iloc[0], label, settings, what="bought what they were offered",
                                      measure="bought what was offered")))
        en = rates[(rates["month"] == m) & (rates["outcome"] == "engaged")]
        if len(en):
            rows.append(("engaged", m, "result",
                         rate_verdict(en.iloc[0], label, settings, what="took part (events, referrals, suggestions, surveys)",
                                      measure="non-spend engagement")))
        sp = amounts[(amounts["month"] == m) & (amounts["outcome"] == "spend")] if len(amounts) else amounts
        if len(sp):
            rows.append(("spend", m, "result", spend_verdict(sp.iloc[0], label, settings)))
        ro = roi[roi["month"] == m] if len(roi) else roi
        if len(ro):
            rows.append(("roi", m, "result", roi_verdict(ro.iloc[0], label)))
    if len(paired):
        rows.append(("before_after", int(paired["month"].max()), "note",
                     regression_to_mean_note(paired, int(paired["month"].max()))))
    return pd.DataFrame(rows, columns=["topic", "month", "level", "text"])
