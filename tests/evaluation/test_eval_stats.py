"""Each test of the evaluation equals an independent computation (formula, scipy or statsmodels) to 1e-9,
and published worked examples are reproduced."""

from __future__ import annotations

import itertools
import math
import tracemalloc

import numpy as np
import pytest
from scipy import stats as st

from workbench.evaluation import stats as S
from workbench.stats import adjust

TOL = 1e-9


def _wilson(x, n, z):
    p = x / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return centre - half, centre + half


@pytest.mark.parametrize("x_t,n_t,x_h,n_h", [(182, 1000, 110, 1000), (45, 300, 30, 310), (3, 20, 1, 18)])
def test_two_proportions_against_formulas(x_t, n_t, x_h, n_h):
    r = S.two_proportions(x_t, n_t, x_h, n_h, alpha=0.05).iloc[0]
    p1, p2 = x_t / n_t, x_h / n_h
    pool = (x_t + x_h) / (n_t + n_h)
    z = (p1 - p2) / math.sqrt(pool * (1 - pool) * (1 / n_t + 1 / n_h))
    assert r["z"] == pytest.approx(z, abs=TOL)
    assert r["p_val"] == pytest.approx(2 * st.norm.sf(abs(z)), abs=TOL)
    # chi-square without Yates equals z squared; scipy's own table test agrees
    assert r["chi2"] == pytest.approx(z * z, abs=1e-8)
    table = [[x_t, n_t - x_t], [x_h, n_h - x_h]]
    assert r["chi2_p"] == pytest.approx(st.chi2_contingency(table, correction=False)[1], abs=TOL)
    # Newcombe's hybrid score interval from two Wilson intervals
    zc = st.norm.ppf(0.975)
    l1, u1 = _wilson(x_t, n_t, zc)
    l2, u2 = _wilson(x_h, n_h, zc)
    d = p1 - p2
    lo = d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    hi = d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    assert (r["diff_lo"], r["diff_hi"]) == pytest.approx((lo, hi), abs=TOL)
    assert (r["rate_treat_lo"], r["rate_treat_hi"]) == pytest.approx((l1, u1), abs=TOL)
    # lift: Katz log interval of the risk ratio
    se = math.sqrt(1 / x_t - 1 / n_t + 1 / x_h - 1 / n_h)
    assert r["lift"] == pytest.approx(p1 / p2 - 1, abs=TOL)
    assert r["lift_lo"] == pytest.approx(p1 / p2 * math.exp(-zc * se) - 1, abs=TOL)
    assert r["cohen_h"] == pytest.approx(2 * math.asin(math.sqrt(p1)) - 2 * math.asin(math.sqrt(p2)), abs=TOL)
    # Fisher only where an expected count is below 5
    if r["min_expected"] < 5:
        assert r["fisher_p"] == pytest.approx(st.fisher_exact(table).pvalue, abs=TOL)
    else:
        assert math.isnan(r["fisher_p"])


def test_two_proportions_degenerate_and_sign():
    r = S.two_proportions(0, 50, 0, 40).iloc[0]
    assert r["p_val"] == 1.0 and r["diff"] == 0
    r = S.two_proportions(5, 100, 15, 100).iloc[0]
    assert r["diff"] < 0 and r["cohen_h"] < 0 and r["lift"] < 0


SLEEP_1 = [0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0]
SLEEP_2 = [1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4]


def test_welch_on_r_sleep_data():
    """R: t.test(extra ~ group, data = sleep): t = -1.8608, df = 17.776, p-value = 0.07939."""
    r = S.welch(SLEEP_1, SLEEP_2).iloc[0]
    assert round(r["t"], 4) == -1.8608
    assert round(r["df"], 3) == 17.776
    assert round(r["p_val"], 5) == 0.07939
    # R's 95 percent interval: -3.3654832 0.2054832
    assert (r["diff_lo"], r["diff_hi"]) == pytest.approx((-3.3654832, 0.2054832), abs=1e-7)


