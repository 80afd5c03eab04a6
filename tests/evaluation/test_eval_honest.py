"""The round evaluation measures both arms alike, built through the campaign stage itself (no hand-made
rounds): holdouts carry their would-be channel, both arms start on the round date, a null campaign is not
called harmful, repeated monthly looks spend alpha, later rounds compare only the customers they drew, the
campaign effect adds the rounds up, and a return is said to be on revenue unless a margin is set."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy import stats as st

from workbench.campaigns.playbook import PLAYBOOKS_DIR
from workbench.campaigns.rounds import close_round, create_round
from workbench.data.demo import DEMO_AS_OF
from workbench.data.store import connect
from workbench.evaluation import stats as S
from workbench.stats import adjust
from workbench.evaluation.calibration import calibration_specs, run_calibration, summarise_calibration
from workbench.evaluation.config import load_settings
from workbench.evaluation.evaluate import evaluate_round
from workbench.evaluation.simulate import null_effect, simulate_round
from workbench.evaluation.trend import campaign_effect, campaign_verdict

ROUND = DEMO_AS_OF + dt.timedelta(days=1)
FAST = {"breakdowns": [], "bootstrap": {"resamples": 200, "seed": 1}}


def _playbook(folder: Path, channel: str, **extra) -> Path:
    doc = yaml.safe_load((PLAYBOOKS_DIR / "dealership_winback.yaml").read_text(encoding="utf-8"))
    doc["channels"] = [{"use": [channel]}]
    doc["budget"] = {"round_cap": 10 ** 9}
    doc.update(extra)
    path = folder / f"pb_{channel}.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return path


@pytest.fixture
def scored(scored_store, tmp_path) -> Path:
    target = tmp_path / "workbench.duckdb"
    shutil.copy(scored_store, target)
    return target


def test_both_arms_measured_alike_through_the_campaign_stage(scored, tmp_path):
    """The issue's reproducer: an SMS round with no effect. The holdout carries the SMS channel, both arms
    start on the round date with the same window, and no month calls the null round harmful."""
    plan = create_round(scored, _playbook(tmp_path, "sms"), ROUND, holdout_share=0.3, seed=7)
    rid = plan.round["round_id"]
    info = simulate_round(scored, rid, seed=3, effect=null_effect())
    ev = evaluate_round(scored, rid, as_of=info["data_end"],
                        settings=load_settings({**FAST, "breakdowns": ["channel", "agent"]}))
    c = ev.data.customers
    hold, treat = c[c["treat"] == 0], c[c["treat"] == 1]
    assert hold["channel"].notna().all() and hold["agent"].notna().all()
    # the same channel mix and hence the same windows in both arms (randomised within strata)
    assert set(hold["channel"]) == set(treat["channel"]) or set(hold["channel"]) <= set(treat["channel"])
    assert (c["start"] == pd.Timestamp(ROUND)).all()
    for ch, g in c.groupby("channel"):
        assert g["window_days"].nunique() == 1
    assert ev.checks.set_index("check").loc["attribution_window", "detail"].startswith("both arms measured from")
    cb = ev.rates[ev.rates["outcome"] == "came_back"]
    assert not cb["significant"].any() and not cb["adj_significant"].any()
    # the channel and agent breakdowns compare each cell's treated with the same cell's holdout
    assert set(ev.breakdowns["breakdown"]) == {"channel", "agent"}
    assert (ev.breakdowns["holdout_basis"] == "same cell").all()


def test_look_levels_match_the_published_boundaries():
    """Lan-DeMets O'Brien-Fleming spending, three equally spaced looks, two-sided alpha 0.05: the published
    boundaries are 3.7103, 2.5114, 1.9930 (Jennison & Turnbull; rpact/gsDesign)."""
    t = np.array([1 / 3, 2 / 3, 1])
    brownian = np.sqrt(np.minimum.outer(t, t) / np.maximum.outer(t, t))
    z = st.norm.isf(S.look_levels(t, brownian, 0.05) / 2)
    assert z == pytest.approx([3.7103, 2.5114, 1.9930], abs=2e-3)
    # independent check by simulation: the chance that any look crosses is alpha
    rng = np.random.default_rng(5)
    draws = rng.multivariate_normal(np.zeros(3), brownian, size=400_000)
    crossed = (np.abs(draws) >= z).any(axis=1).mean()
    assert crossed == pytest.approx(0.05, abs=0.0015)
    # a look that repeats another (an SMS window capped at 60 days makes month 3 equal month 2) costs nothing extra
    same = brownian.copy()
    same[1, 2] = same[2, 1] = 1.0
    same[0, 2] = same[2, 0] = same[0, 1]
    levels = S.look_levels(t, same, 0.05)
    assert levels[2] >= 0.0499
    assert S.look_levels(t, brownian, 0.05, "none") == pytest.approx([0.05] * 3)
    assert sum(S.look_levels(t, brownian, 0.05, "pocock")) < 0.075


def test_look_correlation_is_the_sandwich_of_influence_values():
    rng = np.random.default_rng(2)
    treat = rng.random(4000) < 0.3
    y1 = (rng.random(4000) < 0.05).astype(float)
    y2 = np.maximum(y1, rng.random(4000) < 0.05)
    f = S.mean_difference_influence(np.c_[y1, y2], treat)
    corr = S.look_correlation(f)
    # the variance of a difference of means from the influence values is the unpooled two-sample variance
    var = (f ** 2).sum(axis=0)[0]
    ref = y1[treat].var() / treat.sum() + y1[~treat].var() / (~treat).sum()
    assert var == pytest.approx(ref, rel=1e-12)
    # and the correlation of two cumulative looks is that of the replicated estimates
    reps = []
    for s in range(400):
        r = np.random.default_rng([s, 9])
        t = r.random(4000) < 0.3
        a = (r.random(4000) < 0.05).astype(float)
        b = np.maximum(a, r.random(4000) < 0.05)
        reps.append((a[t].mean() - a[~t].mean(), b[t].mean() - b[~t].mean()))
    assert corr[0, 1] == pytest.approx(np.corrcoef(np.array(reps).T)[0, 1], abs=0.08)


def test_open_months_are_not_tested_and_looks_are_final_once(scored, tmp_path):
    plan = create_round(scored, _playbook(tmp_path, "phone"), ROUND, holdout_share=0.3, seed=7)
    rid = plan.round["round_id"]
    simulate_round(scored, rid, seed=3)
    early = evaluate_round(scored, rid, as_of=ROUND + dt.timedelta(days=45), settings=load_settings(FAST))
    late = evaluate_round(scored, rid, as_of=ROUND + dt.timedelta(days=120), settings=load_settings(FAST))
    e = early.rates[early.rates["outcome"] == "came_back"].set_index("month")
    l_ = late.rates[late.rates["outcome"] == "came_back"].set_index("month")
    assert list(e["look"]) == ["interim", "open", "open"] and list(l_["look"]) == ["interim", "interim", "final"]
    assert not e.loc[[2, 3], "significant"].any()
    # month 1's look is the same whenever it is read: its windows had ended
    assert e.loc[1, "p_report"] == l_.loc[1, "p_report"] and e.loc[1, "level"] == pytest.approx(l_.loc[1, "level"])
    assert l_.loc[3, "primary"] and not l_.loc[1, "primary"]
    design = " ".join(late.verdicts.loc[late.verdicts["topic"] == "design", "text"])
    assert "primary result is the return rate at month 3" in design and "monitoring looks" in design


@pytest.mark.slow
def test_reduced_calibration_null_rounds_stay_at_alpha_and_intervals_cover(scored_store, tmp_path):
    """A seeded few dozen rounds of the calibration benchmark (benchmarks/bench_calibration.py runs 400)."""
    specs = calibration_specs(24, 8, seed=3)
    rows = run_calibration({"default": scored_store}, specs, settings=load_settings(FAST), workdir=tmp_path)
    summary = summarise_calibration(rows).set_index("verdict")
    assert summary["ok"].all(), summary
    assert summary.loc["primary", "false_positives"] <= 4
    assert (summary["coverage"].dropna() >= 0.75).all(), summary["coverage"]
    assert summary.loc["adjusted_headline", "power"] > 0


def test_later_rounds_compare_only_the_customers_they_drew(scored, tmp_path):
    """Round 2 keeps round 1's holdout held out; its evaluation covers its own new entrants; the campaign
    effect adds the rounds' cohorts."""
    pb = _playbook(tmp_path, "phone", contact={"min_gap_days": 20, "max_contacts_per_month": 1, "max_steps": 3,
                                               "repeat_not_reached": 1,
                                               "channel_cost": {"phone": 6, "sms": .1, "wechat": .5, "email": .05,
                                                                "letter": 12, "visit": 150}})
    first = create_round(scored, pb, ROUND, holdout_share=0.3, seed=7, filters={"stages": ["lost"]})
    r1 = first.round["round_id"]
    simulate_round(scored, r1, seed=1)
    close_round(scored, r1)
    second_date = ROUND + dt.timedelta(days=31)
    second = create_round(scored, pb, second_date, holdout_share=0.3, seed=8)
    r2 = second.round["round_id"]
    a1 = first.assignments.set_index("customer_id")
    a2 = second.assignments.set_index("customer_id")
    held = a1.index[a1["arm"] == "holdout"]
    again = a2.loc[a2.index.intersection(held)]
    assert len(again) and (again["arm"].isin(["holdout", "excluded"])).all()   # never contacted later
    assert (again.loc[again["arm"] == "holdout", "cohort_round"] == r1).all()
    new = a2[(a2["arm"] != "excluded") & ~a2.index.isin(a1.index)]
    assert len(new) and (new["cohort_round"] == r2).all()
    info = simulate_round(scored, r2, seed=2)
    ev2 = evaluate_round(scored, r2, as_of=info["data_end"], settings=load_settings(FAST))
    drawn = set(ev2.data.customers["customer_id"])
    assert drawn == set(new.index)
    cont = ev2.checks.set_index("check").loc["continuing_customers"]
    assert cont["value"] == int((a2["arm"] != "excluded").sum()) - len(new)
    effect = campaign_effect(scored, first.round["campaign_id"], as_of=info["data_end"], settings=load_settings(FAST))
    assert list(effect["round_id"]) == [r1, r2, "campaign"]
    per, total = effect.iloc[:2], effect.iloc[2]
    assert total["incremental_returns"] == pytest.approx(per["incremental_returns"].sum())
    assert total["treated"] == per["treated"].sum()
    assert total["returns_se"] == pytest.approx(np.sqrt((per["returns_se"] ** 2).sum()))
    en, zh = campaign_verdict(effect)
    assert "round(s)" in en and "95% CI" in en and "轮" in zh


