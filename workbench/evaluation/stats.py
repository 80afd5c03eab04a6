"""The statistical tests of a round evaluation, each a thin, explicit wrapper returning a tidy one-row frame.

Every function states the choices that libraries otherwise make silently:
two-proportion z test with the pooled variance (statsmodels), chi-square
*without* Yates' correction (so it equals z squared), Fisher's exact test when
an expected count is below 5, Newcombe's interval for a difference of
proportions and Wilson's for one proportion (statsmodels defaults to the
normal interval), Welch's t (never Student's), Holm or Benjamini-Hochberg
named explicitly (``multipletests`` defaults to Holm-Sidak). Effect sizes are
signed: positive means the treated group is higher.

The bootstrap is vectorised NumPy that never builds an n x resamples index
matrix: spend is mostly zeros, and a resample's sum depends only on how many
draws land on the non-zero values and which, so each resample draws a
binomial count and then only that many indices (exactly the ordinary
bootstrap, at a cost proportional to the non-zero values), in chunks.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats as st

#: Default number of bootstrap resamples.
RESAMPLES = 2000


def _z(alpha: float) -> float:
    return float(st.norm.ppf(1 - alpha / 2))


def wilson_interval(x: int, n: int, alpha: float = 0.05) -> tuple[float, float]:
    """Wilson score interval of one proportion (statsmodels ``method='wilson'``, stated: its default is normal)."""
    from statsmodels.stats.proportion import proportion_confint

    if n == 0:
        return (math.nan, math.nan)
    lo, hi = proportion_confint(x, n, alpha=alpha, method="wilson")
    return float(lo), float(hi)


def cohen_h(p1: float, p2: float) -> float:
    """Cohen's h for two proportions, signed (positive when ``p1 > p2``)."""
    return float(2 * math.asin(math.sqrt(p1)) - 2 * math.asin(math.sqrt(p2)))


def two_proportions(x_t: int, n_t: int, x_h: int, n_h: int, alpha: float = 0.05) -> pd.DataFrame:
    """Treated vs holdout rates: z test, chi-square (no Yates), Fisher where small, Newcombe CI, lift, Cohen's h.

    ``lift`` is the relative difference ``p_t / p_h - 1`` with a log (Katz)
    interval of the risk ratio; it is missing when the holdout rate is 0.
    """
    from statsmodels.stats.proportion import confint_proportions_2indep, proportions_ztest

    x_t, n_t, x_h, n_h = int(x_t), int(n_t), int(x_h), int(n_h)
    p_t = x_t / n_t if n_t else math.nan
    p_h = x_h / n_h if n_h else math.nan
    out = {"n_treat": n_t, "n_hold": n_h, "x_treat": x_t, "x_hold": x_h, "rate_treat": p_t, "rate_hold": p_h}
    out["rate_treat_lo"], out["rate_treat_hi"] = wilson_interval(x_t, n_t, alpha)
    out["rate_hold_lo"], out["rate_hold_hi"] = wilson_interval(x_h, n_h, alpha)
    out["diff"] = p_t - p_h
    nan = math.nan
    z = p = chi2 = chi2_p = fisher_p = lo = hi = lift = lift_lo = lift_hi = h = min_exp = nan
    if n_t and n_h:
        table = np.array([[x_t, n_t - x_t], [x_h, n_h - x_h]])
        pooled = (x_t + x_h) / (n_t + n_h)
        expected = np.outer(table.sum(1), table.sum(0)) / table.sum()
        min_exp = float(expected.min())
        if 0 < pooled < 1:
            z, p = (float(v) for v in proportions_ztest([x_t, x_h], [n_t, n_h], alternative="two-sided"))
            chi2, chi2_p, _, _ = st.chi2_contingency(table, correction=False)
            chi2, chi2_p = float(chi2), float(chi2_p)
        else:  # everyone or no one came back in both arms: no difference to test
            z, p, chi2, chi2_p = 0.0, 1.0, 0.0, 1.0
        if min_exp < 5:
            fisher_p = float(st.fisher_exact(table, alternative="two-sided").pvalue)
        lo, hi = (float(v) for v in confint_proportions_2indep(
            x_t, n_t, x_h, n_h, method="newcomb", compare="diff", alpha=alpha))
        h = cohen_h(p_t, p_h)
        if x_h > 0 and x_t > 0:
            lift = p_t / p_h - 1
            se = math.sqrt(1 / x_t - 1 / n_t + 1 / x_h - 1 / n_h)
            lift_lo = math.exp(math.log(p_t / p_h) - _z(alpha) * se) - 1
            lift_hi = math.exp(math.log(p_t / p_h) + _z(alpha) * se) - 1
        elif x_h > 0:
            lift = -1.0
    out.update({"diff_lo": lo, "diff_hi": hi, "z": z, "p_val": p, "chi2": chi2, "chi2_p": chi2_p,
                "min_expected": min_exp, "fisher_p": fisher_p, "lift": lift, "lift_lo": lift_lo,
                "lift_hi": lift_hi, "cohen_h": h})
    return pd.DataFrame([out])


