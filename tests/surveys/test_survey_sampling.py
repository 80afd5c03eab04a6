"""Sample sizes against textbook values and statsmodels; stratified samples reproducible with exact allocations."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import proportion_effectsize

from workbench.surveys.sampling import (allocate, assign_interviewers, sample_makeup, sample_size_share,
                                        sample_size_two_proportions, stratified_sample)


def test_textbook_share_sizes():
    assert sample_size_share(0.05, 0.95, 0.5).completes == 385
    s = sample_size_share(0.05, 0.95, 0.5, population=2000, response_rate=0.3)
    assert (s.completes, s.contacts) == (323, 1077)
    assert sample_size_share(0.03, 0.95).completes == 1068          # Cochran: 1,067.1 -> 1,068
    assert sample_size_share(0.05, 0.99).completes == 664           # 2.5758^2 * .25 / .0025 = 663.5


def test_share_size_matches_hand_formula_across_inputs():
    for e, conf, p, n_pop, rr in [(0.04, 0.9, 0.3, 800, 0.25), (0.1, 0.95, 0.2, None, 0.5), (0.02, 0.8, 0.5, 50000, 1)]:
        z = norm.ppf(1 - (1 - conf) / 2)
        n0 = z * z * p * (1 - p) / e ** 2
        n = n0 / (1 + (n0 - 1) / n_pop) if n_pop else n0
        got = sample_size_share(e, conf, p, population=n_pop, response_rate=rr)
        assert got.completes == math.ceil(n)
        assert got.contacts == min(math.ceil(math.ceil(n) / rr), n_pop or 10 ** 9)


def test_contacts_capped_at_population():
    s = sample_size_share(0.03, population=300, response_rate=0.2)
    assert s.capped and s.contacts == 300


@pytest.mark.parametrize("p1,p2,power,ratio,alt", [(0.45, 0.25, 0.8, 1.0, "two-sided"), (0.30, 0.20, 0.9, 2.0, "two-sided"),
                                                    (0.60, 0.50, 0.8, 1.0, "larger")])
def test_two_proportion_size_matches_statsmodels(p1, p2, power, ratio, alt):
    got = sample_size_two_proportions(p1, p2, power=power, ratio=ratio, alternative=alt, response_rate=0.4)
    h = proportion_effectsize(p1, p2)
    assert got.effect_size == pytest.approx(h)
    ref = NormalIndPower().solve_power(effect_size=h, alpha=0.05, power=power, ratio=ratio, alternative=alt)
    assert got.n1 == math.ceil(ref - 1e-6)
    assert got.n2 == math.ceil(got.n1 * ratio - 1e-9)
    assert got.contacts1 == math.ceil(got.n1 / 0.4)


def _customers(n=3000, seed=5):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"customer_id": [f"C{i:05d}" for i in range(n)],
                         "tier": rng.choice([1, 2, 3], n, p=[.2, .3, .5]),
                         "age_band": rng.choice(["<25", "25-29", "30-39", "40-49"], n),
                         "clv_365": rng.gamma(2.0, 500.0, n)})


def test_proportional_allocation_sums_and_shares_within_rounding():
    df = _customers()
    s = stratified_sample(df, ["tier", "age_band"], 400, seed=42, reserve_share=0.25)
    main = s[s.role == "main"]
    assert len(main) == 400 and main["customer_id"].is_unique and s["customer_id"].is_unique
    mk = sample_makeup(df, s, ["tier", "age_band"])
    assert (abs(mk["sample"] - 400 * mk["population"] / len(df)) < 1).all()
    # design weights N_h / n_h: weighted count of the main sample reproduces the population
    assert main["design_weight"].sum() == pytest.approx(len(df))
    res = s[s.role == "reserve"]
    per = res.groupby("stratum").size()
    need = main.groupby("stratum").size().map(lambda k: math.ceil(0.25 * k))
    assert (per == need.reindex(per.index)).all()
    assert (res.groupby("stratum")["reserve_rank"].apply(lambda r: list(r) == list(range(1, len(r) + 1)))).all()


def test_sample_reproducible_with_seed_and_independent_of_row_order():
    df = _customers()
    a = stratified_sample(df, ["tier"], 200, seed=7)
    b = stratified_sample(df.sample(frac=1, random_state=3), ["tier"], 200, seed=7)
    c = stratified_sample(df, ["tier"], 200, seed=8)
    pd.testing.assert_frame_equal(a, b)
    assert set(a.customer_id) != set(c.customer_id)
    assert (a["seed"] == 7).all()


def test_neyman_allocation_matches_formula():
    sizes = pd.Series({"a": 1000, "b": 500, "c": 200})
    sd = pd.Series({"a": 0.1, "b": 0.4, "c": 0.5})
    got = allocate(sizes, 300, "neyman", sd=sd)
    w = sizes * sd
    assert got.sum() == 300
    assert (abs(got - 300 * w / w.sum()) < 1).all()
    cost = pd.Series({"a": 1, "b": 4, "c": 1})
    w2 = sizes * sd / np.sqrt(cost)
    assert (abs(allocate(sizes, 300, "neyman", sd=sd, cost=cost) - 300 * w2 / w2.sum()) < 1).all()


def test_allocation_respects_stratum_sizes_and_minimum():
    sizes = pd.Series({"big": 1000, "tiny": 3, "small": 10})
    got = allocate(sizes, 500, "neyman", sd={"big": 0.01, "tiny": 5.0, "small": 5.0})
    assert got.sum() == 500 and got["tiny"] == 3 and got["small"] == 10
    got = allocate(pd.Series({"a": 5000, "b": 5}), 100)
    assert got["b"] == 1 and got.sum() == 100
    assert allocate(pd.Series({"a": 4, "b": 2}), 50).to_dict() == {"a": 4, "b": 2}


def test_neyman_from_a_column_gives_more_to_variable_strata():
    df = _customers()
    df.loc[df.tier == 1, "clv_365"] *= 10
    s = stratified_sample(df, ["tier"], 300, seed=1, allocation="neyman", sd_column="clv_365")
    share = s[s.role == "main"].groupby("tier").size() / 300
    assert share[1] > (df.tier == 1).mean() * 2


def test_interviewers_get_balanced_mixed_loads_and_unique_case_ids():
    df = _customers(600)
    s = assign_interviewers(stratified_sample(df, ["tier"], 100, seed=2), ["王芳", "李强", "张敏"])
    loads = s[s.role == "main"].groupby("interviewer").size()
    assert loads.max() - loads.min() <= 1 and loads.sum() == 100
    assert s["case_id"].is_unique and s["case_id"].str.match(r"^C\d{4}$").all()
    assert (s[s.role == "main"].groupby("interviewer")["stratum"].nunique() == 3).all()


def test_missing_stratum_values_form_their_own_stratum():
    df = _customers(200)
    df["age_band"] = df["age_band"].astype("object")
    df.loc[:9, "age_band"] = None
    s = stratified_sample(df, ["age_band"], 50, seed=0)
    assert "age_band=unknown" in set(s.stratum)
