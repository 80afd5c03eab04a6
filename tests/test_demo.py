"""Demo data: deterministic, with the planted effects documented in the generator, and a safe demo job."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from workbench.data.demo import DEMO_AS_OF, generate
from workbench.runner import demo as demo_job


def test_same_seed_same_data():
    a, b = generate("dealership", 500, seed=5), generate("dealership", 500, seed=5)
    pd.testing.assert_frame_equal(a.transactions, b.transactions)
    pd.testing.assert_frame_equal(a.customers, b.customers)
    assert not generate("dealership", 500, seed=6).transactions.equals(a.transactions)


def test_dealership_planted_effects():
    d = generate("dealership", 6_000, seed=1)
    seg = d.truth.set_index("customer_id")["segment"]
    tx = d.transactions.assign(segment=lambda t: t["customer_id"].map(seg))
    as_of = pd.Timestamp(DEMO_AS_OF)
    last = tx.groupby("customer_id")["date"].max()
    # lost customers have not bought for over a year; loyal ones recently
    assert (as_of - last[seg[seg == "lost"].index]).dt.days.min() > 365
    assert (as_of - last[seg[seg == "loyal"].index].dropna()).dt.days.median() < 180
    # drifting customers buy less often after their drift start, and stop discretionary spend
    drift = d.truth.set_index("customer_id")["drift_start"]
    dt_ = tx[tx["segment"] == "drifting"].assign(after=lambda t: t["date"] > t["customer_id"].map(drift))
    assert dt_.loc[dt_["after"], "spend_type"].eq("necessary").all()
    # young lost customers name price and waiting time far more than older ones
    r = d.truth.dropna(subset=["planted_reason"])
    young = r["age_band"].isin(["<25", "25-29"])
    share = lambda m, code: (r.loc[m, "planted_reason"] == code).mean()  # noqa: E731
    assert share(young, "price") > 2 * share(~young, "price")
    # one-time buyers bought once
    assert tx[tx["segment"] == "one_time"].groupby("customer_id")["date"].nunique().max() == 1


def test_phone_brand_young_customers_left():
    d = generate("phone_brand", 4_000, seed=2)
    t = d.truth
    young = t["age_band"].isin(["<25", "25-29"])
    left = t["segment"] == "young_left"
    assert left[~young].sum() == 0 and left[young].mean() > 0.3
    assert t.loc[left, "planted_reason"].value_counts().idxmax() == "style_outdated"
    last = d.transactions.groupby("customer_id")["date"].max()
    gone = (pd.Timestamp(DEMO_AS_OF) - last.reindex(t.loc[left, "customer_id"])).dt.days
    assert gone.between(120, 243).all()


def test_scales_to_benchmark_size_vectorised():
    d = generate("dealership", 50_000, seed=0)
    per_customer = len(d.transactions) / 50_000
    assert 8 < per_customer < 20  # 1,000,000 customers give ~10-15 million transactions
    assert np.isfinite(d.transactions["amount"]).all() and (d.transactions["amount"] >= 0).all()


def test_failed_demo_run_leaves_previous_outputs(tmp_path, monkeypatch):
    out = tmp_path / "demo"
    demo_job.run_demo(out, n_customers={"dealership": 300, "phone_brand": 300})
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*.xlsx")}
    assert {p.name for p in before} >= {"data_summary.xlsx", "customers.xlsx"}

    def boom(bdir, business, log):
        raise RuntimeError("step failed")

    monkeypatch.setattr(demo_job, "demo_steps", lambda: [("boom", boom)])
    with pytest.raises(RuntimeError):
        demo_job.run_demo(out, n_customers={"dealership": 300, "phone_brand": 300})
    after = {p.relative_to(out): p.read_bytes() for p in out.rglob("*.xlsx")}
    assert after == before