def _clean(a) -> np.ndarray:
    a = np.asarray(a, dtype=float)
    return a[~np.isnan(a)]


def welch(x, y, alpha: float = 0.05) -> pd.DataFrame:
    """Welch's t test of ``mean(x) - mean(y)`` (scipy ``equal_var=False``) with its CI and a signed Cohen's d.

    Cohen's d uses the pooled standard deviation (the classic definition), signed.
    """
    x, y = _clean(x), _clean(y)
    mx, my = (float(x.mean()) if len(x) else math.nan), (float(y.mean()) if len(y) else math.nan)
    out = {"n_treat": len(x), "n_hold": len(y), "mean_treat": mx, "mean_hold": my, "diff": mx - my}
    t = p = df = lo = hi = d = math.nan
    if len(x) >= 2 and len(y) >= 2:
        vx, vy = x.var(ddof=1), y.var(ddof=1)
        if vx + vy > 0:
            res = st.ttest_ind(x, y, equal_var=False)
            t, p, df = float(res.statistic), float(res.pvalue), float(res.df)
            ci = res.confidence_interval(confidence_level=1 - alpha)
            lo, hi = float(ci.low), float(ci.high)
            pooled = math.sqrt(((len(x) - 1) * vx + (len(y) - 1) * vy) / (len(x) + len(y) - 2))
            d = (mx - my) / pooled
        else:
            lo = hi = mx - my
    out.update({"diff_lo": lo, "diff_hi": hi, "t": t, "df": df, "p_val": p, "cohen_d": d})
    return pd.DataFrame([out])


def mann_whitney(x, y) -> pd.DataFrame:
    """Mann-Whitney U (scipy, two-sided, ``method='auto'``, continuity correction) with the rank-biserial r.

    ``U`` is the statistic of ``x``; ``rank_biserial = 2U/(n_x n_y) - 1`` is
    positive when ``x`` tends to be larger.
    """
    x, y = _clean(x), _clean(y)
    u = p = r = math.nan
    if len(x) and len(y):
        res = st.mannwhitneyu(x, y, alternative="two-sided", method="auto", use_continuity=True)
        u, p = float(res.statistic), float(res.pvalue)
        r = 2 * u / (len(x) * len(y)) - 1
    return pd.DataFrame([{"n_treat": len(x), "n_hold": len(y), "U": u, "p_val": p, "rank_biserial": r}])


