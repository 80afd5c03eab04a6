"""The whole response analysis of one survey, as tidy tables: what the notebook, the demo and the CLI run.

``analyse_survey(db, survey_id)`` reads the stored cases and answers and returns an :class:`Analysis`
whose ``tables`` are: response rates (overall, by stratum, by interviewer), reason and reason-family
rankings (unweighted and weighted with Wilson CIs), each respondent's main reason, segment tests
(segment × main reason, corrected), the focus comparison per reason (focus group vs the rest: shares,
difference, design-based test when weighted; :mod:`workbench.analysis.compare`), cross-tabs,
rating means, scale reliability, satisfaction scores, free-text coding (coded and uncoded) and key drivers
(reasons vs low satisfaction and vs the top tiers); plus a plain-language ``conclusion``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from workbench.analysis.compare import TEST_NAMES, focus_comparison
from workbench.analysis.crosstab import crosstab, key_drivers, segment_tests
from workbench.analysis.importer import read_wide
from workbench.analysis.rates import aapor_rates, dispositions
from workbench.analysis.ratings import rating_summary, reliability, satisfaction, satisfaction_index
from workbench.analysis.reasons import (main_reasons, reason_mentions, reason_ranking, reason_respondents,
                                        share_table, with_labels)
from workbench.analysis.respondents import SEGMENT_COLUMNS, respondent_frame
from workbench.analysis.survey_store import FieldedSurvey, load_fielded_survey
from workbench.analysis.textcode import code_texts, free_texts, load_dictionary
from workbench.data.store import connect, transaction
from workbench.surveys.template import choice_scores

GROUP_NAMES = {("age_group", "under_30"): ("customers under 30", "30岁以下客户"),
               ("age_group", "30_plus"): ("older customers (30+)", "30岁及以上客户")}


@dataclass
class Analysis:
    survey_id: str
    fielded: FieldedSurvey
    frame: pd.DataFrame                      # every sampled case with status, weights, segments, main reason
    wide: pd.DataFrame                       # completed cases' answers, one column per question
    mentions: pd.DataFrame
    tables: dict[str, pd.DataFrame]
    params: dict[str, Any]
    conclusion: str = ""
    conclusion_zh: str = ""
    finding: dict[str, Any] = field(default_factory=dict)


def _group_name(segment: str, value: str, lang: int = 0) -> str:
    if (segment, value) in GROUP_NAMES:
        return GROUP_NAMES[(segment, value)][lang]
    return f"{segment} = {value}" if lang == 0 else f"{segment} 为 {value} 的客户"


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%"


def _p_text(p: float) -> str:
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def conclusion(analysis: Analysis) -> tuple[str, str, dict[str, Any]]:
    """A plain-language finding for the focus group (en, zh, the numbers used), from one comparison only.

    The reason is the one the focus group names most (``share_group`` of ``focus_reason_tests``, made by
    :func:`workbench.analysis.compare.focus_comparison`); the shares and interval quoted, "more"/"less"
    (the sign of ``diff``) and "significant" (``p_adj`` < alpha) all come from that row, so the sentence
    cannot disagree with its own test (weighted: design-based shares and test; unweighted: counts)."""
    prm = analysis.params
    seg, grp = prm["focus_segment"], prm["focus_group"]
    comp = analysis.tables.get("focus_reason_tests")
    if comp is None or comp.empty:
        return ("Not enough answers for a finding yet.", "答卷数量还不足以得出结论。", {})
    name_en, name_zh = _group_name(seg, grp), _group_name(seg, grp, 1)
    if int(comp["n_group"].iloc[0]) == 0:
        return (f"No respondents among {name_en}.", f"{name_zh}中没有受访者。", {})
    top = comp.sort_values(["share_group", "reason"], ascending=[False, True], kind="stable").iloc[0]
    reason = top["reason"]
    w = bool(top["weighted"])
    share, other_share, diff = float(top["share_group"]), float(top["share_rest"]), float(top["diff"])
    p_adj, p_raw = float(top["p_adj"]), float(top["p_val"])
    tested = bool(np.isfinite(p_adj))
    sig = tested and p_adj < prm["alpha"]
    more = diff > 0
    test = TEST_NAMES.get(str(top["test"]), str(top["test"]))
    other_en = "older customers" if seg == "age_group" else "other customers"
    other_zh = "30岁及以上客户" if seg == "age_group" else "其他客户"
    label_en = top["label_en"] if isinstance(top.get("label_en"), str) else reason
    label_zh = top["label_zh"] if isinstance(top.get("label_zh"), str) else reason
    ci = f"{100 * top['share_group_lo']:.0f}–{100 * top['share_group_hi']:.0f}%"
    corr = {"holm": "Holm", "fdr_bh": "Benjamini–Hochberg", "bonferroni": "Bonferroni"}.get(prm["correction"], prm["correction"])
    base = (f"Among {name_en}, '{label_en}' is the most named reason ({_pct(share)}, "
            f"{100 * (1 - prm['alpha']):.0f}% CI {ci}; {int(top['named_group'])} of {int(top['n_group'])} respondents"
            f"{', weighted' if w else ''})")
    base_zh = (f"在{name_zh}中，“{label_zh}”是被提及最多的原因（{_pct(share)}，"
               f"{100 * (1 - prm['alpha']):.0f}% 置信区间 {ci}；{int(top['n_group'])} 位受访者中 {int(top['named_group'])} 位"
               f"{'，加权' if w else ''}）")
    if not tested:
        en, zh = base + ".", base_zh + "。"
    elif sig:
        en = (base + f", significantly {'more' if more else 'less'} than among {other_en} ({_pct(other_share)}; "
              f"{_p_text(p_adj)}, {test}, {corr}-adjusted across reasons).")
        zh = (base_zh + f"，显著{'高于' if more else '低于'}{other_zh}（{_pct(other_share)}；{corr} 校正后 "
              f"{_p_text(p_adj)}）。")
    else:
        en = (base + f"; among {other_en} it is {_pct(other_share)}, a difference that is not significant "
              f"({_p_text(p_adj)}, {test}, {corr}-adjusted).")
        zh = base_zh + f"；{other_zh}中为 {_pct(other_share)}，差异不显著（校正后 {_p_text(p_adj)}）。"
    finding = {"segment": seg, "group": grp, "reason": reason, "share": share,
               "ci_low": float(top["share_group_lo"]), "ci_high": float(top["share_group_hi"]),
               "other_share": other_share, "diff": diff, "diff_low": float(top["diff_lo"]),
               "diff_high": float(top["diff_hi"]), "test": str(top["test"]), "p_val": p_raw, "p_adj": p_adj,
               "significant": sig, "more": more, "weighted": w}
    return en, zh, finding


def analyse_survey(db: str | Path | None, survey_id: str, *, segments: Sequence[str] = SEGMENT_COLUMNS,
                   alpha: float = 0.05, correction: str = "holm", weighted: bool = True,
                   focus_segment: str = "age_group", focus_group: str = "under_30", low_satisfaction: float = 60,
                   top_tiers: int = 2, dictionary: str | Path | None = None, seed: int = 0) -> Analysis:
    """Run every analysis of the response-analysis stage on one survey's stored answers."""
    fielded = load_fielded_survey(db, survey_id)
    survey = fielded.survey
    with connect(db, read_only=True) as con:
        cases = con.execute("SELECT case_id, customer_id, status, interviewer, attempts FROM survey_cases "
                            "WHERE survey_id = ? ORDER BY case_id", [survey_id]).df()
    frame = respondent_frame(db, fielded, cases)
    wide = read_wide(db, fielded, "completed")
    scored = [q for q in choice_scores(survey)["question"].unique() if q in wide.columns]
    done_answers = wide[scored].reset_index().melt(id_vars="case_id", var_name="question", value_name="answer")
    done_answers = done_answers[done_answers["answer"] != ""]
    texts = free_texts(survey, wide)
    coded, uncoded = code_texts(texts, load_dictionary(dictionary))
    mentions = reason_mentions(survey, wide, coded_text=coded)
    mains = main_reasons(survey, mentions)
    frame = frame.merge(mains[["case_id", "reason", "reason_family"]], on="case_id", how="left")
    resp = reason_respondents(survey, wide, frame)
    if not weighted:
        resp = resp.assign(weight=1.0)
    segments = [s for s in segments if s in frame.columns and frame[s].notna().any()]
    disp = dispositions(frame)
    t: dict[str, pd.DataFrame] = {
        "response_rates": aapor_rates(disp),
        "rates_by_stratum": aapor_rates(disp, "stratum"),
        "rates_by_interviewer": aapor_rates(disp, "interviewer"),
        "reason_ranking": reason_ranking(mentions, resp, alpha=alpha),
        "family_ranking": reason_ranking(mentions, resp, alpha=alpha, level="family"),
    }
    resp_main = resp.dropna(subset=["reason"])
    t["main_reason_ranking"] = with_labels(share_table(resp_main[["case_id", "reason"]], resp_main, "reason", alpha))
    t["segment_tests"] = segment_tests(resp_main, segments, "reason", correction=correction, alpha=alpha, seed=seed)
    t["crosstabs"] = pd.concat([crosstab(resp_main, s, "reason", "weight") for s in segments], ignore_index=True) \
        if segments and len(resp_main) else pd.DataFrame()
    if focus_segment in resp.columns and resp[focus_segment].notna().any():
        t["reasons_by_focus"] = reason_ranking(mentions, resp.dropna(subset=[focus_segment]), alpha=alpha,
                                               group=focus_segment)
        t["focus_reason_tests"] = with_labels(focus_comparison(resp, mentions, focus_segment, focus_group,
                                                               weighted=weighted, correction=correction,
                                                               alpha=alpha, seed=seed))
    weights = frame.set_index("case_id")["weight"] if weighted else None
    t["ratings"] = rating_summary(survey, wide, weights, alpha)
    t["reliability"] = reliability(survey, wide, alpha)
    per_case, sat = satisfaction(survey, done_answers[["case_id", "question", "answer"]], weights, alpha)
    t["satisfaction"] = sat
    t["text_coded"] = coded
    t["text_uncoded"] = uncoded
    sat_idx = satisfaction_index(survey, wide, done_answers)
    sat_of = resp["case_id"].map(sat_idx)
    drv = resp.assign(low_satisfaction=(sat_of < low_satisfaction).astype(object).where(sat_of.notna()))
    parts = []
    if drv["low_satisfaction"].notna().any():
        parts.append(key_drivers(drv, mentions, "low_satisfaction", correction=correction, alpha=alpha))
    if "tier" in drv.columns and drv["tier"].notna().any():
        tiers = pd.to_numeric(drv["tier"], errors="coerce")
        drv = drv.assign(top_tier=(tiers <= top_tiers).where(tiers.notna()))
        parts.append(key_drivers(drv, mentions, "top_tier", correction=correction, alpha=alpha))
    t["key_drivers"] = with_labels(pd.concat(parts, ignore_index=True)) if any(len(p) for p in parts) else pd.DataFrame()
    params = {"survey_id": survey_id, "segments": list(segments), "alpha": alpha, "correction": correction,
              "weighted": weighted, "focus_segment": focus_segment, "focus_group": focus_group,
              "low_satisfaction": low_satisfaction, "top_tiers": top_tiers, "seed": seed,
              "completed": int((frame["status"] == "completed").sum()), "reason_respondents": len(resp)}
    a = Analysis(survey_id, fielded, frame, wide, mentions, t, params)
    a.conclusion, a.conclusion_zh, a.finding = conclusion(a)
    return a


