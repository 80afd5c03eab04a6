"""Reasons by segment: contingency tables, chi-square tests of independence with Cramér's V, Fisher's exact
test where expected counts are small, and a multiple-testing correction across the family of tests.

Choices (documented in ``docs/analysis.md``):

* Pearson's chi-square **without** Yates' continuity correction (``pingouin.chi2_independence(...,
  correction=False)``; pingouin and scipy apply Yates to 2×2 tables by default). Yates over-corrects;
  where cells are small we use the exact test instead.
* Small cells: Cochran's rule - if any expected count is below 1 or more than 20% are below 5, Fisher's
  exact test (``scipy.stats.fisher_exact``: exact for 2×2, a seeded Monte Carlo test with 20,000 tables
  for larger tables) replaces the chi-square p-value. Cramér's V is always reported.
* The family of tests (one per segment variable, or one per reason) is corrected with the workbench's
  one correction, :func:`workbench.stats.adjust` (``holm`` default, ``fdr_bh`` for Benjamini-Hochberg);
  a test is significant when its adjusted p-value is below alpha.
* The segment tests here use unweighted counts (a design-based r×c test such as Rao-Scott is not
  offered); weighted shares are reported beside them descriptively. The per-reason focus comparison
  (focus group vs the rest) is :func:`workbench.analysis.compare.focus_comparison`: design-based when
  weighted, and these tests on the 2×2 table when not.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
import pingouin as pg
from scipy import stats

from workbench.stats import adjust

pg.options["round.column.CI95"] = None
MONTE_CARLO_TABLES = 20_000


def _flags(index: pd.Index, case_ids: pd.Series) -> np.ndarray:
    """Boolean per position of ``index``: is the case among ``case_ids``?"""
    pos = index.get_indexer(case_ids.astype(str))
    out = np.zeros(len(index), dtype=bool)
    out[pos[pos >= 0]] = True
    return out


def small_expected(expected: np.ndarray) -> bool:
    """Cochran's rule: any expected count < 1 or more than 20% below 5."""
    e = np.asarray(expected, dtype=float)
    return bool((e < 1).any() or (e < 5).mean() > 0.2)


def independence_test(data: pd.DataFrame, x: str, y: str, *, seed: int = 0) -> dict:
    """Chi-square (pingouin, no Yates) and Cramér's V for x × y, with Fisher's exact test when cells are small."""
    d = data[[x, y]].dropna()
    d = d.assign(**{x: d[x].astype(str), y: d[y].astype(str)})
    table = pd.crosstab(d[x], d[y])
    base = {"variable": x, "outcome": y, "n": int(table.to_numpy().sum()), "rows": table.shape[0], "cols": table.shape[1]}
    if table.shape[0] < 2 or table.shape[1] < 2:
        return {**base, "test": "none (one level)", "chi2": np.nan, "dof": np.nan, "p_val": np.nan,
                "cramer_v": np.nan, "min_expected": np.nan}
    with warnings.catch_warnings():  # pingouin warns on low counts; Cochran's rule below handles them
        warnings.simplefilter("ignore")
        expected, _, st = pg.chi2_independence(d, x=x, y=y, correction=False)
    row = st.set_index("test").loc["pearson"]
    out = {**base, "chi2": float(row["chi2"]), "dof": float(row["dof"]), "p_val": float(row["pval" if "pval" in row else "p_val"]),
           "cramer_v": float(row["cramer"]), "min_expected": float(np.min(expected.to_numpy())), "test": "chi2"}
    if small_expected(expected.to_numpy()):
        out["test"], out["p_val"] = "fisher", fisher_p(table.to_numpy(), seed=seed)
    return out


