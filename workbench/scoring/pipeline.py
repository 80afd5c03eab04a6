"""Score every customer as of a date: features -> churn index, stages, tiers, octants, CLV, win-back, warning.

:func:`score_frames` works on DataFrames; :func:`score_customers` reads the
store, scores, writes the results back dated by ``as_of`` and returns them -
the one call a monthly job or the notebook needs.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from workbench.data.store import connect
from workbench.scoring import store as score_store
from workbench.scoring.churn import churn_index, indicator_correlations, indicator_values
from workbench.scoring.clv import customer_lifetime_value
from workbench.scoring.config import IndustryConfig, load_industry
from workbench.scoring.early_warning import early_warning
from workbench.scoring.features import as_date, customer_features, customer_features_sql
from workbench.scoring.stages import lifecycle_stage
from workbench.scoring.tiers import octants, value_scores
from workbench.scoring.winback import value_if_won_back, winback_list, worth_winning_back


@dataclass
class Scores:
    """The result of one scoring run."""

    as_of: dt.date
    config: IndustryConfig
    scores: pd.DataFrame             # one row per customer (customer_scores columns, without as_of/industry)
    correlations: pd.DataFrame       # churn indicators' pairwise correlations
    winback: pd.DataFrame            # worthy sleeping/lost customers, ranked
    model: dict[str, Any] = field(default_factory=dict)

    @property
    def industry(self) -> str:
        return self.config.name


def _config(industry: str | Path | IndustryConfig) -> IndustryConfig:
    return industry if isinstance(industry, IndustryConfig) else load_industry(industry)


def score_features(features: pd.DataFrame, as_of: Any, industry: str | Path | IndustryConfig,
                   *, with_clv: bool = True) -> Scores:
    """All scores from a customer feature frame (:func:`workbench.scoring.features.customer_features`)."""
    config = _config(industry)
    f = features.reset_index(drop=True)
    values = indicator_values(f, config)
    churn = churn_index(f, config, values)
    stage = lifecycle_stage(f["days_since_last"], config)
    ew = early_warning(values, stage, config)
    tiers = value_scores(f, config)
    if with_clv:
        clv, model = customer_lifetime_value(
            f, time_unit_days=config.clv_time_unit_days, horizon_days=config.clv_horizon_days,
            fit_sample=config.clv_fit_sample, min_customers=config.clv_min_customers, seed=config.clv_seed)
    else:
        clv = pd.DataFrame({c: np.full(len(f), np.nan) for c in
                            ("p_alive", "expected_visits_365", "expected_spend_per_visit", "clv_365")})
        model = {"status": "not requested"}
    out = pd.DataFrame({
        "customer_id": f["customer_id"],
        "stage": stage.astype("str"),
        "tier": tiers["tier"],
        "octant": octants(f),
        "churn_index": churn["churn_index"],
        "churn_reasons": churn["churn_reasons"],
        "early_warning": ew["early_warning"],
        "early_warning_reason": ew["early_warning_reason"],
        "p_alive": clv["p_alive"].to_numpy(),
        "expected_visits_365": clv["expected_visits_365"].to_numpy(),
        "clv_365": clv["clv_365"].to_numpy(),
        "expected_spend_per_visit": clv["expected_spend_per_visit"].to_numpy(),
        "value_score": tiers["value_score"],
        "early_warning_index": ew["early_warning_index"],
        "do_not_contact": f["do_not_contact"].fillna(False).astype(bool),
        "rhythm_days": values["rhythm_days"],
        "overdue_vs_rhythm": values["overdue"],
        "frequency_drop": values["frequency_drop"],
        "spend_drop": values["spend_drop"],
        "engagement_drop": values["engagement_drop"],
        "complaints_365": f["complaints_365"],
        "engagement_points": tiers["engagement_points"],
    })
    for col in ("days_since_last", "first_purchase", "last_purchase", "visits", "visits_365", "spend", "spend_365",
                "necessary_spend", "necessary_spend_365", "discretionary_spend", "discretionary_spend_365",
                "typical_interval_days", "overdue_ratio"):
        out[col] = f[col]
    out["value_if_won_back"] = value_if_won_back(out["expected_spend_per_visit"].to_numpy("float64"),
                                                 f["avg_spend"].to_numpy("float64", na_value=np.nan),
                                                 values["rhythm_days"].to_numpy())
    out["worth_winning_back"] = worth_winning_back(out, config)
    ranked = winback_list(out, config)
    rank = pd.Series(ranked["winback_rank"].to_numpy(), index=ranked["customer_id"].to_numpy())
    out["winback_rank"] = out["customer_id"].map(rank).astype("Int64")
    cols = [c for c in score_store.SCORE_COLUMNS if c in out.columns]
    return Scores(as_of=as_date(as_of), config=config, scores=out[cols],
                  correlations=indicator_correlations(values, config), winback=ranked, model=model)


def score_frames(transactions: pd.DataFrame, as_of: Any, industry: str | Path | IndustryConfig, *,
                 events: pd.DataFrame | None = None, customers: pd.DataFrame | None = None,
                 with_clv: bool = True) -> Scores:
    """Score customers from DataFrames (transactions, and optionally events and customers)."""
    features = customer_features(transactions, as_of, events=events, customers=customers)
    return score_features(features, as_of, industry, with_clv=with_clv)


def read_features(db_path: str | Path | None, as_of: Any) -> pd.DataFrame:
    """Customer features computed inside the store (no transaction rows are copied into Python)."""
    with connect(db_path, read_only=True) as con:
        con.execute("SET enable_progress_bar = false")
        return customer_features_sql(con, as_of, with_customers=True)


def score_customers(db_path: str | Path | None, as_of: Any, industry: str | Path | IndustryConfig, *,
                    write: bool = True, with_clv: bool = True) -> Scores:
    """Read the store, score every customer as of ``as_of``, write the results back (replacing that date).

    This is the monthly job's one call; the notebook uses it too.
    """
    as_of = as_date(as_of)
    config = _config(industry)
    result = score_features(read_features(db_path, as_of), as_of, config, with_clv=with_clv)
    if write:
        score_store.write_scores(db_path, as_of, config.name, result.scores, result.correlations,
                                 config_file=config.source, model=result.model)
    return result
