"""Win-back worthiness: which sleeping and lost customers are worth a campaign, ranked by value.

Article 002: lifetime value first - customers whose value is low are not
worth saving. A lost customer's model-based CLV is near zero by definition (the
model expects them not to come back), so ranking by it would rank by how
recently they left. What a win-back buys is the customer's *value if won
back*: their expected spend per visit (Gamma-Gamma, shrunk toward the
population) times their own yearly visits (365 / rhythm). Customers below the
configured floor, or marked do-not-contact, are not worth a campaign.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from workbench.scoring.config import IndustryConfig

WINBACK_COLUMNS = ["winback_rank", "customer_id", "stage", "tier", "value_if_won_back", "clv_365", "p_alive",
                   "days_since_last", "visits", "spend", "churn_index", "churn_reasons", "worth_winning_back"]


def value_if_won_back(expected_spend_per_visit: np.ndarray, avg_spend: np.ndarray,
                      rhythm_days: np.ndarray) -> np.ndarray:
    """Yearly value back at the customer's own rhythm; the raw average spend where no model was fitted."""
    spend = np.where(np.isnan(expected_spend_per_visit), avg_spend, expected_spend_per_visit)
    return spend * 365.0 / rhythm_days


def worth_winning_back(scores: pd.DataFrame, config: IndustryConfig, floor: float | None = None) -> np.ndarray:
    """Flag: stage in the win-back stages, value if won back >= floor, and not do-not-contact."""
    floor = config.winback_floor if floor is None else floor
    value = scores["value_if_won_back"].to_numpy("float64", na_value=np.nan)
    dnc = scores["do_not_contact"].fillna(False).to_numpy(bool) if "do_not_contact" in scores else False
    return (scores["stage"].isin(list(config.winback_stages)).to_numpy()
            & (np.nan_to_num(value, nan=-np.inf) >= floor) & ~dnc)


def winback_list(scores: pd.DataFrame, config: IndustryConfig, floor: float | None = None,
                 include_unworthy: bool = False) -> pd.DataFrame:
    """Sleeping and lost customers ranked by value if won back (rank 1 = most valuable).

    With ``floor`` (default from the YAML) only the worthy ones are listed,
    unless ``include_unworthy``.
    """
    s = scores[scores["stage"].isin(list(config.winback_stages))].copy()
    s["worth_winning_back"] = worth_winning_back(s, config, floor)
    if not include_unworthy:
        s = s[s["worth_winning_back"]]
    s = s.sort_values(["value_if_won_back", "customer_id"], ascending=[False, True], kind="stable")
    s["winback_rank"] = np.arange(1, len(s) + 1)
    return s[[c for c in WINBACK_COLUMNS if c in s.columns]].reset_index(drop=True)
