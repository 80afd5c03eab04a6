"""One row per sampled case with its status, weights and segments: the frame every analysis starts from.

Weights. The sample's design weight is N_h / n_h (customers in the stratum over cases drawn). Respondents
are re-weighted within strata for non-response: weight = N_h / r_h, with N_h the sum of the main cases'
design weights and r_h the completed interviews in the stratum (main and reserve). Weighted shares use
these weights; their confidence intervals use Kish's effective sample size
n_eff = (Σw)² / Σw² (see ``docs/analysis.md``).

Segments. Age band, gender and region come from ``customers``; tier and lifecycle stage from the latest
``customer_scores`` (when the store has been scored); ``age_group`` splits at 30 (article 002's
"young customers": under 30 vs 30 and over).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from workbench.analysis.survey_store import FieldedSurvey
from workbench.data.store import read_table

SEGMENT_COLUMNS = ("age_band", "age_group", "gender", "tier", "region", "stage")
YOUNG_BANDS = ("<25", "25-29")


def kish_n(weights: pd.Series | np.ndarray) -> float:
    """Kish's effective sample size (Σw)² / Σw² (equals n when all weights are equal)."""
    w = np.asarray(weights, dtype=float)
    return float(w.sum() ** 2 / (w ** 2).sum()) if len(w) and (w ** 2).sum() > 0 else 0.0


def age_group(age_band: pd.Series) -> pd.Series:
    """'under_30' / '30_plus' from the age band (missing stays missing)."""
    out = pd.Series(np.where(age_band.isin(YOUNG_BANDS), "under_30", "30_plus"), index=age_band.index, dtype=object)
    return out.where(age_band.notna() & (age_band.astype(str) != ""), None)


def nonresponse_weights(frame: pd.DataFrame) -> pd.Series:
    """N_h / r_h for completed cases (NaN for the others); ``frame`` holds stratum, role, design_weight, status."""
    main = frame[frame["role"] == "main"]
    population = main.groupby("stratum")["design_weight"].sum()
    done = frame["status"] == "completed"
    completes = frame[done].groupby("stratum").size()
    w = frame["stratum"].map(population / completes)
    return w.where(done)


def respondent_frame(db: str | Path | None, fielded: FieldedSurvey, cases: pd.DataFrame,
                     scores: pd.DataFrame | None = None, customers: pd.DataFrame | None = None) -> pd.DataFrame:
    """Every sampled case (main and reserve) with status ('' = not called), interviewer, stratum,
    design_weight, weight (non-response adjusted, completes only) and the segment columns."""
    smp = fielded.sample[["case_id", "customer_id", "stratum", "role", "reserve_rank", "design_weight",
                          "interviewer"]].copy()
    smp["case_id"] = smp["case_id"].astype(str)
    c = cases[["case_id", "status", "interviewer", "attempts"]].rename(columns={"interviewer": "called_by"})
    frame = smp.merge(c.assign(case_id=c["case_id"].astype(str)), on="case_id", how="left")
    frame["status"] = frame["status"].fillna("").astype(str)
    frame["interviewer"] = frame["called_by"].where(frame["called_by"].notna() & (frame["called_by"] != ""),
                                                    frame["interviewer"]).astype(str)
    frame = frame.drop(columns=["called_by"])
    frame["weight"] = nonresponse_weights(frame)
    if customers is None:
        customers = read_table("customers", db)
    keep = [x for x in ("customer_id", "age_band", "gender", "region") if x in customers.columns]
    frame = frame.merge(customers[keep].assign(customer_id=customers["customer_id"].astype(str)), on="customer_id",
                        how="left")
    if scores is None:
        try:
            from workbench.scoring.store import read_scores

            scores = read_scores(db)
        except Exception:
            scores = None
    if scores is not None and len(scores):
        sc = scores[["customer_id", "tier", "stage"]].assign(customer_id=scores["customer_id"].astype(str))
        frame = frame.merge(sc, on="customer_id", how="left")
    else:
        frame["tier"], frame["stage"] = pd.NA, pd.NA
    if "age_band" in frame.columns:
        frame["age_group"] = age_group(frame["age_band"])
    return frame