def bootstrap_means(values, resamples: int = RESAMPLES, rng: np.random.Generator | None = None,
                    max_draws: int = 4_000_000) -> np.ndarray:
    """Means of ``resamples`` ordinary bootstrap resamples of ``values``, without an n x resamples matrix.

    A resample's sum only depends on the draws that land on non-zero values:
    their number is Binomial(n, k/n) and, given it, they are uniform over
    the k non-zero values. Draws are made in chunks of at most ``max_draws``.
    """
    rng = rng if rng is not None else np.random.default_rng()
    v = _clean(values)
    n = len(v)
    if n == 0:
        return np.full(resamples, math.nan)
    nz = v[v != 0]
    k = len(nz)
    if k == 0:
        return np.zeros(resamples)
    counts = rng.binomial(n, k / n, size=resamples) if k < n else np.full(resamples, n)
    sums = np.empty(resamples)
    start = 0
    while start < resamples:
        csum = np.cumsum(counts[start:])
        stop = start + max(1, int(np.searchsorted(csum, max_draws, side="right")))
        chunk = counts[start:stop]
        idx = rng.integers(0, k, size=int(chunk.sum()))
        drawn = nz[idx]
        bounds = np.r_[0, np.cumsum(chunk)[:-1]]
        part = np.zeros(len(chunk))
        has = chunk > 0
        if has.any():
            part[has] = np.add.reduceat(drawn, bounds[has])
        sums[start:stop] = part
        start = stop
    return sums / n


def permutation_mean_diff(x, y, resamples: int = RESAMPLES, seed: int | np.random.Generator | None = 0) -> float:
    """Two-sided permutation p-value of ``mean(x) - mean(y)``: the arms' labels reshuffled ``resamples`` times.

    Exact under the null of no effect whatever the distribution, which Welch's t is not for spend (mostly
    zeros, a few large amounts, a small holdout: the calibration found it calling null rounds at 8.5%).
    Spend being mostly zeros, a reshuffle's treated sum depends only on how many non-zero values land in
    the treated arm (hypergeometric) and which (a uniform subset), so only those are drawn: exactly the
    permutation distribution, at a cost proportional to the buyers. ``p = (1 + #|d*| >= |d|) / (1 + R)``.
    """
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    x, y = _clean(x), _clean(y)
    n_t, n_h = len(x), len(y)
    if not n_t or not n_h:
        return math.nan
    pooled = np.r_[x, y]
    nz = pooled[pooled != 0]
    total = float(pooled.sum())
    observed = abs(x.mean() - y.mean())
    if len(nz) == 0:
        return 1.0
    ks = rng.hypergeometric(len(nz), len(pooled) - len(nz), n_t, size=resamples)
    sums = np.fromiter((nz[rng.permutation(len(nz))[:k]].sum() if k else 0.0 for k in ks), float, count=resamples)
    diffs = np.abs(sums / n_t - (total - sums) / n_h)
    hits = int(np.sum(diffs >= observed - 1e-9 * max(1.0, observed)))
    return float((1 + hits) / (1 + resamples))


