"""Why customers left, from the answers: reason mentions, ranked shares with Wilson intervals, each
customer's main reason (for the campaign stage) and the most common reason per segment (to infer reasons
for customers who were not asked or did not answer: :func:`fill_reasons`, the one rule both this stage and
the campaign stage use).

Shares are "share of respondents naming the reason": a respondent who names a reason in several questions
(or several options of a multiple-choice question mapping to one reason) counts once, so the shares of a
multiple-choice block can sum to more than 100%. The respondents counted are the completed interviews
that answered at least one of the reason questions analysed.

Weighted shares use the non-response adjusted design weights; their Wilson interval is computed on Kish's
effective sample size: p_w with n_eff = (Σw)²/Σw², i.e. ``proportion_confint(p_w * n_eff, n_eff,
method="wilson")`` - with equal weights this is exactly the unweighted interval.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from statsmodels.stats.proportion import proportion_confint

from workbench.analysis.answers import explode_codes
from workbench.analysis.respondents import kish_n
from workbench.surveys.taxonomy import load_reason_taxonomy
from workbench.surveys.template import Question, Survey


def reason_questions(survey: Survey) -> list[Question]:
    """Choice questions whose options carry reason codes (the reason question first, then survey order)."""
    qs = [q for q in survey.questions if q.type in ("single_choice", "multiple_choice")
          and any(c.reason for c in q.choices)]
    return sorted(qs, key=lambda q: not q.reason_question)


def reason_mentions(survey: Survey, wide: pd.DataFrame, questions: Sequence[str] | None = None,
                    coded_text: pd.DataFrame | None = None) -> pd.DataFrame:
    """Tidy mentions (case_id, question, choice, reason) from the wide answers of completed cases.

    ``coded_text`` (case_id, question, reason from :func:`workbench.analysis.textcode.code_texts`) adds the
    reasons found in "other, please specify" texts, which then replace that question's ``other`` mention."""
    qs = [q for q in reason_questions(survey) if questions is None or q.name in questions]
    rows = []
    for q in qs:
        if q.name not in wide.columns:
            continue
        to_reason = {c.name: c.reason for c in q.choices if c.reason}
        e = explode_codes(wide[q.name].astype(str))
        m = pd.DataFrame({"case_id": e["row"].astype(str).to_numpy(), "question": q.name, "choice": e["code"].to_numpy()})
        m["reason"] = m["choice"].map(to_reason)
        rows.append(m[m["reason"].notna()])
    out = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=["case_id", "question", "choice", "reason"])
    if coded_text is not None and len(coded_text):
        ct = coded_text[coded_text["question"].str.endswith("_other")].copy()
        ct["question"] = ct["question"].str.removesuffix("_other")
        ct = ct[ct["question"].isin([q.name for q in qs])]
        if len(ct):
            replaced = out.merge(ct[["case_id", "question"]].drop_duplicates(), on=["case_id", "question"],
                                 how="left", indicator=True)
            keep = ~((replaced["_merge"] == "both") & (replaced["reason"] == "other"))
            out = pd.concat([out[keep.to_numpy()], ct.assign(choice="other")[["case_id", "question", "choice", "reason"]]],
                            ignore_index=True)
    return out.drop_duplicates(["case_id", "question", "reason"]).reset_index(drop=True)


def _ci(count: float, nobs: float, alpha: float) -> tuple[float, float]:
    if nobs <= 0:
        return (np.nan, np.nan)
    lo, hi = proportion_confint(count, nobs, alpha=alpha, method="wilson")
    return float(lo), float(hi)