def test_welch_against_formula_and_signed_d():
    rng = np.random.default_rng(3)
    x, y = rng.gamma(2, 50, 80), rng.gamma(2, 40, 130)
    r = S.welch(x, y).iloc[0]
    vx, vy = x.var(ddof=1) / len(x), y.var(ddof=1) / len(y)
    t = (x.mean() - y.mean()) / math.sqrt(vx + vy)
    df = (vx + vy) ** 2 / (vx ** 2 / (len(x) - 1) + vy ** 2 / (len(y) - 1))
    assert r["t"] == pytest.approx(t, abs=TOL) and r["df"] == pytest.approx(df, abs=1e-8)
    assert r["p_val"] == pytest.approx(2 * st.t.sf(abs(t), df), abs=TOL)
    half = st.t.ppf(0.975, df) * math.sqrt(vx + vy)
    assert r["diff_lo"] == pytest.approx(x.mean() - y.mean() - half, abs=1e-8)
    sp = math.sqrt(((len(x) - 1) * x.var(ddof=1) + (len(y) - 1) * y.var(ddof=1)) / (len(x) + len(y) - 2))
    assert r["cohen_d"] == pytest.approx((x.mean() - y.mean()) / sp, abs=TOL)
    assert S.welch(y, x).iloc[0]["cohen_d"] == pytest.approx(-r["cohen_d"], abs=TOL)


def test_mann_whitney_rank_biserial_against_ranks():
    rng = np.random.default_rng(4)
    x = np.where(rng.random(300) < .7, 0, rng.gamma(2, 300, 300)).round(-1)
    y = np.where(rng.random(250) < .8, 0, rng.gamma(2, 300, 250)).round(-1)
    r = S.mann_whitney(x, y).iloc[0]
    ranks = st.rankdata(np.r_[x, y])
    u = ranks[: len(x)].sum() - len(x) * (len(x) + 1) / 2
    assert r["U"] == pytest.approx(u, abs=TOL)
    assert r["rank_biserial"] == pytest.approx(2 * u / (len(x) * len(y)) - 1, abs=TOL)
    # normal approximation with tie correction and continuity correction
    n1, n2, n = len(x), len(y), len(x) + len(y)
    _, counts = np.unique(np.r_[x, y], return_counts=True)
    sd = math.sqrt(n1 * n2 / 12 * ((n + 1) - (counts ** 3 - counts).sum() / (n * (n - 1))))
    z = (abs(u - n1 * n2 / 2) - 0.5) / sd
    assert r["p_val"] == pytest.approx(2 * st.norm.sf(z), abs=TOL)


def test_mcnemar_agresti_approval():
    """Agresti (2007), presidential approval 794/150/86/570: McNemar z^2 = 17.356 (uncorrected)."""
    r = S.mcnemar([[794, 150], [86, 570]]).iloc[0]
    assert round(r["chi2"], 3) == 17.356
    assert r["chi2"] == pytest.approx((150 - 86) ** 2 / (150 + 86), abs=TOL)
    assert r["p_chi2"] == pytest.approx(st.chi2.sf(r["chi2"], 1), abs=TOL)
    assert r["p_exact"] == pytest.approx(st.binomtest(86, 236, 0.5).pvalue, abs=TOL)
    assert S.paired_table([1, 1, 0, 0, 1], [1, 0, 1, 0, 1]).tolist() == [[2, 1], [1, 1]]


def test_paired_t_and_wilcoxon_exact_enumeration():
    before = np.array([12.0, 30.5, 8.0, 0.0, 44.0, 21.0, 5.5, 17.0])
    after = np.array([15.5, 29.0, 20.0, 9.0, 60.0, 33.5, 4.0, 26.0])
    r = S.paired(before, after).iloc[0]
    d = after - before
    t = d.mean() / (d.std(ddof=1) / math.sqrt(len(d)))
    assert r["t"] == pytest.approx(t, abs=TOL)
    assert r["p_t"] == pytest.approx(2 * st.t.sf(abs(t), len(d) - 1), abs=TOL)
    # exact signed-rank distribution by enumerating all 2^8 sign patterns
    ranks = st.rankdata(np.abs(d))
    w_plus = ranks[d > 0].sum()
    stat = min(w_plus, ranks.sum() - w_plus)
    sums = [sum(rk for rk, s in zip(ranks, signs) if s) for signs in itertools.product([0, 1], repeat=len(d))]
    p_exact = min(1.0, 2 * np.mean(np.array(sums) <= stat))
    assert r["W"] == pytest.approx(stat, abs=TOL)
    assert r["p_wilcoxon"] == pytest.approx(p_exact, abs=TOL)


