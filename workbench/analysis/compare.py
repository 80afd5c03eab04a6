"""The focus comparison: per reason, the share of the focus group naming it against the share of the other
respondents, as **one** comparison that gives the two shares, their difference with its interval and the
p-value - so a conclusion's direction ("more"/"less") and its significance cannot come from different
computations.

Weighted (design-based; the design is a stratified sample of respondents with non-response adjusted
weights ``w = N_h / r_h``, respondents treated as drawn with replacement within their stratum):

* Shares are weighted ratio means ``p_d = Σ w·d·y / Σ w·d`` for the domain ``d`` (focus group, rest).
* Their variance is the stratified linearisation (Taylor) variance of the scores
  ``z_i = w_i d_i (y_i - p_d) / Σ w d``:
  ``v = Σ_h n_h/(n_h-1) Σ_i (z_hi - z̄_h)²`` (no finite population correction: conservative). A stratum
  with a single respondent is centred at the overall mean score instead (the survey package's
  ``lonely.psu = "adjust"``). Respondents whose segment is unknown stay in the design with score 0 (domain
  estimation, as ``subset()`` of a survey design).
* The difference ``p_g - p_r`` has the scores ``z_g - z_r``; the test is a Wald t-test of the difference
  with ``n - H - 1`` degrees of freedom (n respondents, H strata, among those with a known segment) and
  the interval is ``diff ± t·se`` with the same quantile, so interval and test agree. This is R's
  ``summary(svyglm(named ~ in_group, svydesign(ids = ~1, strata = ~stratum, weights = ~weight)))`` (a
  linear model on a 0/1 outcome: its ``in_group`` coefficient is the difference of the weighted shares).
  If both groups are all-or-none (complete separation) the linearised variance is 0; the variance under
  the null (scores around the pooled share) is used instead.
* Each share's interval is Korn and Graubard's (1998): Clopper-Pearson on the design effective sample
  size ``p(1-p)/v``, times ``(t_{n_d-1} / t_{n_d-H_d})²`` (``n_d`` respondents in ``H_d`` strata of the
  domain); it stays inside [0, 1] and behaves near 0 and 1 (R: ``svyciprop(method = "beta")``).

Unweighted: counts; the existing test of :func:`workbench.analysis.crosstab.independence_test` on the 2×2
table (focus group vs rest × named yes/no: Pearson chi-square without Yates, Fisher's exact test when
Cochran's rule flags small cells); Wilson intervals for the shares and Newcombe's hybrid score interval
for the difference (``statsmodels`` ``confint_proportions_2indep(method="newcomb")``).

Either way the p-values are corrected across reasons with :func:`workbench.stats.adjust`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.proportion import confint_proportions_2indep, proportion_confint

from workbench.analysis.crosstab import _flags, independence_test
from workbench.stats import adjust

__all__ = ["COMPARISON_COLUMNS", "TEST_NAMES", "domain_share", "focus_comparison", "korn_graubard",
           "linearised_variance"]

COMPARISON_COLUMNS = ["segment", "group", "n_group", "named_group", "n_rest", "named_rest", "share_group",
                      "share_group_lo", "share_group_hi", "share_rest", "share_rest_lo", "share_rest_hi", "diff",
                      "diff_lo", "diff_hi", "se", "df", "statistic", "p_val", "test", "weighted"]
TEST_NAMES = {"design_t": "design-based t-test", "chi2": "chi-square test", "fisher": "Fisher's exact test"}


def linearised_variance(scores: np.ndarray, strata: np.ndarray) -> float:
    """Stratified with-replacement variance of a total of linearised ``scores``:
    ``Σ_h n_h/(n_h-1) Σ_i (z_hi - z̄_h)²``; a one-respondent stratum contributes ``(z - z̄)²`` with ``z̄`` the
    overall mean score (``strata``: integer codes 0..H-1, one per score)."""
    z = np.asarray(scores, dtype=float)
    h = np.asarray(strata, dtype=np.int64)
    if len(z) == 0:
        return np.nan
    n_h = np.bincount(h)
    mean_h = np.bincount(h, weights=z, minlength=len(n_h)) / np.maximum(n_h, 1)
    lonely = n_h[h] == 1
    centre = np.where(lonely, z.mean(), mean_h[h])
    ss = np.bincount(h, weights=(z - centre) ** 2, minlength=len(n_h))
    scale = np.where(n_h > 1, n_h / np.maximum(n_h - 1, 1), 1.0)
    return float((scale * ss).sum())


def domain_share(y: np.ndarray, domain: np.ndarray, weights: np.ndarray) -> tuple[float, np.ndarray]:
    """Weighted share of ``y`` (0/1) in ``domain`` and its linearised scores (0 outside the domain)."""
    y, d, w = (np.asarray(a, dtype=float) for a in (y, domain, weights))
    total = float((w * d).sum())
    if total <= 0:
        return np.nan, np.zeros(len(y))
    p = float((w * d * y).sum() / total)
    return p, w * d * (y - p) / total


def korn_graubard(p: float, var: float, n: int, df: int, alpha: float = 0.05) -> tuple[float, float]:
    """Korn-Graubard interval for a design-based share ``p`` with variance ``var`` from ``n`` respondents
    and ``df`` design degrees of freedom: Clopper-Pearson on ``n_eff = p(1-p)/var`` scaled by
    ``(t_{n-1}/t_{df})²`` (``n_eff = n`` when ``var`` is 0)."""
    if not np.isfinite(p) or n <= 0:
        return (np.nan, np.nan)
    n_eff = p * (1 - p) / var if var > 0 else float(n)
    if n > 1 and df >= 1:
        n_eff *= (stats.t.ppf(alpha / 2, n - 1) / stats.t.ppf(alpha / 2, df)) ** 2
    lo = float(stats.beta.ppf(alpha / 2, n_eff * p, n_eff * (1 - p) + 1)) if p > 0 else 0.0
    hi = float(stats.beta.ppf(1 - alpha / 2, n_eff * p + 1, n_eff * (1 - p))) if p < 1 else 1.0
    return lo, hi


def _wilson(count: int, nobs: int, alpha: float) -> tuple[float, float]:
    if nobs <= 0:
        return (np.nan, np.nan)
    lo, hi = proportion_confint(count, nobs, alpha=alpha, method="wilson")
    return float(lo), float(hi)


def _weighted_row(y, g, r, known, w, codes, n_g, n_r, df, strata_g, strata_r, alpha) -> dict:
    p_g, z_g = domain_share(y, g, w)
    p_r, z_r = domain_share(y, r, w)
    g_lo, g_hi = korn_graubard(p_g, linearised_variance(z_g, codes), n_g, n_g - strata_g, alpha)
    r_lo, r_hi = korn_graubard(p_r, linearised_variance(z_r, codes), n_r, n_r - strata_r, alpha)
    row = {"share_group": p_g, "share_group_lo": g_lo, "share_group_hi": g_hi, "share_rest": p_r,
           "share_rest_lo": r_lo, "share_rest_hi": r_hi, "diff": p_g - p_r, "df": float(df)}
    yk = y[known]
    if n_g == 0 or n_r == 0 or yk.min() == yk.max():  # one group, or everyone (not) naming it: nothing to test
        return {**row, "diff_lo": np.nan, "diff_hi": np.nan, "se": np.nan, "statistic": np.nan, "p_val": np.nan,
                "test": "none (one level)"}
    var = linearised_variance(z_g - z_r, codes)
    if var <= 0:  # complete separation: the variance under the null (scores around the pooled share)
        p0, _ = domain_share(y, known, w)
        z0 = w * g * (y - p0) / (w * g).sum() - w * r * (y - p0) / (w * r).sum()
        var = linearised_variance(z0, codes)
    if not var > 0:   # no variation the design can measure (e.g. zero weights): no test
        return {**row, "diff_lo": np.nan, "diff_hi": np.nan, "se": np.nan, "statistic": np.nan, "p_val": np.nan,
                "test": "none (no variance)"}
    se = float(np.sqrt(var))
    diff = p_g - p_r
    t = diff / se
    q = stats.t.ppf(1 - alpha / 2, df)
    return {**row, "diff_lo": max(-1.0, diff - q * se), "diff_hi": min(1.0, diff + q * se), "se": se,
            "statistic": float(t), "p_val": float(2 * stats.t.sf(abs(t), df)), "test": "design_t"}


def _unweighted_row(y, g, r, segment, alpha, seed) -> dict:
    n_g, n_r = int(g.sum()), int(r.sum())
    a, c = int((y * g).sum()), int((y * r).sum())
    p_g, p_r = (a / n_g if n_g else np.nan), (c / n_r if n_r else np.nan)
    g_lo, g_hi = _wilson(a, n_g, alpha)
    r_lo, r_hi = _wilson(c, n_r, alpha)
    keep = g | r
    d = pd.DataFrame({segment: np.where(g[keep], "group", "rest"), "named": np.where(y[keep] > 0, "yes", "no")})
    res = independence_test(d, segment, "named", seed=seed)
    lo = hi = np.nan
    if n_g and n_r:
        lo, hi = (float(v) for v in confint_proportions_2indep(a, n_g, c, n_r, method="newcomb", compare="diff",
                                                                alpha=alpha))
    return {"share_group": p_g, "share_group_lo": g_lo, "share_group_hi": g_hi, "share_rest": p_r,
            "share_rest_lo": r_lo, "share_rest_hi": r_hi, "diff": p_g - p_r, "diff_lo": lo, "diff_hi": hi,
            "se": np.nan, "df": res["dof"], "statistic": res["chi2"], "p_val": res["p_val"], "test": res["test"]}


def focus_comparison(respondents: pd.DataFrame, mentions: pd.DataFrame, segment: str, group: str, *,
                     item: str = "reason", weighted: bool = True, weight: str = "weight", strata: str = "stratum",
                     correction: str = "holm", alpha: float = 0.05, seed: int = 0) -> pd.DataFrame:
    """Per reason: the share of ``segment == group`` respondents naming it vs the share of the other
    respondents with a known ``segment``, their difference, its interval and p-value, corrected across
    reasons (see the module docstring for the methods).

    Parameters
    ----------
    respondents : one row per respondent: ``case_id``, ``segment``, and (weighted) ``weight`` and
        ``strata`` (a missing strata column means one stratum).
    mentions : (case_id, ``item``) pairs; a respondent naming a reason several times counts once.
    segment, group : the focus group is ``respondents[segment] == group`` (compared as text).
    weighted : design-based (weights and strata) or unweighted (counts, chi-square/Fisher).
    correction, alpha : passed to :func:`workbench.stats.adjust`; intervals are 1 - alpha.

    Returns
    -------
    DataFrame, one row per ``item``: item, segment, group, n_group, named_group, n_rest, named_rest,
    share_group (+ _lo, _hi), share_rest (+ _lo, _hi), diff = share_group - share_rest, diff_lo, diff_hi,
    se, df, statistic (t or chi-square), p_val, test ('design_t', 'chi2', 'fisher', or 'none (...)' with no
    p-value when there is nothing to test),
    weighted, p_adj, significant, correction; sorted by p_val. Counts are unweighted.

    Examples
    --------
    >>> resp = pd.DataFrame({"case_id": list("abcdef"), "age": ["y", "y", "y", "o", "o", "o"],
    ...                      "weight": [1, 1, 4, 1, 2, 2.0], "stratum": ["s", "s", "t", "s", "t", "t"]})
    >>> m = pd.DataFrame({"case_id": ["a", "b", "d"], "reason": "price"})
    >>> row = focus_comparison(resp, m, "age", "y").iloc[0]
    >>> print(f"{row['share_group']:.3f} vs {row['share_rest']:.3f}, {row['test']}")
    0.333 vs 0.200, design_t

    R: ``svyglm(named ~ in_group, svydesign(ids = ~1, strata = ~stratum, weights = ~weight))`` for the
    difference, ``svyciprop(~named, subset(design, in_group), method = "beta")`` for a share.
    """
    resp = respondents.drop_duplicates("case_id").reset_index(drop=True)
    known = resp[segment].notna().to_numpy(dtype=bool)
    g = known & resp[segment].astype("string").eq(str(group)).fillna(False).to_numpy(dtype=bool)
    r = known & ~g
    n_g, n_r = int(g.sum()), int(r.sum())
    index = pd.Index(resp["case_id"].astype(str))
    if weighted:
        w = pd.to_numeric(resp[weight], errors="coerce").to_numpy(dtype=float)
        if not np.isfinite(w).all() or (w < 0).any():
            bad = resp.loc[~(np.isfinite(w) & (w >= 0)), "case_id"].astype(str).head(5).tolist()
            raise ValueError(f"weights must be finite and non-negative; not so for cases {bad}")
        if strata in resp.columns:
            codes = pd.factorize(resp[strata].astype(str), sort=True)[0]
        else:
            codes = np.zeros(len(resp), dtype=np.int64)
        sk, sg, sr = (len(np.unique(codes[mask])) for mask in (known, g, r))   # strata holding each domain
        df = max(int(known.sum()) - sk - 1, 1)
    rows = []
    for value, named in mentions.groupby(item, sort=True):
        y = _flags(index, named["case_id"]).astype(float)
        stat = (_weighted_row(y, g, r, known, w, codes, n_g, n_r, df, sg, sr, alpha) if weighted
                else _unweighted_row(y, g, r, segment, alpha, seed))
        rows.append({item: value, "segment": segment, "group": str(group), "n_group": n_g,
                     "named_group": int((y * g).sum()), "n_rest": n_r, "named_rest": int((y * r).sum()),
                     **stat, "weighted": weighted})
    out = pd.DataFrame(rows, columns=[item] + COMPARISON_COLUMNS)
    out["p_adj"] = adjust(out["p_val"], correction, alpha)
    out["significant"] = out["p_adj"] < alpha
    out["correction"] = correction
    return out.sort_values(["p_val", item], kind="stable", na_position="last").reset_index(drop=True)