def bootstrap_mean_diff(x, y, alpha: float = 0.05, resamples: int = RESAMPLES,
                        seed: int | np.random.Generator | None = 0) -> pd.DataFrame:
    """Percentile bootstrap CI of ``mean(x) - mean(y)`` and of the ratio ``mean(x)/mean(y) - 1`` (arms resampled apart)."""
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    x, y = _clean(x), _clean(y)
    bx, by = bootstrap_means(x, resamples, rng), bootstrap_means(y, resamples, rng)
    diff = bx - by
    q = [alpha / 2, 1 - alpha / 2]
    lo, hi = np.quantile(diff, q) if len(x) and len(y) else (math.nan, math.nan)
    mx, my = (x.mean() if len(x) else math.nan), (y.mean() if len(y) else math.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = bx / by - 1
    ok = np.isfinite(ratio)
    rlo, rhi = np.quantile(ratio[ok], q) if ok.mean() > 0.99 else (math.nan, math.nan)
    return pd.DataFrame([{"n_treat": len(x), "n_hold": len(y), "diff": float(mx - my),
                          "boot_lo": float(lo), "boot_hi": float(hi), "boot_se": float(np.std(diff, ddof=1)),
                          "lift": float(mx / my - 1) if my else math.nan, "lift_lo": float(rlo),
                          "lift_hi": float(rhi), "resamples": int(resamples)}])


def bootstrap_indices_reference(values, resamples: int, seed: int) -> np.ndarray:
    """The textbook bootstrap (index matrix): only for checking :func:`bootstrap_means` on small data."""
    rng = np.random.default_rng(seed)
    v = _clean(values)
    idx = rng.integers(0, len(v), size=(resamples, len(v)))
    return v[idx].mean(axis=1)


def mcnemar(table) -> pd.DataFrame:
    """McNemar's test of a paired 2x2 table ``[[a, b], [c, d]]`` (before rows, after columns).

    Reports the exact (binomial) p-value and the chi-square without continuity
    correction, ``(b - c)^2 / (b + c)`` (statsmodels ``exact=False, correction=False``).
    """
    from statsmodels.stats.contingency_tables import mcnemar as sm_mcnemar

    t = np.asarray(table, dtype=float)
    b, c = t[0, 1], t[1, 0]
    if b + c == 0:
        return pd.DataFrame([{"b": int(b), "c": int(c), "chi2": 0.0, "p_chi2": 1.0, "p_exact": 1.0}])
    exact = sm_mcnemar(t, exact=True)
    chi = sm_mcnemar(t, exact=False, correction=False)
    return pd.DataFrame([{"b": int(b), "c": int(c), "chi2": float(chi.statistic), "p_chi2": float(chi.pvalue),
                          "p_exact": float(exact.pvalue)}])


def paired_table(before, after) -> np.ndarray:
    """2x2 table of paired booleans: rows before (yes, no), columns after (yes, no)."""
    b, a = np.asarray(before, bool), np.asarray(after, bool)
    return np.array([[np.sum(b & a), np.sum(b & ~a)], [np.sum(~b & a), np.sum(~b & ~a)]])


def paired(before, after, alpha: float = 0.05) -> pd.DataFrame:
    """Paired t test and Wilcoxon signed-rank test of ``after - before`` (scipy; zero differences dropped, ``zero_method='wilcox'``)."""
    b, a = np.asarray(before, float), np.asarray(after, float)
    d = a - b
    out = {"n": len(d), "mean_before": float(b.mean()) if len(d) else math.nan,
           "mean_after": float(a.mean()) if len(d) else math.nan, "diff": float(d.mean()) if len(d) else math.nan}
    t = p_t = lo = hi = w = p_w = math.nan
    if len(d) >= 2 and d.var() > 0:
        res = st.ttest_rel(a, b)
        t, p_t = float(res.statistic), float(res.pvalue)
        ci = res.confidence_interval(confidence_level=1 - alpha)
        lo, hi = float(ci.low), float(ci.high)
    if np.count_nonzero(d) > 0:
        res = st.wilcoxon(d, zero_method="wilcox", alternative="two-sided")
        w, p_w = float(res.statistic), float(res.pvalue)
    out.update({"diff_lo": lo, "diff_hi": hi, "t": t, "p_t": p_t, "W": w, "p_wilcoxon": p_w})
    return pd.DataFrame([out])


def did(treat, pre, post, groups=None, alpha: float = 0.05) -> pd.DataFrame:
    """Difference-in-differences: treated minus holdout mean of each customer's change ``post - pre``.

    This is the interaction of the two-row-per-customer regression ``y ~ treat*post``; its standard error
    is the pooled two-sample one (OLS ``change ~ treat``, model-based), which has the nominal size under
    no effect. The cluster-robust error (each arm's own variance) called 7.5% of null rounds significant
    when the holdout was small (a few dozen customers, a handful of returns). ``groups`` is accepted for
    compatibility (one row per customer already).
    """
    import statsmodels.api as sm

    treat = np.asarray(treat, dtype=float)
    change = np.asarray(post, float) - np.asarray(pre, float)
    n = len(treat)
    X = np.column_stack([np.ones(n), treat])
    with warnings.catch_warnings(), np.errstate(all="ignore"):  # degenerate tiny cells give NaN, not noise
        warnings.simplefilter("ignore", RuntimeWarning)
        fit = sm.OLS(change, X).fit()
        est, se = float(fit.params[1]), float(fit.bse[1])
        lo, hi = (float(v) for v in fit.conf_int(alpha=alpha)[1])
        p = float(fit.pvalues[1])
    return pd.DataFrame([{"did": est, "se": se, "did_lo": lo, "did_hi": hi, "p_val": p, "n_customers": n}])


def ancova(treat, pre, post, alpha: float = 0.05) -> pd.DataFrame:
    """The CUPED/ANCOVA estimate: OLS ``post ~ treat + pre``; the ``treat`` coefficient with its classical
    (model-based) standard error and t interval.

    Model-based, not robust: under no effect both arms share one distribution, so the pooled variance is
    the right one (as in the two-proportion z test); HC1 uses each arm's own variance, which a small
    holdout with a handful of returns underestimates (the calibration found HC1 and HC3 calling 7-8% of
    null rounds with 40-customer holdouts significant, the model-based error 4.6%).
    """
    import statsmodels.api as sm

    y = np.asarray(post, float)
    t = np.asarray(treat, float)
    x = np.asarray(pre, float)
    has_pre = bool(np.var(x) > 0)  # no pre variation: the plain difference
    X = np.column_stack([np.ones(len(y)), t, x] if has_pre else [np.ones(len(y)), t])
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        fit = sm.OLS(y, X).fit()
        lo, hi = (float(v) for v in fit.conf_int(alpha=alpha)[1])
        row = {"estimate": float(fit.params[1]), "se": float(fit.bse[1]), "est_lo": lo, "est_hi": hi,
               "p_val": float(fit.pvalues[1]), "pre_coef": float(fit.params[2]) if has_pre else math.nan,
               "n": len(y)}
    return pd.DataFrame([row])


def srm(observed: Sequence[int], planned_shares: Sequence[float]) -> pd.DataFrame:
    """Sample-ratio mismatch: chi-square goodness of fit of the arm sizes against the planned split (scipy)."""
    obs = np.asarray(observed, float)
    shares = np.asarray(planned_shares, float)
    expected = obs.sum() * shares / shares.sum()
    if obs.sum() == 0:
        return pd.DataFrame([{"chi2": math.nan, "p_val": math.nan}])
    res = st.chisquare(obs, f_exp=expected)
    return pd.DataFrame([{"chi2": float(res.statistic), "p_val": float(res.pvalue)}])


def _solve_effect(power_of, power: float, guess: float) -> float:
    """The effect size at which ``power_of(effect)`` reaches ``power`` (brentq around the normal-theory
    ``guess``; power rises with the effect)."""
    from scipy.optimize import brentq

    lo, hi = guess / 2, guess * 2
    while power_of(hi) < power:
        hi *= 2
    while power_of(lo) > power:
        lo /= 2
    return float(brentq(lambda e: power_of(e) - power, lo, hi, xtol=1e-14, rtol=1e-12))


def mde_proportion(n_t: int, n_h: int, baseline: float, alpha: float = 0.05, power: float = 0.8) -> float:
    """Smallest rise over ``baseline`` detectable with ``power``: the two-sided normal test on Cohen's h
    (what statsmodels ``NormalIndPower`` solves, here solved directly: it is called per cell and month)."""
    if n_t < 2 or n_h < 2:
        return math.nan
    se = math.sqrt(1 / n_t + 1 / n_h)
    z = _z(alpha)
    h = _solve_effect(lambda e: float(st.norm.sf(z - e / se) + st.norm.cdf(-z - e / se)), power,
                      (z + float(st.norm.ppf(power))) * se)
    angle = math.asin(math.sqrt(min(max(baseline, 0.0), 1.0))) + h / 2
    return (math.sin(min(angle, math.pi / 2)) ** 2) - baseline


def mde_mean(n_t: int, n_h: int, sd: float, alpha: float = 0.05, power: float = 0.8) -> float:
    """Smallest detectable difference of means: the two-sided two-sample t test's noncentral t power
    (what statsmodels ``TTestIndPower`` solves) for Cohen's d, times ``sd``."""
    if n_t < 2 or n_h < 2 or not sd > 0:
        return math.nan
    df = n_t + n_h - 2
    se = math.sqrt(1 / n_t + 1 / n_h)
    tc = float(st.t.ppf(1 - alpha / 2, df))
    d = _solve_effect(lambda e: float(st.nct.sf(tc, df, e / se) + st.nct.cdf(-tc, df, e / se)), power,
                      (tc + float(st.norm.ppf(power))) * se)
    return d * sd


def cap(values, percentile: float) -> tuple[np.ndarray, float]:
    """Values capped (winsorised above) at a percentile of the positive values; returns (capped, cap).

    Spend is mostly zeros, so the percentile is taken among buyers: the 99th
    percentile of everyone would cap ordinary purchases.
    """
    v = np.asarray(values, float)
    pos = v[v > 0]
    limit = float(np.percentile(pos, percentile)) if len(pos) else math.inf
    return np.minimum(v, limit), limit


#: Alpha-spending functions for repeated looks at one round (Lan & DeMets 1983).
SPENDING = ("obrien_fleming", "pocock", "none")


def spent_alpha(t: float, alpha: float, spending: str = "obrien_fleming") -> float:
    """Cumulative two-sided alpha spent by information fraction ``t`` (0 < t <= 1).

    ``obrien_fleming``: Lan-DeMets' O'Brien-Fleming-like function on each side,
    ``2 (2 - 2 Phi(z_{1-alpha/4} / sqrt(t)))`` (little early, nearly all at the end; three equally spaced
    looks at alpha 0.05 give the published boundaries 3.710, 2.511, 1.993);
    ``pocock``: ``alpha log(1 + (e - 1) t)``; ``none``: every look at ``alpha`` (no accounting).
    """
    if spending not in SPENDING:
        raise ValueError(f"spending must be one of {SPENDING}, got {spending!r}")
    t = min(max(float(t), 0.0), 1.0)
    if spending == "none":
        return alpha
    if t <= 0:
        return 0.0
    if spending == "pocock":
        return float(alpha * math.log(1 + (math.e - 1) * t))
    return float(2 * (2 - 2 * st.norm.cdf(_z(alpha / 2) / math.sqrt(t))))


def look_correlation(influence) -> np.ndarray:
    """Correlation of estimates from their per-unit influence values (an n x K array, one column per look).

    The covariance of two estimates is the sum over units of the products of their influence values (the
    sandwich); it is what makes looks at cumulative windows of the same customers correlated.
    """
    f = np.asarray(influence, float)
    cov = f.T @ f
    sd = np.sqrt(np.diag(cov))
    with np.errstate(all="ignore"):
        corr = cov / np.outer(sd, sd)
    corr[~np.isfinite(corr)] = 0.0
    np.fill_diagonal(corr, 1.0)
    return corr


def mean_difference_influence(values, treat) -> np.ndarray:
    """Influence values of treated-minus-holdout mean differences (an n x K array of outcomes, one per look)."""
    y = np.asarray(values, float)
    if y.ndim == 1:
        y = y[:, None]
    t = np.asarray(treat).astype(bool)
    out = np.zeros_like(y)
    for arm, sign in ((t, 1.0), (~t, -1.0)):
        n = int(arm.sum())
        if n:
            out[arm] = sign * (y[arm] - y[arm].mean(axis=0)) / n
    return out


_GL_NODES, _GL_WEIGHTS = np.polynomial.legendre.leggauss(96)


def _inside(bounds: Sequence[float], corr: np.ndarray) -> float:
    """P(|Z_i| < bounds_i for all i) for a standard normal vector with correlation ``corr``.

    One or two dimensions are integrated exactly enough by Gauss-Legendre quadrature (96 nodes a side) over
    the first look(s) of the conditional normal law of the last; three or more use scipy's multivariate
    normal CDF (Genz's quasi-Monte Carlo, seeded). A look that repeats an earlier one (correlation 1) is
    folded into it first: its region is the narrower of the two.
    """
    b = [float(x) for x in bounds]
    r = np.asarray(corr, float)
    keep: list[int] = []
    for j in range(len(b)):
        twin = next((i for i in keep if r[i, j] > 1 - 1e-9), None)
        if twin is None:
            keep.append(j)
        else:
            b[twin] = min(b[twin], b[j])
    b = [b[i] for i in keep]
    r = r[np.ix_(keep, keep)]
    k = len(b)
    if any(x <= 0 for x in b):
        return 0.0
    if k == 1:
        return float(2 * st.norm.cdf(b[0]) - 1)
    if k == 2:
        rho = r[0, 1]
        z = _GL_NODES * b[0]
        w = _GL_WEIGHTS * b[0] * st.norm.pdf(z)
        s = math.sqrt(max(1 - rho ** 2, 1e-300))
        return float(np.sum(w * (st.norm.cdf((b[1] - rho * z) / s) - st.norm.cdf((-b[1] - rho * z) / s))))
    if k == 3:
        z1, z2 = np.meshgrid(_GL_NODES * b[0], _GL_NODES * b[1], indexing="ij")
        w = np.outer(_GL_WEIGHTS * b[0], _GL_WEIGHTS * b[1])
        pts = np.stack([z1.ravel(), z2.ravel()], axis=1)
        r2 = r[:2, :2]
        dens = st.multivariate_normal(np.zeros(2), r2, allow_singular=True).pdf(pts)
        beta = np.linalg.solve(r2, r[:2, 2])
        mean = pts @ beta
        sd = math.sqrt(max(1 - float(r[:2, 2] @ beta), 1e-300))
        cond = st.norm.cdf((b[2] - mean) / sd) - st.norm.cdf((-b[2] - mean) / sd)
        return float(np.sum(w.ravel() * dens * cond))
    mvn = st.multivariate_normal(mean=np.zeros(k), cov=r + np.eye(k) * 1e-9, allow_singular=True,
                                 abseps=1e-6, releps=1e-5)
    hi = np.array(b)
    return float(mvn.cdf(hi, lower_limit=-hi, rng=np.random.default_rng(20261031)))


def look_levels(fractions: Sequence[float], corr, alpha: float = 0.05, spending: str = "obrien_fleming") -> np.ndarray:
    """Nominal two-sided p-value thresholds for K repeated looks that together spend ``alpha``.

    Look k is significant when its p-value is below ``levels[k]``. The boundaries are the group-sequential
    ones for the spending function at the information ``fractions`` (planned: month / last month), under
    the joint normal law of the look statistics with correlation ``corr`` (estimated from the data, see
    :func:`look_correlation`): boundary ``c_k`` solves ``P(|Z_i| < c_i for all i <= k) = 1 - spent(t_k)``,
    so the chance that *any* look crosses under no effect is ``alpha`` (:func:`_inside` computes the
    probabilities). With ``spending='none'`` every level is ``alpha``.
    """
    from scipy.optimize import brentq

    fr = np.asarray(fractions, float)
    k = len(fr)
    if spending == "none":
        return np.full(k, float(alpha))
    r = np.asarray(corr, float).reshape(k, k)
    r = (r + r.T) / 2
    bounds: list[float] = []
    levels = np.empty(k)
    for j in range(k):
        target = 1 - spent_alpha(fr[j], alpha, spending)
        if j == 0:
            c = float(st.norm.isf((1 - target) / 2)) if target < 1 else math.inf
        else:
            sub = r[: j + 1, : j + 1]

            def gap(c: float) -> float:
                return _inside([*bounds, c], sub) - target

            c = math.inf if gap(40.0) <= 0 else float(brentq(gap, 0.0, 12.0 if gap(12.0) > 0 else 40.0, xtol=1e-6))
        bounds.append(min(c, 40.0))
        levels[j] = 2 * float(st.norm.sf(c)) if np.isfinite(c) else 0.0
    return levels
