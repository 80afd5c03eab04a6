"""Scoring tables for people: one Excel workbook per run, written safely.

Sheets: the stage and tier counts, the win-back list, the early warnings, the
most valuable at-risk customers, the indicator correlations and the contact
policy per stage - what a manager reads after a monthly run.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from workbench.reports.files import excel_workbook, write_frame
from workbench.scoring.charts import at_risk_table
from workbench.scoring.pipeline import Scores
from workbench.scoring.stages import contact_policy


def summary_tables(result: Scores) -> dict[str, pd.DataFrame]:
    """The run's tables by sheet name (tidy frames)."""
    s = result.scores
    stages = (s.groupby("stage", observed=True)
               .agg(customers=("customer_id", "size"), churn_index_median=("churn_index", "median"),
                    early_warning=("early_warning", "sum"), worth_winning_back=("worth_winning_back", "sum"))
               .reset_index())
    tiers = (s.groupby("tier").agg(customers=("customer_id", "size"), value_score_min=("value_score", "min"),
                                   spend_365_median=("spend_365", "median"), clv_365_median=("clv_365", "median"))
              .reset_index())
    octants = s["octant"].value_counts().rename_axis("octant").reset_index(name="customers")
    warnings = s[s["early_warning"]].sort_values("early_warning_index", ascending=False)[
        ["customer_id", "stage", "tier", "early_warning_index", "early_warning_reason", "days_since_last"]]
    policy = contact_policy(result.config).assign(channels=lambda d: d["channels"].map(", ".join))
    model = pd.DataFrame(sorted(result.model.items()), columns=["item", "value"]).astype({"value": "str"})
    return {"stages": stages, "tiers": tiers, "octants": octants, "winback": result.winback,
            "early_warning": warnings, "at_risk": at_risk_table(s, result.config, 200),
            "correlations": result.correlations, "contact_policy": policy, "model": model}


def write_scoring_workbook(result: Scores, path: str | Path) -> Path:
    """Write :func:`summary_tables` to an xlsx file (atomically, formula-proof)."""
    path = Path(path)
    with excel_workbook(path) as wb:
        for sheet, frame in summary_tables(result).items():
            write_frame(wb, sheet, frame)
    return path