def share_table(named: pd.DataFrame, respondents: pd.DataFrame, item: str, alpha: float = 0.05,
                group: str | None = None) -> pd.DataFrame:
    """Share of respondents naming each ``item`` (reason, family ...) with Wilson CIs, unweighted and
    weighted side by side.

    ``named``: (case_id, item) pairs (duplicates ignored); ``respondents``: case_id, weight (and ``group``).
    """
    resp = respondents.drop_duplicates("case_id").reset_index(drop=True)
    pos = pd.Index(resp["case_id"].astype(str)).get_indexer(named["case_id"].astype(str))
    ok = pos >= 0
    codes, items = pd.factorize(named[item].to_numpy(dtype=object)[ok])
    pairs = pd.DataFrame({"pos": pos[ok], "item": codes}).drop_duplicates()
    w_all = resp["weight"].astype(float).to_numpy()
    if group is None:
        gcodes, gvalues = np.zeros(len(resp), dtype=np.int64), [None]
    else:
        keep = resp[group].notna().to_numpy()
        gcodes, gvalues = pd.factorize(resp[group].astype(object).where(keep, None), sort=True)
    out = []
    n_items = len(items)
    pg_ = gcodes[pairs["pos"].to_numpy()]
    for gi, g in enumerate(gvalues):
        members = gcodes == gi
        n = int(members.sum())
        if n == 0:
            continue
        w = w_all[members]
        wsum, n_eff = float(w.sum()), kish_n(w)
        sel = pg_ == gi
        cnt = np.bincount(pairs["item"].to_numpy()[sel], minlength=n_items)
        wcnt = np.bincount(pairs["item"].to_numpy()[sel], weights=w_all[pairs["pos"].to_numpy()[sel]], minlength=n_items)
        for k in np.flatnonzero(cnt):
            p, pw = cnt[k] / n, wcnt[k] / wsum
            lo, hi = _ci(int(cnt[k]), n, alpha)
            wlo, whi = _ci(pw * n_eff, n_eff, alpha)
            out.append({**({group: g} if group else {}), item: items[k], "named": int(cnt[k]), "respondents": n,
                        "share": p, "ci_low": lo, "ci_high": hi, "weighted_share": pw, "n_eff": n_eff,
                        "weighted_ci_low": wlo, "weighted_ci_high": whi})
    cols = ([group] if group else []) + [item, "named", "respondents", "share", "ci_low", "ci_high", "weighted_share",
                                          "n_eff", "weighted_ci_low", "weighted_ci_high"]
    df = pd.DataFrame(out, columns=cols)
    return df.sort_values(([group] if group else []) + ["share", item], ascending=[True] * bool(group) + [False, True],
                          kind="stable").reset_index(drop=True)


def with_labels(df: pd.DataFrame, column: str = "reason") -> pd.DataFrame:
    """Add zh/en labels (and the family) of reason codes."""
    tax = load_reason_taxonomy()
    if column == "reason":
        lab = tax.set_index("code")[["label_zh", "label_en", "family"]].rename(columns={"family": "reason_family"})
    else:
        lab = tax.drop_duplicates("family").set_index("family")[["family_zh", "family_en"]].rename(
            columns={"family_zh": "label_zh", "family_en": "label_en"})
    return df.join(lab, on=column)


def reason_ranking(mentions: pd.DataFrame, respondents: pd.DataFrame, *, alpha: float = 0.05,
                   level: str = "reason", group: str | None = None) -> pd.DataFrame:
    """Reasons (``level="reason"``) or reason families (``level="family"``) ranked by the share of
    respondents naming them; respondents are completed cases that answered a reason question."""
    tax = load_reason_taxonomy().set_index("code")
    m = mentions.assign(family=mentions["reason"].map(tax["family"]))
    table = share_table(m, respondents, "reason" if level == "reason" else "family", alpha, group)
    return with_labels(table, "reason" if level == "reason" else "family")


def reason_respondents(survey: Survey, wide: pd.DataFrame, frame: pd.DataFrame,
                       questions: Sequence[str] | None = None) -> pd.DataFrame:
    """The completed cases of ``frame`` that answered at least one reason question (the denominator)."""
    names = [q.name for q in reason_questions(survey) if (questions is None or q.name in questions)
             and q.name in wide.columns]
    answered = wide.index[(wide[names] != "").any(axis=1)] if names else wide.index[:0]
    done = frame[frame["status"] == "completed"]
    return done[done["case_id"].isin(answered.astype(str))].reset_index(drop=True)


