"""Evaluate one round end to end: checks, treated vs holdout, before/after, breakdowns, cost and verdicts.

``evaluate_round(db, round_id)`` returns a :class:`RoundEvaluation` of tidy
frames; the notebook draws them and ``workbench.evaluation.excel`` writes them.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from workbench.evaluation import compare
from workbench.evaluation.checks import design_checks
from workbench.evaluation.config import EvaluationSettings, parse_settings
from workbench.evaluation.outcomes import customer_outcomes
from workbench.evaluation.roi import contact_costs, round_roi
from workbench.evaluation.rounds import RoundData, latest_round, load_round
from workbench.evaluation.verdicts import verdicts
from workbench.stats import adjust


@dataclass
class RoundEvaluation:
    """Everything measured about one round; every attribute except ``data``/``timings`` is a tidy frame."""

    data: RoundData
    outcomes: pd.DataFrame
    checks: pd.DataFrame
    rates: pd.DataFrame
    amounts: pd.DataFrame
    spend_split: pd.DataFrame
    paired: pd.DataFrame
    did: pd.DataFrame
    breakdowns: pd.DataFrame
    contact_costs: pd.DataFrame
    roi: pd.DataFrame
    verdicts: pd.DataFrame
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"Round {self.data.round_id} ({self.data.round_date})"

    def summary(self) -> pd.DataFrame:
        """The round at a glance (one row per item: item, value)."""
        d = self.data
        c = d.customers
        items = [("round", d.round_id), ("campaign", d.campaign_id), ("round date", str(d.round_date)),
                 ("data up to", str(d.data_end)), ("treated", int((c["treat"] == 1).sum())),
                 ("holdout", int((c["treat"] == 0).sum())), ("excluded", d.excluded),
                 ("planned holdout share", d.holdout_share), ("alpha", d.settings.alpha),
                 ("correction", d.settings.correction), ("months", ", ".join(map(str, d.settings.months)))]
        return pd.DataFrame(items, columns=["item", "value"]).astype({"value": "object"})


def _settings_for(rd_settings: EvaluationSettings, months, alpha, correction) -> EvaluationSettings:
    changes: dict[str, Any] = {}
    if months is not None:
        months = [months] if isinstance(months, int) else list(months)
        changes["months"] = list(range(1, max(months) + 1)) if len(months) == 1 else months
    if alpha is not None:
        changes["alpha"] = alpha
    if correction is not None:
        changes["correction"] = correction
    if not changes:
        return rd_settings
    raw = {**rd_settings.raw, **changes}
    return parse_settings(raw, rd_settings.source + " + arguments")


def _treatment_arms(rd: RoundData) -> list[str]:
    """Names of the treatment arms when a round has more than one (rounds imported from other tools)."""
    c = rd.customers
    names = c.loc[c["treat"] == 1, "arm_name"].dropna().astype(str).unique().tolist()
    return sorted(names) if len(names) > 1 else []


def _correct_across_arms(frame: pd.DataFrame, keys: list[str], pairs: list[tuple[str, str, str]],
                         settings: EvaluationSettings) -> pd.DataFrame:
    """With several treatment arms, each compared with the one holdout: p-values corrected across the arms
    (per month and outcome), and significance re-read from the corrected p against the look's level."""
    if frame.empty:
        return frame
    frame = frame.copy()
    for p_col, level_col, sig_col in pairs:
        if p_col not in frame.columns:
            continue
        adj = pd.Series(float("nan"), index=frame.index)
        for _, idx in frame.groupby(keys).groups.items():
            adj.loc[idx] = adjust(frame.loc[idx, p_col], settings.correction, settings.alpha)
        frame[p_col + "_arms"] = adj
        frame[sig_col] = (adj < frame[level_col]) & frame["look"].ne("open")
    return frame


