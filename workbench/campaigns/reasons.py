"""Each targeted customer's reason for leaving: known from survey answers, else inferred, else a stage default.

Known reasons come from the analysis stage's contract
``workbench.analysis.reasons.customer_reasons(db, survey_id=None)`` ->
DataFrame[customer_id, reason, reason_family, source]. A customer without an
answer gets the reason most common among answering customers of the same
segment (the playbook's ``reasons.segment_by``, e.g. stage x age band) when at
least ``reasons.min_known`` of them answered, else the most common in the same
stage, else the most common of everyone who answered; only with no (or too few)
survey answers at all does the playbook's default for the stage apply. ``reason_source`` says which:
``known``, ``inferred`` or ``default``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from workbench.analysis.reasons import fill_reasons
from workbench.campaigns.playbook import Playbook
from workbench.surveys.taxonomy import REASON_CODES, load_reason_taxonomy

KNOWN_COLUMNS = ["customer_id", "reason", "reason_family", "source"]


def known_reasons(db: str | Path | None, survey_id: str | None = None) -> pd.DataFrame:
    """Survey-answer reasons per customer from the analysis stage (empty when that stage is not installed
    or nothing was answered yet); one row per customer (the first one the analysis lists)."""
    try:
        from workbench.analysis.reasons import customer_reasons  # built by the analysis stage

        df = customer_reasons(db, survey_id=survey_id)
    except ImportError:  # the analysis stage (or a part it needs) is not installed
        return pd.DataFrame({c: pd.Series(dtype="object") for c in KNOWN_COLUMNS})
    if df is None or not len(df):
        return pd.DataFrame({c: pd.Series(dtype="object") for c in KNOWN_COLUMNS})
    return clean_known(df)


def clean_known(df: pd.DataFrame) -> pd.DataFrame:
    """Keep rows with a taxonomy code, one per customer (first listed), with the contract's columns."""
    missing = {"customer_id", "reason"} - set(df.columns)
    if missing:
        raise KeyError(f"known reasons lack column(s) {sorted(missing)}")
    out = df[df["reason"].isin(REASON_CODES)].drop_duplicates("customer_id", keep="first")
    out = out.assign(customer_id=out["customer_id"].astype(str))
    if "source" not in out.columns:
        out = out.assign(source="survey")
    return out[["customer_id", "reason", "source"]].assign(
        reason_family=lambda d: d["reason"].map(family_map()))[KNOWN_COLUMNS].reset_index(drop=True)


def family_map() -> dict[str, str]:
    tax = load_reason_taxonomy()
    return dict(zip(tax["code"], tax["family"]))


def attach_reasons(frame: pd.DataFrame, known: pd.DataFrame, playbook: Playbook) -> pd.DataFrame:
    """Add reason, reason_family, reason_source to ``frame`` (customer_id, stage, and the segment columns).

    Inference uses the known answers of the customers in ``frame`` (the round's target population), so a
    campaign for young customers infers from young customers' answers.
    """
    keys = [k for k in playbook.segment_by if k in frame.columns]
    out = frame.drop(columns=[c for c in ("reason", "reason_family", "reason_source") if c in frame.columns])
    k = known[["customer_id", "reason"]] if len(known) else pd.DataFrame(columns=["customer_id", "reason"])
    out = out.merge(k.astype({"customer_id": out["customer_id"].dtype}), on="customer_id", how="left")
    source = pd.Series(pd.NA, index=out.index, dtype="object")
    source[out["reason"].notna()] = "known"
    answered = out[out["reason"].notna()]
    levels = ([keys] if keys and keys != ["stage"] else []) + [["stage"], []]
    todo = out["reason"].isna()
    inferred = fill_reasons(out[todo], answered, levels, playbook.min_known)["reason"]
    got = inferred.notna()
    out.loc[inferred.index[got], "reason"] = inferred[got]
    source[inferred.index[got]] = "inferred"
    todo = out["reason"].isna()
    out.loc[todo, "reason"] = out.loc[todo, "stage"].astype(str).map(playbook.default_reason).fillna("other")
    source[todo] = "default"
    out["reason_source"] = source.astype("object")
    out["reason_family"] = out["reason"].map(family_map())
    return out