def fisher_p(table: np.ndarray, *, seed: int = 0) -> float:
    """Fisher's exact test p-value: exact for 2×2, seeded Monte Carlo (20,000 tables) otherwise."""
    t = np.asarray(table, dtype=np.int64)
    t = t[t.sum(axis=1) > 0][:, t.sum(axis=0) > 0]  # empty rows/columns carry no information
    if min(t.shape) < 2:
        return 1.0  # a single row or column: nothing to test, nothing against independence
    if t.shape == (2, 2):
        return float(stats.fisher_exact(t).pvalue)
    method = stats.MonteCarloMethod(n_resamples=MONTE_CARLO_TABLES, rng=np.random.default_rng(seed))
    # scipy returns the Monte Carlo p-value as a 1-element array for some tables; numpy 2.4 refuses float() on it
    return float(np.asarray(stats.fisher_exact(t, method=method).pvalue).ravel()[0])


def segment_tests(frame: pd.DataFrame, segments: Sequence[str], outcome: str = "reason", *,
                  correction: str = "holm", alpha: float = 0.05, seed: int = 0) -> pd.DataFrame:
    """One independence test per segment variable (segment × main reason), corrected across segments."""
    rows = [independence_test(frame, s, outcome, seed=seed) for s in segments
            if s in frame.columns and frame[s].notna().any()]
    out = pd.DataFrame(rows)
    if out.empty:
        return out
    out["p_adj"] = adjust(out["p_val"], correction, alpha)
    out["significant"] = out["p_adj"] < alpha
    out["correction"] = correction
    return out


def crosstab(frame: pd.DataFrame, segment: str, outcome: str = "reason", weight: str | None = None) -> pd.DataFrame:
    """Tidy table (segment, outcome, count, row_share; weighted if ``weight``) for heatmaps and sheets."""
    d = frame.dropna(subset=[segment, outcome])
    w = d[weight].astype(float) if weight else pd.Series(1.0, index=d.index)
    t = d.assign(_w=w).groupby([segment, outcome], observed=True)["_w"].agg(["sum", "size"]).reset_index()
    t = t.rename(columns={"size": "count", "sum": "weighted"})
    t["row_share"] = t["count"] / t.groupby(segment)["count"].transform("sum")
    t["weighted_row_share"] = t["weighted"] / t.groupby(segment)["weighted"].transform("sum")
    return t.rename(columns={segment: "segment_value", outcome: "outcome"}).assign(segment=segment)[
        ["segment", "segment_value", "outcome", "count", "row_share", "weighted", "weighted_row_share"]]


def key_drivers(respondents: pd.DataFrame, mentions: pd.DataFrame, target: str, *, item: str = "reason",
                correction: str = "holm", alpha: float = 0.05) -> pd.DataFrame:
    """Which reasons go with a target group (``target``: a boolean column, e.g. low satisfaction or top
    tier): share naming each reason in and outside the group, difference, odds ratio (Haldane +0.5 when a
    cell is 0), Fisher's exact p, corrected across reasons; sorted by difference."""
    resp = respondents.dropna(subset=[target]).drop_duplicates("case_id")
    t = resp[target].astype(bool).to_numpy()
    index = pd.Index(resp["case_id"].astype(str))
    rows = []
    for value, grp in mentions.groupby(item, sort=True):
        named = _flags(index, grp["case_id"])
        a, b = int((named & t).sum()), int((~named & t).sum())
        c, d = int((named & ~t).sum()), int((~named & ~t).sum())
        if (a + b) == 0 or (c + d) == 0:
            continue
        odds = ((a + .5) * (d + .5)) / ((b + .5) * (c + .5)) if 0 in (a, b, c, d) else (a * d) / (b * c)
        rows.append({item: value, "named_in_group": a, "group": a + b, "share_in_group": a / (a + b),
                     "named_others": c, "others": c + d, "share_others": c / (c + d),
                     "difference": a / (a + b) - c / (c + d), "odds_ratio": odds,
                     "p_val": float(stats.fisher_exact([[a, b], [c, d]]).pvalue)})
    out = pd.DataFrame(rows)
    if out.empty:
        return out
    out["p_adj"] = adjust(out["p_val"], correction, alpha)
    out["significant"] = out["p_adj"] < alpha
    out.insert(0, "target", target)
    return out.sort_values("difference", ascending=False, kind="stable").reset_index(drop=True)
