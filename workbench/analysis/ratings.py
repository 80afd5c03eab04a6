"""Rating and Likert blocks: means with confidence intervals, Cronbach's alpha for multi-item scales, and
article 001's satisfaction scoring (不满意 0, 还可以 40, 满意 60, 非常满意 100; only "very satisfied" is
really satisfied).

* Means: Student-t interval (``scipy.stats.t``) unweighted; weighted mean with the interval of
  ``statsmodels`` ``DescrStatsW`` on weights rescaled to sum to Kish's effective n.
* Scales: the rating questions sharing a scale (5 or 10 points) form one block; the scored choice
  questions (article 001) form another. Alpha via ``pingouin.cronbach_alpha`` on complete cases.
* Satisfaction: each case's mean score over the scored questions it answered
  (``workbench.surveys.template.score_answers``); "very satisfied" is the top score.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pingouin as pg
from scipy import stats
from statsmodels.stats.weightstats import DescrStatsW

from workbench.analysis.respondents import kish_n
from workbench.surveys.template import Survey, choice_scores, score_answers

pg.options["round.column.CI95"] = None


def mean_ci(x: pd.Series, alpha: float = 0.05) -> tuple[float, float, float, float, int]:
    """(mean, sd, ci_low, ci_high, n) with a Student-t interval."""
    v = pd.to_numeric(x, errors="coerce").dropna().to_numpy(dtype=float)
    n = len(v)
    if n == 0:
        return (np.nan, np.nan, np.nan, np.nan, 0)
    m = float(v.mean())
    if n < 2:
        return (m, np.nan, np.nan, np.nan, n)
    sd = float(v.std(ddof=1))
    half = stats.t.ppf(1 - alpha / 2, n - 1) * sd / np.sqrt(n)
    return (m, sd, m - half, m + half, n)


def weighted_mean_ci(x: pd.Series, w: pd.Series, alpha: float = 0.05) -> tuple[float, float, float, float]:
    """(weighted mean, ci_low, ci_high, n_eff); weights rescaled to sum to Kish's n_eff."""
    v = pd.to_numeric(x, errors="coerce")
    ok = v.notna() & w.notna()
    v, ww = v[ok].to_numpy(dtype=float), w[ok].to_numpy(dtype=float)
    if len(v) < 2:
        return (float(v.mean()) if len(v) else np.nan, np.nan, np.nan, float(len(v)))
    n_eff = kish_n(ww)
    d = DescrStatsW(v, weights=ww * n_eff / ww.sum())
    lo, hi = d.tconfint_mean(alpha=alpha)
    return (float(d.mean), float(lo), float(hi), n_eff)


def rating_summary(survey: Survey, wide: pd.DataFrame, weights: pd.Series | None = None,
                   alpha: float = 0.05) -> pd.DataFrame:
    """Per rating question: n, mean, sd, t-CI, and the weighted mean with its CI (``weights`` by case_id)."""
    rows = []
    for q in survey.questions:
        if q.type != "rating" or q.name not in wide.columns:
            continue
        x = pd.to_numeric(wide[q.name].replace("", np.nan), errors="coerce")
        m, sd, lo, hi, n = mean_ci(x, alpha)
        row = {"question": q.name, "label_zh": q.label.get("zh", ""), "label_en": q.label.get("en", ""),
               "scale": q.scale, "n": n, "mean": m, "sd": sd, "ci_low": lo, "ci_high": hi}
        if weights is not None:
            wm, wlo, whi, n_eff = weighted_mean_ci(x, weights.reindex(x.index), alpha)
            row.update({"weighted_mean": wm, "weighted_ci_low": wlo, "weighted_ci_high": whi, "n_eff": n_eff})
        rows.append(row)
    return pd.DataFrame(rows)


def scale_blocks(survey: Survey) -> dict[str, list[str]]:
    """Multi-item blocks: rating questions by scale (``rating_5``, ``rating_10``) and the scored choices."""
    blocks: dict[str, list[str]] = {}
    for q in survey.questions:
        if q.type == "rating":
            blocks.setdefault(f"rating_{q.scale}", []).append(q.name)
        elif q.type == "single_choice" and q.choices and all(c.score is not None for c in q.choices):
            blocks.setdefault("scored_choices", []).append(q.name)
    return {k: v for k, v in blocks.items() if len(v) >= 2}


