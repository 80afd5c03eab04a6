"""Lifetime value: BG/NBD and Gamma-Gamma against the published CDNOW results; MBG/NBD against lifetimes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from workbench.scoring import clv


@pytest.fixture(scope="module")
def cdnow(lifetimes_datasets):
    return pd.read_csv(lifetimes_datasets / "cdnow_customers_summary.csv")


def test_bgnbd_matches_fader_hardie_lee_2005(cdnow):
    params = clv.fit_bgnbd(cdnow)
    published = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
    for k, v in published.items():
        assert params[k] == pytest.approx(v, rel=0.01), k
    assert clv.bgnbd_log_likelihood(params, cdnow) == pytest.approx(-9582.4, abs=0.1)


def test_gamma_gamma_matches_published(lifetimes_datasets):
    s = pd.read_csv(lifetimes_datasets / "cdnow_customers_summary_with_transactions.csv")
    s = s.rename(columns={"x": "frequency", "zbar": "monetary_value"})
    assert (s["frequency"] > 0).sum() == 946
    params = clv.fit_gamma_gamma(s)   # one-time buyers are left out by the fit itself
    for k, v in {"p": 6.25, "q": 3.74, "gamma": 15.44}.items():
        assert params[k] == pytest.approx(v, rel=0.01), k


def test_mbgnbd_matches_lifetimes_fitter_and_predictions(cdnow):
    from lifetimes import ModifiedBetaGeoFitter

    ref = ModifiedBetaGeoFitter().fit(cdnow["frequency"], cdnow["recency"], cdnow["T"])
    mine = clv.fit_mbgnbd(cdnow)
    for k in ("r", "alpha", "a", "b"):
        assert mine[k] == pytest.approx(ref.params_[k], rel=1e-3), k
    args = (cdnow["frequency"], cdnow["recency"], cdnow["T"])
    np.testing.assert_allclose(clv.p_alive(mine, *args), ref.conditional_probability_alive(*args), rtol=1e-3)
    np.testing.assert_allclose(clv.expected_purchases(mine, 39, *args),
                               ref.conditional_expected_number_of_purchases_up_to_time(39, *args), rtol=2e-3)


def test_bgnbd_predictions_match_lifetimes(cdnow):
    from lifetimes import BetaGeoFitter

    ref = BetaGeoFitter().fit(cdnow["frequency"], cdnow["recency"], cdnow["T"])
    args = (cdnow["frequency"], cdnow["recency"], cdnow["T"])
    np.testing.assert_allclose(clv.p_alive(ref.params_, *args, modified=False),
                               ref.conditional_probability_alive(*args), rtol=1e-9)
    np.testing.assert_allclose(clv.expected_purchases(ref.params_, 39, *args, modified=False),
                               ref.conditional_expected_number_of_purchases_up_to_time(39, *args), rtol=1e-9)


def test_one_time_buyers_are_not_forever_alive(cdnow):
    """BG/NBD's blind spot: a one-time buyer from long ago is 'alive' with certainty; MBG/NBD is not."""
    bg, mbg = clv.fit_bgnbd(cdnow), clv.fit_mbgnbd(cdnow)
    once = dict(frequency=[0, 0], recency=[0, 0], T=[5, 100])
    assert clv.p_alive(bg, **once, modified=False).tolist() == [1.0, 1.0]
    p = clv.p_alive(mbg, **once)
    assert (p < 1).all() and p[1] < p[0]
    # hand check of the MBG/NBD formula: 1 / (1 + a/b * ((alpha+T)/alpha)^r)
    r, alpha, a, b = (mbg[k] for k in ("r", "alpha", "a", "b"))
    assert p[1] == pytest.approx(1 / (1 + a / b * ((alpha + 100) / alpha) ** r))


def test_expected_average_spend_shrinks_toward_population():
    params = {"p": 6.25, "q": 3.74, "gamma": 15.44}
    pop = 6.25 * 15.44 / 2.74
    got = clv.expected_average_spend(params, [0, 1, 50], [0.0, 100.0, 100.0])
    assert got[0] == pytest.approx(pop)
    assert pop < got[1] < got[2] < 100      # more purchases -> closer to the customer's own mean
    assert got[1] == pytest.approx(6.25 * (15.44 + 100) / (6.25 + 2.74))


def test_fit_refuses_bad_input():
    with pytest.raises(ValueError, match="missing column"):
        clv.fit_bgnbd(pd.DataFrame({"frequency": [1.0], "recency": [1.0]}))
    with pytest.raises(ValueError, match="recency is larger than T"):
        clv.fit_bgnbd(pd.DataFrame({"frequency": [1.0], "recency": [5.0], "T": [2.0]}))
    with pytest.raises(clv.FitError, match="no customer made a repeat purchase"):
        clv.fit_bgnbd(pd.DataFrame({"frequency": [0.0, 0.0], "recency": [0.0, 0.0], "T": [3.0, 4.0]}))
