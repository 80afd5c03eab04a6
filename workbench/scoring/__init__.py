"""Scoring: who is lost or slipping, and who is worth winning back.

Owns the RFM summary (all time and last 365 days, necessary vs discretionary
spend, each customer's own visit rhythm), the churn index and the lighter early
warning, lifecycle stages, value tiers and octants, and customer lifetime value.

Entry points: :func:`workbench.scoring.pipeline.score_customers` (store in,
store out), :func:`workbench.scoring.pipeline.score_frames` (DataFrames),
:func:`workbench.scoring.store.read_scores`, :func:`workbench.scoring.stages.contact_policy`.
"""

from workbench.scoring.pipeline import Scores, score_customers, score_frames
from workbench.scoring.stages import contact_policy
from workbench.scoring.store import read_scores

__all__ = ["Scores", "contact_policy", "read_scores", "score_customers", "score_frames"]