def test_did_equals_interaction_and_the_pooled_two_sample_test():
    rng = np.random.default_rng(5)
    n = 400
    treat = (rng.random(n) < .5).astype(float)
    pre = rng.gamma(1.5, 100, n)
    post = 0.5 * pre + rng.gamma(1.5, 80, n) + 40 * treat
    r = S.did(treat, pre, post).iloc[0]
    d = post - pre
    assert r["did"] == pytest.approx(d[treat == 1].mean() - d[treat == 0].mean(), abs=1e-9)
    # the interaction of the two-row-per-customer regression y ~ treat*post is the same estimate
    y = np.r_[pre, post]
    tr = np.r_[treat, treat]
    po = np.r_[np.zeros(n), np.ones(n)]
    beta, *_ = np.linalg.lstsq(np.column_stack([np.ones(2 * n), tr, po, tr * po]), y, rcond=None)
    assert r["did"] == pytest.approx(beta[3], abs=1e-9)
    # its error is the pooled two-sample one: Student's t test of the changes (scipy)
    ref = st.ttest_ind(d[treat == 1], d[treat == 0], equal_var=True)
    assert r["p_val"] == pytest.approx(ref.pvalue, abs=1e-9)
    assert r["did"] / r["se"] == pytest.approx(ref.statistic, abs=1e-9)


def test_ancova_equals_least_squares_with_model_based_errors():
    rng = np.random.default_rng(6)
    n = 500
    treat = (rng.random(n) < .4).astype(float)
    pre = rng.gamma(1.2, 200, n)
    post = 0.3 * pre + 60 * treat + rng.gamma(1.0, 150, n)
    r = S.ancova(treat, pre, post).iloc[0]
    X = np.column_stack([np.ones(n), treat, pre])
    beta, *_ = np.linalg.lstsq(X, post, rcond=None)
    e = post - X @ beta
    V = np.linalg.inv(X.T @ X) * (e @ e) / (n - 3)
    assert r["estimate"] == pytest.approx(beta[1], abs=1e-9)
    assert r["se"] == pytest.approx(math.sqrt(V[1, 1]), abs=1e-9)
    assert r["est_lo"] == pytest.approx(beta[1] - st.t.ppf(.975, n - 3) * math.sqrt(V[1, 1]), abs=1e-8)
    assert r["p_val"] == pytest.approx(2 * st.t.sf(abs(beta[1]) / math.sqrt(V[1, 1]), n - 3), abs=1e-12)


def test_permutation_test_is_the_label_reshuffle_and_holds_its_size():
    rng = np.random.default_rng(3)
    x = np.where(rng.random(60) < .2, rng.lognormal(6, 1, 60), 0.0)
    y = np.where(rng.random(25) < .2, rng.lognormal(6, 1, 25), 0.0)
    fast = S.permutation_mean_diff(x, y, 20_000, 1)
    pooled, r2, observed = np.r_[x, y], np.random.default_rng(2), abs(x.mean() - y.mean())
    brute = [abs(p[:60].mean() - p[60:].mean()) for p in (r2.permutation(pooled) for _ in range(20_000))]
    assert fast == pytest.approx((1 + np.sum(np.array(brute) >= observed - 1e-9)) / 20_001, abs=0.01)
    # no effect, mostly zeros, a 40-customer holdout: Welch's t is far off, the permutation test is not
    ps = []
    for s in range(600):
        r = np.random.default_rng([s, 1])
        v = np.where(r.random(400) < .1, r.lognormal(7, 1.2, 400), 0.0)
        ps.append(S.permutation_mean_diff(v[:360], v[360:], 400, s))
    assert (np.array(ps) < 0.05).mean() <= 0.07
    assert S.permutation_mean_diff(np.zeros(5), np.zeros(3)) == 1.0


def test_srm_against_formula():
    r = S.srm([880, 120], [0.85, 0.15]).iloc[0]
    exp = np.array([850.0, 150.0])
    chi2 = ((np.array([880, 120]) - exp) ** 2 / exp).sum()
    assert r["chi2"] == pytest.approx(chi2, abs=TOL)
    assert r["p_val"] == pytest.approx(st.chi2.sf(chi2, 1), abs=TOL)