def item_scores(survey: Survey, wide: pd.DataFrame, items: list[str]) -> pd.DataFrame:
    """Numeric item values: rating points, or choice scores for scored choices (NaN when unanswered)."""
    scores = choice_scores(survey)
    out = {}
    for name in items:
        q = survey.question(name)
        if q.type == "rating":
            out[name] = pd.to_numeric(wide[name].replace("", np.nan), errors="coerce")
        else:
            m = scores[scores["question"] == name].set_index("choice")["score"]
            out[name] = wide[name].map(m).astype(float)
    return pd.DataFrame(out, index=wide.index)


def reliability(survey: Survey, wide: pd.DataFrame, alpha: float = 0.05) -> pd.DataFrame:
    """Cronbach's alpha per block (pingouin, complete cases) with its confidence interval."""
    rows = []
    for block, items in scale_blocks(survey).items():
        data = item_scores(survey, wide, items).dropna()
        if len(data) < 3:
            continue
        a, ci = pg.cronbach_alpha(data=data, ci=1 - alpha)
        rows.append({"block": block, "items": ", ".join(items), "k": len(items), "n": len(data),
                     "cronbach_alpha": float(a), "ci_low": float(ci[0]), "ci_high": float(ci[1])})
    return pd.DataFrame(rows)


def satisfaction(survey: Survey, answers: pd.DataFrame, weights: pd.Series | None = None,
                 alpha: float = 0.05) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(per case, summary) of article 001 scoring. ``answers``: tidy case_id, question, answer.

    Summary rows: each scored question and ``ALL (case mean)`` (the per-case means): mean score with CI, share very
    satisfied (top score; for ``ALL`` every scored answer at the top), share scoring below 60."""
    scores = choice_scores(survey)
    if scores.empty:
        return pd.DataFrame(columns=["case_id", "score", "answered"]), pd.DataFrame()
    per_case = score_answers(survey, answers)
    merged = answers.merge(scores, left_on=["question", "answer"], right_on=["question", "choice"])
    top = scores.groupby("question")["score"].max()
    merged["very"] = merged["score"] == merged["question"].map(top)
    rows = []
    for q, g in merged.groupby("question", sort=False):
        m, sd, lo, hi, n = mean_ci(g["score"], alpha)
        rows.append({"question": q, "n": n, "mean_score": m, "ci_low": lo, "ci_high": hi,
                     "share_very_satisfied": float(g["very"].mean()), "share_below_60": float((g["score"] < 60).mean())})
    all_very = merged.groupby("case_id")["very"].all()
    m, sd, lo, hi, n = mean_ci(per_case["score"], alpha)
    row = {"question": "ALL (case mean)", "n": n, "mean_score": m, "ci_low": lo, "ci_high": hi,
           "share_very_satisfied": float(all_very.mean()) if len(all_very) else np.nan,
           "share_below_60": float((per_case["score"] < 60).mean()) if n else np.nan}
    if weights is not None:
        wm, wlo, whi, _ = weighted_mean_ci(per_case.set_index("case_id")["score"],
                                           weights.reindex(per_case["case_id"]).set_axis(per_case["case_id"]), alpha)
        row.update({"weighted_mean_score": wm, "weighted_ci_low": wlo, "weighted_ci_high": whi})
    rows.append(row)
    per_case = per_case.assign(very_satisfied=per_case["case_id"].map(all_very).fillna(False).astype(bool))
    return per_case, pd.DataFrame(rows)


def satisfaction_index(survey: Survey, wide: pd.DataFrame, answers: pd.DataFrame) -> pd.Series:
    """A 0-100 satisfaction per case for key drivers: article 001 scores when the survey has them, else the
    mean of its rating items rescaled (1 -> 0, top point -> 100); NaN when nothing was rated."""
    if not choice_scores(survey).empty:
        return score_answers(survey, answers).set_index("case_id")["score"]
    parts = []
    for q in survey.questions:
        if q.type == "rating" and q.name in wide.columns:
            x = pd.to_numeric(wide[q.name].replace("", np.nan), errors="coerce")
            parts.append((x - 1) / ((q.scale or 5) - 1) * 100)
    if not parts:
        return pd.Series(dtype=float)
    return pd.concat(parts, axis=1).mean(axis=1).dropna()