def save_analysis(db: str | Path | None, analysis: Analysis) -> list[str]:
    """Write the analysis tables to the store as ``analysis_<name>`` (with survey_id and computed_at),
    replacing this survey's earlier rows; returns the table names written."""
    now = dt.datetime.now().replace(microsecond=0)
    written = []
    with connect(db) as con:
        with transaction(con):
            tables = dict(analysis.tables)
            tables["conclusion"] = pd.DataFrame([{"conclusion_en": analysis.conclusion,
                                                  "conclusion_zh": analysis.conclusion_zh}])
            for name, df in tables.items():
                if df is None or df.empty:
                    continue
                out = df.copy()
                out.columns = [str(c).replace("[", "_").replace("]", "") for c in out.columns]
                for c in out.columns:
                    if out[c].dtype == object:
                        out[c] = out[c].astype(str).where(out[c].notna(), None)
                out.insert(0, "computed_at", now)
                out.insert(0, "survey_id", analysis.survey_id)
                table = f"analysis_{name}"
                con.register("_t", out)
                exists = con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = ?",
                                     [table]).fetchall()[0][0]
                if exists:
                    have = {r[0] for r in con.execute(f"DESCRIBE {table}").fetchall()}
                    if set(out.columns) - have:   # a new column (e.g. another segment level): rebuild
                        con.execute(f"CREATE OR REPLACE TABLE {table} AS SELECT * FROM {table} "
                                    f"WHERE survey_id <> ?", [analysis.survey_id])
                        con.execute(f"ALTER TABLE {table} RENAME TO {table}_old")
                        con.execute(f"CREATE TABLE {table} AS SELECT * FROM _t LIMIT 0")
                        con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM {table}_old")
                        con.execute(f"DROP TABLE {table}_old")
                    con.execute(f"DELETE FROM {table} WHERE survey_id = ?", [analysis.survey_id])
                else:
                    con.execute(f"CREATE TABLE {table} AS SELECT * FROM _t LIMIT 0")
                con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _t")
                con.unregister("_t")
                written.append(table)
    return written