def main_reasons(survey: Survey, mentions: pd.DataFrame) -> pd.DataFrame:
    """Each respondent's main reason: the answer to the reason question, else the first reason named in
    survey order (case_id, reason, reason_family, question)."""
    order = {q.name: i for i, q in enumerate(reason_questions(survey))}
    m = mentions.assign(_o=mentions["question"].map(order))
    coded = m["choice"] != "other"  # a coded 'other' text beats the bare 'other' option
    m = m.assign(_c=~coded).sort_values(["case_id", "_o", "_c"], kind="stable")
    first = m.groupby("case_id", sort=True).head(1)
    tax = load_reason_taxonomy().set_index("code")
    out = first[["case_id", "reason", "question"]].reset_index(drop=True)
    out.insert(2, "reason_family", out["reason"].map(tax["family"]))
    return out


def customer_reasons(db: str | Path | None, survey_id: str | None = None) -> pd.DataFrame:
    """Each surveyed customer's main reason from completed interviews:
    DataFrame[customer_id, reason, reason_family, source='survey'].

    With ``survey_id=None`` every survey in the store is used and a customer's latest interview wins.
    "Other, please specify" texts are coded with the keyword dictionary first."""
    from workbench.analysis.importer import read_wide
    from workbench.data.store import connect
    from workbench.analysis.survey_store import list_surveys, load_fielded_survey
    from workbench.analysis.textcode import code_texts, free_texts, load_dictionary

    ids = [survey_id] if survey_id else list(list_surveys(db)["survey_id"])
    parts = []
    dictionary = load_dictionary()
    for sid in ids:
        fielded = load_fielded_survey(db, sid)
        with connect(db, read_only=True) as con:
            done = con.execute("SELECT case_id, customer_id, answered_at, imported_at FROM survey_cases "
                               "WHERE survey_id = ? AND status = 'completed'", [sid]).df()
        if done.empty:
            continue
        wide = read_wide(db, fielded, "completed")
        coded, _ = code_texts(free_texts(fielded.survey, wide), dictionary)
        mains = main_reasons(fielded.survey, reason_mentions(fielded.survey, wide, coded_text=coded))
        mains = mains.merge(done[["case_id", "customer_id", "answered_at", "imported_at"]], on="case_id")
        parts.append(mains.assign(survey_id=sid))
    cols = ["customer_id", "reason", "reason_family", "source"]
    if not parts:
        return pd.DataFrame(columns=cols)
    allm = pd.concat(parts, ignore_index=True)
    allm["_t"] = allm["answered_at"].fillna(allm["imported_at"])
    allm = allm.sort_values(["customer_id", "_t", "survey_id"], kind="stable").groupby("customer_id").tail(1)
    return allm.assign(source="survey")[cols].sort_values("customer_id").reset_index(drop=True)


def modal_reasons(known: pd.DataFrame, keys: Sequence[str], min_known: int = 1) -> pd.DataFrame:
    """The most common reason per segment: the workbench's one rule for inferring a reason.

    ``known`` has one row per answering customer with ``reason`` and the ``keys`` columns. Ties go to the
    reason listed first in the taxonomy (``survey_templates/reason_taxonomy.yaml``), a stable order the
    business controls; segments with fewer than ``min_known`` answers are left out (too few to infer
    from). ``keys=[]`` is everyone who answered. Returns keys..., reason, named, respondents.
    """
    keys = list(keys)
    order = {c: i for i, c in enumerate(load_reason_taxonomy()["code"])}
    f = known.dropna(subset=["reason"]).assign(_all=0)
    by = keys or ["_all"]
    counts = f.groupby(by + ["reason"], dropna=False, observed=True).size().rename("named").reset_index()
    counts["respondents"] = counts.groupby(by, dropna=False, observed=True)["named"].transform("sum")
    counts = counts[counts["respondents"] >= min_known].assign(_o=lambda d: d["reason"].map(order))
    counts = counts.sort_values(by + ["named", "_o"], ascending=[True] * len(by) + [False, True], kind="stable")
    return counts.drop_duplicates(by)[keys + ["reason", "named", "respondents"]].reset_index(drop=True)


