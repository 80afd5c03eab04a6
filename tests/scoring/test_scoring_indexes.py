"""Churn index, early warning, stages, tiers, octants and win-back on hand-checked small cases."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from workbench.scoring.churn import churn_index, indicator_correlations, indicator_values
from workbench.scoring.config import load_industry
from workbench.scoring.early_warning import early_warning
from workbench.scoring.features import customer_features
from workbench.scoring.stages import contact_policy, lifecycle_stage
from workbench.scoring.tiers import assign_tiers, octants, percentile_score, value_scores
from workbench.scoring.winback import winback_list


@pytest.fixture
def two_customers(mk):
    """x: four visits 200 days apart, none in the last 400 days. y: slowed down and complained."""
    d = mk.day
    tx = mk.tx([("x", d(o), 100.0, "necessary") for o in (-1000, -800, -600, -400)]
               + [("y", d(o), 100.0, "necessary") for o in (-1000, -700, -400, -100)])
    ev = mk.ev([("y", d(-50), "complaint", None)])
    return customer_features(tx, mk.as_of, events=ev)


def test_indicators_and_churn_index_hand_checked(two_customers, explicit_config):
    v = indicator_values(two_customers, explicit_config).set_index("customer_id")
    years_before = (1000 - 365) / 365.25
    # x: rhythm = (3 gaps * 200 + default 180) / 4 = 195; 400 days since the last visit
    assert v.loc["x", "rhythm_days"] == pytest.approx(195)
    assert v.loc["x", "overdue"] == pytest.approx(400 / 195)
    assert v.loc["x", "frequency_drop"] == 1 and v.loc["x", "spend_drop"] == 1
    # y: three visits before the window, 300 days apart -> rhythm (2*300+180)/3 = 260; one visit since
    assert v.loc["y", "rhythm_days"] == pytest.approx(260)
    assert v.loc["y", "overdue"] == pytest.approx(100 / 260)
    usual = 3 / years_before
    assert v.loc["y", "frequency_drop"] == pytest.approx(1 - 1 / usual)
    assert v.loc["y", "spend_drop"] == pytest.approx(1 - 100 / (300 / years_before))
    assert v.loc["y", "complaints"] == 1 and v.loc["y", "engagement_drop"] == 0

    c = churn_index(two_customers, explicit_config).set_index("customer_id")
    x_expected = 35 * (400 / 195 - 1) / 2 + 20 + 20
    assert c.loc["x", "churn_index"] == pytest.approx(x_expected)
    assert c.loc["x", "churn_reasons"] == "frequency_drop, spend_drop, overdue"
    y_drop = 1 - 1 / usual
    assert c.loc["y", "churn_index"] == pytest.approx(20 * y_drop * 2 + 15 * 0.5)
    assert c.loc["y", "churn_reasons"] == "frequency_drop, spend_drop, complaints"

    stages = lifecycle_stage(two_customers["days_since_last"], explicit_config)
    assert stages.astype(str).tolist() == ["sleeping", "active"]   # 400 d is past silent's 365; 100 d <= 180


def test_stage_boundaries_are_inclusive():
    clinic = load_industry("clinic")
    days = pd.Series([0, 45, 46, 90, 91, 180, 181, np.nan])
    assert lifecycle_stage(days, clinic).astype(str).tolist() == [
        "active", "active", "silent", "silent", "sleeping", "sleeping", "lost", "never"]


def test_contact_policy_per_stage():
    table = contact_policy("clinic")
    assert table["stage"].tolist() == ["active", "silent", "sleeping", "lost", "never"]
    lost = contact_policy("clinic", "lost")
    assert lost["contact"] == "reactivation_only" and lost["days_from"] == 180
    assert "专职" in lost["zh"]
    with pytest.raises(ValueError, match="stage"):
        contact_policy("clinic", "dormant")


def test_early_warning_hand_checked(two_customers, explicit_config):
    v = indicator_values(two_customers, explicit_config)
    stages = lifecycle_stage(two_customers["days_since_last"], explicit_config)
    ew = early_warning(v, stages, explicit_config).set_index("customer_id")
    spend_drop = v.set_index("customer_id").loc["y", "spend_drop"]
    expected = 40 * (spend_drop - 0.1) / 0.7 + 30 * 1.0       # overdue below 1 -> 0 points
    assert ew.loc["y", "early_warning_index"] == pytest.approx(expected)
    assert expected >= 40 and bool(ew.loc["y", "early_warning"])
    assert ew.loc["y", "early_warning_reason"] == "complaints, spend_drop"
    assert not bool(ew.loc["x", "early_warning"])               # sleeping: not watched by the warning
    assert pd.isna(ew.loc["x", "early_warning_reason"])


def test_indicator_correlations_match_scipy(mk, explicit_config):
    rng = np.random.default_rng(5)
    rows = [(f"c{c}", mk.day(-int(o)), float(rng.gamma(2, 100)), "necessary")
            for c in range(80) for o in rng.integers(1, 1500, rng.integers(1, 8))]
    f = customer_features(mk.tx(rows), mk.as_of)
    v = indicator_values(f, explicit_config)
    corr = indicator_correlations(v, explicit_config)
    assert len(corr) == 10 and set(corr.columns) >= {"indicator_a", "indicator_b", "pearson_r", "spearman_r"}
    row = corr[(corr.indicator_a == "overdue") & (corr.indicator_b == "frequency_drop")].iloc[0]
    assert row.pearson_r == pytest.approx(stats.pearsonr(v["overdue"], v["frequency_drop"])[0])
    assert row.spearman_r == pytest.approx(stats.spearmanr(v["overdue"], v["frequency_drop"])[0])
    assert row.redundant == (max(abs(row.pearson_r), abs(row.spearman_r)) >= 0.8)


def test_percentile_score_and_tiers():
    assert percentile_score(np.array([10, 20, 20, 30.0])).tolist() == [0, 1 / 3, 1 / 3, 1]
    got = percentile_score(np.array([5, np.nan, 1.0]), np.array([True, True, False]))
    assert got.tolist() == [1.0, 0.0, 0.0]
    tiers = assign_tiers(np.arange(10, dtype=float), (0.2, 0.3, 0.5))
    assert tiers.tolist() == [3, 3, 3, 3, 3, 2, 2, 2, 1, 1]


def test_value_scores_prefer_necessary_recent_spend_and_engagement(mk, explicit_config):
    d = mk.day
    tx = mk.tx([("nec", d(-10), 500.0, "necessary"), ("disc", d(-10), 500.0, "discretionary"),
                ("old", d(-900), 500.0, "necessary"), ("eng", d(-10), 1.0, "necessary"),
                ("noeng", d(-10), 1.0, "necessary")])
    ev = mk.ev([("eng", d(-20), "referral", "nec"), ("eng", d(-30), "suggestion", None)])
    f = customer_features(tx, mk.as_of, events=ev)
    v = value_scores(f, explicit_config).set_index("customer_id")
    assert v.loc["eng", "engagement_points"] == 5 + 2            # referral whose friend bought + suggestion
    assert v.loc["nec", "value_score"] > v.loc["disc", "value_score"] > v.loc["noeng", "value_score"]
    assert v.loc["nec", "value_score"] > v.loc["old", "value_score"]
    assert v.loc["eng", "value_score"] > v.loc["noeng", "value_score"]
    assert v["tier"].min() == 1 and v["tier"].max() <= explicit_config.tier_count


def test_octants_hand_checked():
    f = pd.DataFrame({"visits": [5, 1, 5, 1, 0], "days_since_last": [10, 10, 500, 500, np.nan],
                      "spend": [900, 900, 10, 10, 0]})
    # medians among buyers: days 255, visits 3, spend 455
    assert octants(f).tolist()[:4] == ["R+F+M+", "R+F-M+", "R-F+M-", "R-F-M-"]
    assert pd.isna(octants(f).iloc[4])


def test_winback_list_ranks_by_value_and_applies_floor(explicit_config):
    scores = pd.DataFrame({
        "customer_id": ["a", "b", "c", "d", "e"],
        "stage": ["lost", "sleeping", "lost", "active", "lost"],
        "tier": [1, 2, 3, 1, 1],
        "value_if_won_back": [3000.0, 5000.0, 100.0, 9000.0, 8000.0],
        "do_not_contact": [False, False, False, False, True],
    })
    ranked = winback_list(scores, explicit_config, floor=1000)
    assert ranked["customer_id"].tolist() == ["b", "a"]         # c below the floor, d active, e do-not-contact
    assert ranked["winback_rank"].tolist() == [1, 2]
    everyone = winback_list(scores, explicit_config, floor=1000, include_unworthy=True)
    assert everyone["customer_id"].tolist() == ["e", "b", "a", "c"]
    assert everyone["worth_winning_back"].tolist() == [False, True, True, False]
