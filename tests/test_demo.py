"""Demo data: deterministic, with the planted effects documented in the generator, and a safe demo job."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from workbench.data.demo import BUSINESSES, DEMO_AS_OF, generate
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


def test_demo_step_failing_after_every_month_leaves_previous_outputs(tmp_path, monkeypatch):
    """The demo job builds beside its folder and swaps only at the end: a step failing after every month has
    succeeded leaves the previous outputs as they were. The months here are stand-ins run in threads (the
    orchestration is what is tested); tests/runner/test_runner_pipeline.py runs the real job once and a real
    run whose months fail."""
    import concurrent.futures as cf
    import contextlib

    from workbench.runner import stores

    @contextlib.contextmanager
    def threads(scheduler=None, workers=None):
        with cf.ThreadPoolExecutor(workers) as ex:
            yield ex

    def month(business, settings, root, echo):
        folder = Path(root) / business / demo_job.DEMO_MONTH
        (folder / "import").mkdir(parents=True)
        (folder / "import" / "customers.xlsx").write_text(f"{business} seed {settings['variables.seed']}")
        return "succeeded", "", str(folder), [], 0.0

    def boom(bdir, business, log):
        raise RuntimeError("step failed")

    monkeypatch.setattr(stores, "store_executor", threads)
    monkeypatch.setattr(demo_job, "_demo_month", month)
    out = demo_job.run_demo(tmp_path / "demo", seed=1, log=lambda m: None)
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert {str(p) for p in before} == {f"{b}/{demo_job.DEMO_MONTH}/import/customers.xlsx" for b in BUSINESSES}

    monkeypatch.setattr(demo_job, "demo_steps", lambda: [("boom", boom)])
    with pytest.raises(RuntimeError, match="step failed"):
        demo_job.run_demo(out, seed=2, log=lambda m: None)
    after = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before
    # the failed run had finished its months: they stayed in the partial folder, not in place of the old ones
    partial = tmp_path / ".demo.partial" / "dealership" / demo_job.DEMO_MONTH / "import" / "customers.xlsx"
    assert partial.read_text() == "dealership seed 2"
