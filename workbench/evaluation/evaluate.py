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


def evaluate_round(db: str | Path | None, round_id: str | None = None, *, campaign: str | None = None,
                   months: int | list[int] | None = None, alpha: float | None = None, correction: str | None = None,
                   as_of: Any = None, settings: EvaluationSettings | None = None) -> RoundEvaluation:
    """Evaluate a round (default: the newest round of ``campaign``, or of the store).

    ``months=3`` means months 1, 2 and 3; a list picks months. ``as_of`` sets the
    data end (default: the last transaction or event date in the store).
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
    t = time.perf_counter()
    checks = design_checks(rd, out)
    rates = compare.rate_comparisons(out, s)
    amounts = compare.amount_comparisons(out, s)
    split = compare.spend_split(out, s)
    clock["treated_vs_holdout"] = time.perf_counter() - t
    t = time.perf_counter()
    paired, did = compare.before_after(out, s)
    clock["before_after"] = time.perf_counter() - t
    t = time.perf_counter()
    bd = compare.breakdowns(out, s)
    clock["breakdowns"] = time.perf_counter() - t
    costs = contact_costs(rd)
    roi = round_roi(rd, out, amounts)
    label = f"Round {rd.round_id}"
    v = verdicts(label, checks, rates, amounts, paired, roi, s)
    clock["total"] = time.perf_counter() - t0
    return RoundEvaluation(data=rd, outcomes=out, checks=checks, rates=rates, amounts=amounts, spend_split=split,
                           paired=paired, did=did, breakdowns=bd, contact_costs=costs, roi=roi, verdicts=v,
                           timings=clock)