def test_holdout_released_after_the_configured_rounds_is_drawn_again(scored, tmp_path):
    pb = _playbook(tmp_path, "phone", holdout={"share": 0.3, "seed": 5, "release_after_rounds": 1})
    first = create_round(scored, pb, ROUND, filters={"stages": ["lost"]})
    close_round(scored, first.round["round_id"])
    second = create_round(scored, pb, ROUND + dt.timedelta(days=31), filters={"stages": ["lost"]})
    a1 = first.assignments.set_index("customer_id")
    a2 = second.assignments.set_index("customer_id")
    held = a2.loc[a2.index.intersection(a1.index[a1["arm"] == "holdout"])]
    live = held[held["arm"] != "excluded"]
    assert len(live) and (live["cohort_round"] == second.round["round_id"]).all()   # a fresh draw
    assert (live["arm"] == "treatment").any()


def test_return_is_on_revenue_unless_a_margin_is_set(scored, tmp_path):
    plan = create_round(scored, _playbook(tmp_path, "phone"), ROUND, holdout_share=0.3, seed=7)
    rid = plan.round["round_id"]
    info = simulate_round(scored, rid, seed=3)
    ev = evaluate_round(scored, rid, as_of=info["data_end"], settings=load_settings(FAST))
    roi = ev.verdicts.loc[ev.verdicts["topic"] == "roi", "text"]
    assert len(roi) and roi.str.contains("on revenue, not on profit").all()
    assert (ev.roi["basis"] == "revenue").all()
    ev = evaluate_round(scored, rid, as_of=info["data_end"], settings=load_settings({**FAST, "margin_rate": 0.4}))
    roi = ev.verdicts.loc[ev.verdicts["topic"] == "roi", "text"]
    assert roi.str.contains("on profit at a 40% margin").all() and (ev.roi["basis"] == "profit").all()