def fill_reasons(frame: pd.DataFrame, known: pd.DataFrame, levels: Sequence[Sequence[str]],
                 min_known: int = 1) -> pd.DataFrame:
    """Reasons for the rows of ``frame`` from the answers in ``known``, coarser and coarser.

    For each row, the modal reason (:func:`modal_reasons`) of the first level in ``levels`` (a list of
    segment-column lists, finest first; ``[]`` = everyone who answered) whose segment has at least
    ``min_known`` answers. Returns a frame on ``frame``'s index: reason (None where no level has enough
    answers) and basis ('age_group=under_30|tier=2', 'all respondents').
    """
    out = pd.DataFrame({"reason": pd.Series(None, index=frame.index, dtype="object"),
                        "basis": pd.Series(None, index=frame.index, dtype="object")})
    if not len(known) or not len(frame):
        return out
    for level in levels:
        keys = [k for k in level if k in frame.columns and k in known.columns]
        if len(keys) != len(level):
            continue
        todo = out["reason"].isna()
        if not todo.any():
            break
        modes = modal_reasons(known, keys, min_known)
        if keys:
            got = frame.loc[todo, keys].merge(modes, on=keys, how="left").set_axis(frame.index[todo])["reason"]
            basis = frame.loc[todo, keys].astype(str).agg(lambda r: "|".join(f"{c}={r[c]}" for c in keys), axis=1)
        else:
            got = pd.Series(modes["reason"].iloc[0] if len(modes) else None, index=frame.index[todo], dtype="object")
            basis = pd.Series("all respondents", index=frame.index[todo])
        hit = got.notna()
        out.loc[got.index[hit], "reason"] = got[hit]
        out.loc[got.index[hit], "basis"] = basis[hit]
    return out


def infer_reasons(db: str | Path | None, customer_ids: Sequence[str], *, by: Sequence[str] = ("age_group", "tier"),
                  survey_id: str | None = None, min_respondents: int = 5) -> pd.DataFrame:
    """Reasons for customers without an answer, from the most common reason of their segment
    (falling back to coarser segments: each ``by`` prefix, then all respondents):
    DataFrame[customer_id, reason, reason_family, source='inferred', basis]."""
    from workbench.analysis.respondents import age_group
    from workbench.data.store import read_table

    known = customer_reasons(db, survey_id)
    customers = read_table("customers", db)
    try:
        from workbench.scoring.store import read_scores

        sc = read_scores(db)
        if len(sc):
            customers = customers.merge(sc[["customer_id", "tier", "stage"]], on="customer_id", how="left")
    except Exception:
        pass
    if "age_band" in customers.columns:
        customers["age_group"] = age_group(customers["age_band"])
    by = [c for c in by if c in customers.columns]
    resp = known[["customer_id", "reason"]].merge(customers, on="customer_id", how="left")
    want = customers[customers["customer_id"].astype(str).isin([str(c) for c in customer_ids])]
    filled = fill_reasons(want, resp, [by[:k] for k in range(len(by), -1, -1)], min_known=min_respondents)
    out = pd.DataFrame({"customer_id": want["customer_id"].astype(str), "reason": filled["reason"],
                        "reason_family": filled["reason"].map(load_reason_taxonomy().set_index("code")["family"]),
                        "basis": filled["basis"]}, index=want.index)
    out["source"] = "inferred"
    return out[["customer_id", "reason", "reason_family", "source", "basis"]].reset_index(drop=True)
