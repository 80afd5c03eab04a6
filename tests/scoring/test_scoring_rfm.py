"""RFM summary: hand-checked windows and splits, and the CDNOW cross-check against lifetimes' summary."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from workbench.scoring.rfm import lifetimes_summary, rfm_summary


def test_rfm_hand_checked(mk):
    as_of = "2026-06-30"   # the last 365 days are 2025-07-01 .. 2026-06-30
    tx = mk.tx([
        ("a", "2024-01-01", 100.0, "necessary"),
        ("a", "2024-01-01", 50.0, "discretionary"),      # same day: one visit of 150
        ("a", "2024-07-01", 200.0, "necessary"),
        ("b", "2025-06-01", 30.0, None),                 # unknown spend type counts as discretionary
        ("b", "2026-01-01", 40.0, "necessary"),
        ("c", "2026-07-01", 9.0, "necessary"),           # after as_of: ignored
        ("e", "2025-06-30", 10.0, "necessary"),          # window start day: before the window
        ("e", "2025-07-01", 20.0, "discretionary"),      # first day of the window
    ])
    r = rfm_summary(tx, as_of).set_index("customer_id")
    assert list(r.index) == ["a", "b", "e"]
    a, b, e = r.loc["a"], r.loc["b"], r.loc["e"]
    assert (a.visits, a.visits_365, a.spend, a.spend_365) == (2, 0, 350.0, 0.0)
    assert (a.necessary_spend, a.discretionary_spend) == (300.0, 50.0)
    assert a.avg_spend == 175.0 and np.isnan(a.avg_spend_365)
    assert a.days_since_last == 729                       # 2024-07-01 -> 2026-06-30
    assert a.typical_interval_days == 182                 # 2024 is a leap year
    assert a.overdue_ratio == pytest.approx(729 / 182)
    assert a.monetary_value == 200.0                      # repeat visits only (lifetimes convention)
    assert (b.visits, b.visits_365, b.spend_365, b.necessary_spend_365) == (2, 1, 40.0, 40.0)
    assert (b.discretionary_spend, b.discretionary_spend_365) == (30.0, 0.0)
    assert b.days_since_last == 180 and b.typical_interval_days == 214
    assert (e.visits, e.visits_365, e.spend_365, e.discretionary_spend_365) == (2, 1, 20.0, 20.0)
    lt = lifetimes_summary(r.reset_index(), as_of, unit_days=7).set_index("customer_id")
    assert lt.loc["a", "frequency"] == 1
    assert lt.loc["a", "recency"] == pytest.approx(182 / 7)
    assert lt.loc["a", "T"] == pytest.approx((pd.Timestamp(as_of) - pd.Timestamp("2024-01-01")).days / 7)


def test_cdnow_summary_reproduced_exactly(lifetimes_datasets):
    """Rebuild lifetimes' shipped CDNOW summary from the raw sample transactions (weeks, to 1997-09-30)."""
    raw = pd.read_csv(lifetimes_datasets / "CDNOW_sample.txt", sep=r"\s+", header=None,
                      names=["id", "sample_id", "date", "cds", "dollars"], dtype={"date": str})
    tx = pd.DataFrame({"customer_id": raw["sample_id"].astype(str),
                       "date": pd.to_datetime(raw["date"], format="%Y%m%d"),
                       "amount": raw["dollars"], "spend_type": "necessary"})
    mine = lifetimes_summary(rfm_summary(tx, "1997-09-30"), "1997-09-30", unit_days=7)
    mine["ID"] = mine["customer_id"].astype(int)
    ref = pd.read_csv(lifetimes_datasets / "cdnow_customers_summary.csv")
    assert len(ref) == 2357 and len(mine) == 2357
    merged = ref.merge(mine, on="ID", how="outer", suffixes=("", "_mine"), validate="one_to_one")
    assert merged.notna().all().all()
    for col in ("frequency", "recency", "T"):
        assert (merged[col].to_numpy() == np.round(merged[f"{col}_mine"].to_numpy(), 2)).all(), col


def test_matches_lifetimes_summary_function_in_days(mk):
    summary_data_from_transaction_data = pytest.importorskip("lifetimes.utils").summary_data_from_transaction_data

    rng = np.random.default_rng(3)
    n = 400
    tx = pd.DataFrame({"customer_id": rng.integers(0, 60, n).astype(str),
                       "date": pd.Timestamp("2025-01-01") + pd.to_timedelta(rng.integers(0, 600, n), unit="D"),
                       "amount": np.round(rng.gamma(2, 50, n), 2), "spend_type": "necessary"})
    as_of = "2026-06-30"
    ref = summary_data_from_transaction_data(tx, "customer_id", "date", "amount",
                                             observation_period_end=as_of).sort_index()
    mine = lifetimes_summary(rfm_summary(tx, as_of), as_of).set_index("customer_id").sort_index()
    assert list(ref.index) == list(mine.index)
    for col in ("frequency", "recency", "T", "monetary_value"):
        np.testing.assert_allclose(mine[col], ref[col], rtol=1e-9, err_msg=col)