def test_several_treatment_arms_are_each_compared_with_the_holdout_and_corrected(scored):
    from workbench.evaluation.simulate import write_synthetic_round

    with connect(scored, read_only=True) as con:
        ids = [r[0] for r in con.execute("SELECT customer_id FROM customers ORDER BY customer_id").fetchall()]
    rng = np.random.default_rng(4)
    arm = rng.choice(["treatment", "holdout"], len(ids), p=[0.7, 0.3])
    frame = pd.DataFrame({"customer_id": ids, "arm": arm,
                          "arm_name": np.where(arm == "treatment", rng.choice(["sms_a", "sms_b"], len(ids)), None),
                          "channel": "sms", "cohort_round": "X1"})
    write_synthetic_round(scored, frame, "X1", ROUND, campaign_id="ext", holdout_share=0.3)
    info = simulate_round(scored, "X1", seed=5)
    ev = evaluate_round(scored, "X1", as_of=info["data_end"], settings=load_settings(FAST))
    cb = ev.rates[ev.rates["outcome"] == "came_back"]
    assert set(cb["treatment_arm"]) == {"sms_a", "sms_b"} and len(cb) == 6
    for m, g in cb.groupby("month"):
        ref = adjust(g["p_report"], "holm")
        assert g["p_report_arms"].to_numpy() == pytest.approx(ref)
        assert (g["n_hold"] == g["n_hold"].iloc[0]).all()      # one holdout for every arm
    assert ev.verdicts["text"].str.contains("arm sms_a").any() and ev.verdicts["text"].str.contains("arm sms_b").any()