def evaluate_round(db: str | Path | None, round_id: str | None = None, *, campaign: str | None = None,
                   months: int | list[int] | None = None, alpha: float | None = None, correction: str | None = None,
                   as_of: Any = None, settings: EvaluationSettings | None = None) -> RoundEvaluation:
    """Evaluate a round (default: the newest round of ``campaign``, or of the store).

    ``months=3`` means months 1, 2 and 3; a list picks months. ``as_of`` sets the
    data end (default: the last transaction or event date in the store). A round
    with several treatment arms (imported from another tool) compares each arm
    with the holdout: every table gains a ``treatment_arm`` column and the p-values are
    corrected across the arms.
    """
    clock = {}
    t0 = time.perf_counter()
    round_id = round_id or latest_round(db, campaign)
    rd = load_round(db, round_id, settings, as_of)
    rd = dataclasses.replace(rd, settings=_settings_for(rd.settings, months, alpha, correction))
    s = rd.settings
    clock["load"] = time.perf_counter() - t0
    t = time.perf_counter()
    out = customer_outcomes(db, rd)
    out = compare.add_capped_spend(out, s.spend_cap_percentile)
    clock["outcomes"] = time.perf_counter() - t
    arms = _treatment_arms(rd)
    if rd.customers.empty or rd.customers["treat"].nunique() < 2:
        return _nothing_to_compare(rd, out, clock, t0)
    if not arms:
        parts = [_measure(rd, out, f"Round {rd.round_id}", clock)]
    else:
        parts = []
        for name in arms:
            keep = (rd.customers["treat"] == 0) | (rd.customers["arm_name"].astype(str) == name)
            sub = dataclasses.replace(rd, customers=rd.customers[keep].reset_index(drop=True))
            ids = set(sub.customers["customer_id"])
            part = _measure(sub, out[out["customer_id"].isin(ids)].reset_index(drop=True),
                            f"Round {rd.round_id}, arm {name}", clock)
            parts.append({k: (v.assign(treatment_arm=name) if isinstance(v, pd.DataFrame) else v) for k, v in part.items()})
    tables = {k: pd.concat([p[k] for p in parts], ignore_index=True) for k in parts[0]}
    if arms:
        tables["rates"] = _correct_across_arms(tables["rates"], ["month", "outcome"],
                                               [("p_report", "level", "significant"),
                                                ("adj_p", "adj_level", "adj_significant")], s)
        tables["amounts"] = _correct_across_arms(tables["amounts"], ["month", "outcome"],
                                                 [("p_val", "level", "significant")], s)
        tables["did"] = _correct_across_arms(tables["did"], ["month", "outcome"], [("p_val", "level", "significant")], s)
        def mine(table: str, name: str) -> pd.DataFrame:
            frame = tables[table]
            return frame[frame["treatment_arm"] == name] if "treatment_arm" in frame.columns else frame

        tables["verdicts"] = pd.concat([
            verdicts(f"Round {rd.round_id}, arm {name}", mine("checks", name), mine("rates", name),
                     mine("amounts", name), mine("paired", name), mine("roi", name), s)
            for name in arms], ignore_index=True)
    clock["total"] = time.perf_counter() - t0
    return RoundEvaluation(data=rd, outcomes=out, timings=clock, **tables)


def _measure(rd: RoundData, out: pd.DataFrame, label: str, clock: dict[str, float]) -> dict[str, pd.DataFrame]:
    """Every table of one treated-vs-holdout comparison (one treatment arm)."""
    s = rd.settings
    t = time.perf_counter()
    checks = design_checks(rd, out)
    rates = compare.rate_comparisons(out, s)
    amounts = compare.amount_comparisons(out, s)
    split = compare.spend_split(out, s)
    clock["treated_vs_holdout"] = clock.get("treated_vs_holdout", 0.0) + time.perf_counter() - t
    t = time.perf_counter()
    paired, did = compare.before_after(out, s)
    clock["before_after"] = clock.get("before_after", 0.0) + time.perf_counter() - t
    t = time.perf_counter()
    bd = compare.breakdowns(out, s)
    clock["breakdowns"] = clock.get("breakdowns", 0.0) + time.perf_counter() - t
    costs = contact_costs(rd)
    roi = round_roi(rd, out, amounts)
    v = verdicts(label, checks, rates, amounts, paired, roi, s)
    return {"checks": checks, "rates": rates, "amounts": amounts, "spend_split": split, "paired": paired,
            "did": did, "breakdowns": bd, "contact_costs": costs, "roi": roi, "verdicts": v}


def _nothing_to_compare(rd: RoundData, out: pd.DataFrame, clock: dict[str, float], t0: float) -> RoundEvaluation:
    """A round that drew no comparison of its own (every customer continues an earlier round's sequence, or
    one arm is empty): the checks and one plain sentence, every other table empty."""
    n = rd.customers["treat"].value_counts().to_dict() if len(rd.customers) else {}
    cont = sum(rd.continuing.values())
    text = (f"Round {rd.round_id}: nothing to compare here: {n.get(1, 0):,} treated and {n.get(0, 0):,} holdout "
            f"customers were randomised in this round")
    text += (f"; {cont:,} customers continue sequences from earlier rounds and are evaluated with the rounds that "
             "drew them, and in the campaign effect." if cont else ".")
    empty = pd.DataFrame()
    checks = design_checks(rd)
    verdict = pd.DataFrame([("checks", None, "warning", text)], columns=["topic", "month", "level", "text"])
    clock["total"] = time.perf_counter() - t0
    return RoundEvaluation(data=rd, outcomes=out, checks=checks, rates=empty, amounts=empty, spend_split=empty,
                           paired=empty, did=empty, breakdowns=empty, contact_costs=contact_costs(rd), roi=empty,
                           verdicts=verdict, timings=clock)
