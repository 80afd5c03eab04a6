"""Reports: the notebook through papermill (one run), its Excel workbook and code-free HTML; the trend tables."""

from __future__ import annotations

import datetime as dt

import openpyxl
import pandas as pd
import pytest

from workbench.data.store import connect
from workbench.evaluation.report import run_evaluation_report
from workbench.evaluation.trend import early_warning_hits, lost_population, round_trend


@pytest.mark.slow
def test_notebook_report_excel_and_html(simulated_round, tmp_path):
    db, info, _ = simulated_round
    files = run_evaluation_report(db, tmp_path / "evaluation", campaign="demo_campaign", months=3, alpha=0.05,
                                  correction="fdr_bh", as_of=info["data_end"].isoformat())
    assert all(p.exists() for p in files.values())
    for png in ("return_rate_by_arm.png", "lift_by_segment.png", "trend.png"):
        assert (tmp_path / "evaluation" / png).stat().st_size > 10_000
    wb = openpyxl.load_workbook(files["excel"])
    names = wb.sheetnames
    assert names[0] == "Summary" and {"By tier", "By agent", "By script step", "Trend", "Return rates"} <= set(names)
    summary = [c.value for c in wb["Summary"]["B"] if isinstance(c.value, str)]
    assert any("came back more than the holdout in month 3" in v for v in summary)
    assert any("regression to the mean" in v for v in summary)
    assert len(wb["Summary"]._charts) == 1 and len(wb["By tier"]._charts) == 1
    assert wb["By tier"]["A2"].value == 3                                   # latest month on top
    html = files["html"].read_text(encoding="utf-8")
    assert "Round evaluation" in html and "evaluate_round(" not in html     # outputs only, no code
    assert "came back more than the holdout" in html


def test_trend_tables(simulated_round):
    db, info, _ = simulated_round
    trend = round_trend(db, "demo_campaign", as_of=info["data_end"])
    r = trend.iloc[0]
    assert r["month_measured"] == 3 and r["complete"]
    assert r["won_back"] + r["still_silent"] == r["treated"]
    assert r["incremental_returns"] == pytest.approx((r["treated_rate"] - r["holdout_rate"]) * r["treated"])
    lost = lost_population(db, "2026-09-01", info["data_end"], lost_days=730)
    assert (lost["net_change"] == lost["newly_lost"] - lost["returned"]).all()
    assert (lost["lost_start"].iloc[1:].to_numpy() == lost["lost_end"].iloc[:-1].to_numpy()).all()
    assert lost.loc[lost["month"] >= "2026-11", "returned"].sum() > 0       # simulated returns of lost customers


def test_early_warning_hit_rate_by_hand(db):
    with connect(db) as con:
        con.execute("""CREATE TABLE customer_scores (as_of DATE, customer_id VARCHAR, stage VARCHAR,
                       early_warning BOOLEAN)""")
        con.execute("""INSERT INTO customer_scores VALUES
            ('2026-10-31', 'a', 'active', true), ('2026-10-31', 'b', 'silent', true),
            ('2026-10-31', 'c', 'active', false), ('2026-10-31', 'd', 'active', false),
            ('2026-10-31', 'e', 'lost', true)""")
        for i, (cid, day) in enumerate([("a", "2026-06-01"), ("b", "2026-06-01"), ("b", "2026-12-01"),
                                        ("c", "2026-09-01"), ("c", "2026-12-15"), ("d", "2026-10-01"),
                                        ("d", "2027-01-10")]):
            con.execute("INSERT INTO transactions (transaction_id, customer_id, date, amount, _key) "
                        "VALUES (?, ?, ?, 1, ?)", [f"t{i}", cid, dt.date.fromisoformat(day), f"t{i}"])
    hits = early_warning_hits(db, end="2027-01-31").iloc[0]
    assert hits["customers_flagged"] == 2 and hits["hit_rate"] == 0.5          # a lapsed, b came back; e not in scope
    assert hits["lapsed_rate_unflagged"] == 0.0 and hits["followup_days"] == 92
    assert pd.isna(hits["lapsed_rate_ratio"]) or hits["lapsed_rate_ratio"] == float("inf")