def test_mde_has_the_stated_power():
    n_t, n_h, p0 = 1700, 300, 0.10
    mde = S.mde_proportion(n_t, n_h, p0, alpha=0.05, power=0.8)
    h = 2 * math.asin(math.sqrt(p0 + mde)) - 2 * math.asin(math.sqrt(p0))
    se = math.sqrt(1 / n_t + 1 / n_h)
    zc = st.norm.ppf(0.975)
    power = st.norm.sf(zc - h / se) + st.norm.cdf(-zc - h / se)
    assert power == pytest.approx(0.8, abs=1e-5)  # statsmodels solves numerically (brentq tolerance)
    # a bigger round detects a smaller effect
    assert S.mde_proportion(10 * n_t, 10 * n_h, p0) < mde
    md = S.mde_mean(n_t, n_h, sd=400.0)
    df = n_t + n_h - 2
    nc = md / 400.0 / se
    tc = st.t.ppf(0.975, df)
    assert st.nct.sf(tc, df, nc) + st.nct.cdf(-tc, df, nc) == pytest.approx(0.8, abs=1e-6)


def test_holm_and_bh_by_hand():
    p = np.array([0.01, 0.04, 0.03, 0.005, np.nan, 0.2])
    ok = p[~np.isnan(p)]
    m = len(ok)
    order = np.argsort(ok)
    holm = np.empty(m)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * ok[i]))
        holm[i] = running
    bh = np.empty(m)
    running = 1.0
    for rank in range(m - 1, -1, -1):
        i = order[rank]
        running = min(running, ok[i] * m / (rank + 1))
        bh[i] = running
    got_h = adjust(p, "holm")
    got_b = adjust(p, "fdr_bh")
    assert np.isnan(got_h[4]) and np.isnan(got_b[4])
    assert np.allclose(got_h[~np.isnan(p)], holm, atol=TOL)
    assert np.allclose(got_b[~np.isnan(p)], bh, atol=TOL)
    with pytest.raises(ValueError, match="correction must be one of"):
        adjust(p, "hs")


def test_bootstrap_matches_the_index_bootstrap_in_distribution():
    rng = np.random.default_rng(7)
    x = np.where(rng.random(3000) < .85, 0.0, rng.lognormal(6, 1, 3000))
    fast = S.bootstrap_means(x, 4000, np.random.default_rng(1), max_draws=50_000)  # forces many chunks
    ref = S.bootstrap_indices_reference(x, 4000, seed=2)
    assert fast.mean() == pytest.approx(x.mean(), rel=0.01)
    assert fast.std() == pytest.approx(ref.std(), rel=0.08)
    assert fast.std() == pytest.approx(x.std(ddof=0) / math.sqrt(len(x)), rel=0.08)
    # no zeros at all, and all zeros
    y = rng.normal(5, 1, 500)
    assert S.bootstrap_means(y, 2000, np.random.default_rng(3)).std() == pytest.approx(1 / math.sqrt(500), rel=0.1)
    assert (S.bootstrap_means(np.zeros(10), 5) == 0).all()


def test_bootstrap_mean_diff_is_seeded_and_covers():
    rng = np.random.default_rng(8)
    x = np.where(rng.random(2000) < .8, 0.0, rng.lognormal(6, 1, 2000))
    y = np.where(rng.random(2000) < .88, 0.0, rng.lognormal(6, 1, 2000))
    a = S.bootstrap_mean_diff(x, y, seed=42).iloc[0]
    b = S.bootstrap_mean_diff(x, y, seed=42).iloc[0]
    assert a["boot_lo"] == b["boot_lo"] and a["boot_lo"] < a["diff"] < a["boot_hi"]
    w = S.welch(x, y).iloc[0]
    assert a["boot_lo"] == pytest.approx(w["diff_lo"], rel=0.15)


def test_bootstrap_memory_at_200k_customers():
    """200,000 customers x 2,000 resamples stays far below an n x resamples matrix (3.2 GB of int64)."""
    rng = np.random.default_rng(9)
    x = np.where(rng.random(200_000) < .85, 0.0, rng.lognormal(6, 1, 200_000))
    tracemalloc.start()
    S.bootstrap_means(x, 2000, np.random.default_rng(1))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 200 * 2**20
