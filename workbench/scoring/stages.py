"""Lifecycle stages from days since the last purchase, and the contact policy each stage implies.

Article 003's clinic life cycle: active up to 45 days after a purchase, silent
45-90, sleeping 90-180, lost after 180; each stage calls for a different
amount and kind of contact. The limits and policies are per industry, in the
YAML; the campaign stage reads the policy through :func:`contact_policy`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from workbench.scoring.config import ALL_STAGES, IndustryConfig, load_industry
from workbench.vocabulary import STAGE_LABELS

def lifecycle_stage(days_since_last: pd.Series | np.ndarray, config: IndustryConfig) -> pd.Series:
    """Stage per customer: ``active`` if days <= the active limit, ... ``lost`` beyond sleeping, ``never`` if NaN."""
    days = np.asarray(days_since_last, dtype="float64")
    lim = config.stage_limits
    stage = np.select(
        [np.isnan(days), days <= lim["active"], days <= lim["silent"], days <= lim["sleeping"]],
        ["never", "active", "silent", "sleeping"], default="lost").astype(object)
    index = days_since_last.index if isinstance(days_since_last, pd.Series) else None
    return pd.Series(pd.Categorical(stage, categories=list(ALL_STAGES)), index=index, name="stage")


def contact_policy(industry: str | IndustryConfig, stage: str | None = None) -> pd.DataFrame | dict[str, Any]:
    """The contact policy per stage for an industry: a tidy frame, or one stage's policy as a dict.

    Columns: stage, contact (keep_in_touch / light_touch / limited / reactivation_only / welcome),
    max_contacts_per_month, channels (list), offer, handled_by, en, zh, and the stage's day range.
    """
    config = industry if isinstance(industry, IndustryConfig) else load_industry(industry)
    lim = config.stage_limits
    ranges = {"active": (0, lim["active"]), "silent": (lim["active"], lim["silent"]),
              "sleeping": (lim["silent"], lim["sleeping"]), "lost": (lim["sleeping"], None), "never": (None, None)}
    rows = []
    for s in ALL_STAGES:
        p = config.contact_policy[s]
        rows.append({"stage": s, "label_en": STAGE_LABELS[s][1], "label_zh": STAGE_LABELS[s][0],
                     "days_from": ranges[s][0], "days_to": ranges[s][1],
                     "contact": p["contact"], "max_contacts_per_month": float(p["max_contacts_per_month"]),
                     "channels": list(p.get("channels", [])), "offer": p.get("offer"),
                     "handled_by": p.get("handled_by"), "en": p["en"], "zh": p["zh"]})
    if stage is not None:
        if stage not in ALL_STAGES:
            raise ValueError(f"stage: {stage!r} is not one of {list(ALL_STAGES)}")
        return next(r for r in rows if r["stage"] == stage)
    return pd.DataFrame(rows)
