"""A round evaluated end to end: hand-checked windows, planted effect recovered, no effect not claimed,
design checks firing on broken data, the simulator writing all or nothing, breakdowns and cost."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from tests.evaluation.conftest import DEFINITION, round_customers
from workbench.data.demo import DEMO_AS_OF
from workbench.data.store import connect
from workbench.evaluation import stats as S
from workbench.stats import adjust
from workbench.evaluation.config import EvaluationConfigError, load_settings
from workbench.evaluation.evaluate import evaluate_round
from workbench.evaluation.simulate import (SimulationError, null_effect, planted_difference, simulate_round,
                                             write_synthetic_round)

RD = dt.date(2026, 11, 1)


def _insert(con, table: str, frame: pd.DataFrame, key: str) -> None:
    frame = frame.assign(_key=frame[key])
    con.register("_f", frame)
    con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _f")
    con.unregister("_f")


@pytest.fixture
def hand_round(db):
    """Four customers with purchases placed around their windows by hand."""
    d = pd.Timestamp
    with connect(db) as con:
        _insert(con, "customers", pd.DataFrame({"customer_id": ["T1", "T2", "H1", "H2"], "store": "S"}), "customer_id")
        tx = pd.DataFrame([
            ("x1", "T1", d("2026-10-01"), 200.0, "repair", "necessary"),
            ("x2", "T1", d("2026-11-03"), 80.0, "maintenance", "necessary"),
            ("x3", "T1", d("2026-11-20"), 100.0, "maintenance", "necessary"),
            ("x4", "T1", d("2026-12-20"), 50.0, "detailing", "discretionary"),
            ("x5", "T2", d("2027-01-11"), 300.0, "repair", "necessary"),
            ("x6", "H1", d("2026-11-01"), 90.0, "tyres", "necessary"),
            ("x7", "H1", d("2027-02-15"), 10.0, "car_wash", "discretionary"),
        ], columns=["transaction_id", "customer_id", "date", "amount", "category", "spend_type"])
        _insert(con, "transactions", tx.assign(store="S"), "transaction_id")
        ev = pd.DataFrame([("e1", "T1", d("2026-11-10"), "referral"), ("e2", "T1", d("2026-11-12"), "complaint"),
                           ("e3", "H2", d("2026-12-01"), "event_attended")],
                          columns=["event_id", "customer_id", "date", "kind"])
        _insert(con, "events", ev, "event_id")
    customers = pd.DataFrame({"customer_id": ["T1", "T2", "H1", "H2"],
                              "arm": ["treatment", "treatment", "holdout", "holdout"],
                              "channel": ["phone", "sms", "phone", "phone"],
                              "bundle": ["care_plan", "tyre_pack", "tyre_pack", None], "tier": [1, 1, 2, 2]})
    write_synthetic_round(db, customers, "RH", RD, campaign_id="hand", holdout_share=0.5, definition=DEFINITION)
    with connect(db) as con:
        con.execute("""INSERT INTO contact_attempts (round_id, customer_id, attempt_date, channel, outcome) VALUES
                       ('RH', 'T1', DATE '2026-11-05', 'phone', 'reached'),
                       ('RH', 'T1', DATE '2026-11-20', 'phone', 'booked'),
                       ('RH', 'T2', DATE '2026-11-02', 'sms', 'not_reached'),
                       ('RH', 'H2', DATE '2026-11-03', 'phone', 'reached')""")
    return db


def test_windows_attribution_and_offer_match_by_hand(hand_round):
    ev = evaluate_round(hand_round, "RH", as_of="2027-03-31")
    o = ev.outcomes.set_index(["customer_id", "month"])
    t1 = o.loc[("T1", 1)]
    # intention to treat: both arms start on the round date, whenever the first call came (T1's was on 11-05)
    assert t1["start"] == pd.Timestamp(RD)
    assert (t1["visits"], t1["spend"], t1["spend_necessary"]) == (2, 180.0, 180.0)   # 11-03 and 11-20
    assert t1["offer_match"] and t1["engagement"] == 1 and t1["referrals"] == 1   # the complaint is not engagement
    assert (t1["pre_visits"], t1["pre_spend"]) == (0, 0.0)               # 10-01 is 31 days before: outside
    t1m2 = o.loc[("T1", 2)]
    assert (t1m2["visits"], t1m2["spend"], t1m2["spend_discretionary"]) == (3, 230.0, 50.0)
    assert (t1m2["pre_visits"], t1m2["pre_spend"]) == (1, 200.0)         # equal-length window before the round
    # T2 came back on day 71 after the round, assigned SMS: outside the 60-day SMS window, even in month 3
    assert not o.loc[("T2", 3), "came_back"] and o.loc[("T2", 3), "window_days"] == 60
    # holdout measured from the round date: H1's purchase on the round date counts, in the offered categories
    h1 = o.loc[("H1", 1)]
    assert h1["start"] == pd.Timestamp(RD) and h1["came_back"] and h1["offer_match"]
    assert not o.loc[("H1", 3), "spend"] == 100.0 and o.loc[("H1", 3), "spend"] == 90.0   # 2027-02-15 is day 106
    assert not o.loc[("H2", 1), "offer_match"]                           # no bundle, no match
    # H2 was contacted: contamination fires; H2 keeps the round date as start
    checks = ev.checks.set_index("check")
    assert checks.loc["holdout_contamination", "flag"] and "H2" in checks.loc["holdout_contamination", "detail"]
    assert o.loc[("H2", 1), "start"] == pd.Timestamp(RD)
    # costs: 4 phone/sms attempts at unit costs; T1 redeemed care_plan (400) in month 1
    roi = ev.roi.set_index("month")
    assert roi.loc[1, "contact_cost"] == pytest.approx(6 + 6 + 0.1 + 6)
    assert roi.loc[1, "bundle_cost"] == 400 and roi.loc[1, "bundles_redeemed"] == 1


def test_planted_effect_is_recovered_within_its_interval(simulated_round):
    db, info, customers = simulated_round
    ev = evaluate_round(db, "R-planted", as_of=info["data_end"])
    assert not ev.checks.set_index("check").loc["sample_ratio", "flag"]
    rates = ev.rates[ev.rates["outcome"] == "came_back"].set_index("month")
    out = ev.outcomes
    for m in (1, 2, 3):
        g = out[out["month"] == m]
        planted = planted_difference(g.assign(reason=g["reason"]), np.minimum(m * 30, g["window_days"]))
        r = rates.loc[m]
        assert r["diff_lo"] <= planted <= r["diff_hi"], (m, planted, r["diff_lo"], r["diff_hi"])
        assert r["adj_lo"] <= planted <= r["adj_hi"]
    assert rates.loc[3, "p_val"] < 0.05
    text = " ".join(ev.verdicts.loc[ev.verdicts["topic"] == "came_back", "text"])
    assert "came back more than the holdout in month 3" in text
    # offer match: the treated bought what they were offered more often (planted 0.6 vs 0.25 of visits)
    om = ev.rates[(ev.rates["outcome"] == "offer_match") & (ev.rates["month"] == 3)].iloc[0]
    assert om["diff"] > 0 and om["p_val"] < 0.05
    # before/after: both arms shown, DiD equals the arithmetic difference of changes (the OLS interaction)
    g = out[out["month"] == 3]
    chg = g["came_back"].astype(float) - g["pre_came_back"].astype(float)
    did = ev.did[(ev.did["month"] == 3) & (ev.did["outcome"] == "came_back")].iloc[0]
    assert did["did"] == pytest.approx(chg[g["treat"] == 1].mean() - chg[g["treat"] == 0].mean(), abs=1e-9)
    assert set(ev.paired["arm"]) == {"treatment", "holdout"}
    assert "regression to the mean" in ev.verdicts["text"].iloc[-1]
    # the adjusted headline equals statsmodels' OLS post ~ treat + pre coefficient
    ref = S.ancova(g["treat"], g["pre_came_back"].astype(float), g["came_back"].astype(float)).iloc[0]
    assert rates.loc[3, "adj_estimate"] == pytest.approx(ref["estimate"], abs=1e-12)
    # spend: bootstrap interval reported and the split P(buy) x per buyer reproduces mean spend
    sp = ev.spend_split.set_index("month").loc[3]
    assert sp["p_buy_treat"] * sp["per_buyer_treat"] == pytest.approx(sp["mean_spend_treat"], rel=1e-9)
    cap = ev.amounts[(ev.amounts["month"] == 3) & (ev.amounts["outcome"] == "spend_capped")].iloc[0]
    assert cap["mean_treat"] <= ev.amounts[(ev.amounts["month"] == 3) & (ev.amounts["outcome"] == "spend")].iloc[0]["mean_treat"]


def test_no_planted_effect_is_not_called_significant(store_copy):
    db, truth = store_copy
    write_synthetic_round(db, round_customers(truth, seed=2), "R-null", DEMO_AS_OF, campaign_id="c",
                          holdout_share=0.3, seed=6, definition=DEFINITION)
    info = simulate_round(db, "R-null", seed=8, effect=null_effect(.12))
    ev = evaluate_round(db, "R-null", as_of=info["data_end"])
    cb = ev.rates[ev.rates["outcome"] == "came_back"]
    assert (cb["p_val"] >= 0.05).all() and (cb["adj_p"] >= 0.05).all()
    texts = ev.verdicts.loc[ev.verdicts["topic"] == "came_back", "text"]
    assert not texts.str.contains("more than the holdout|less than the holdout").any()
    assert texts.str.contains("no detectable difference|too small to tell").all()


def test_sample_ratio_mismatch_fires(store_copy):
    db, truth = store_copy
    c = round_customers(truth).assign(arm=lambda f: np.where(np.arange(len(f)) % 2 == 0, "holdout", "treatment"))
    write_synthetic_round(db, c, "R-srm", DEMO_AS_OF, campaign_id="c", holdout_share=0.15, definition=DEFINITION)
    info = simulate_round(db, "R-srm", seed=1)
    ev = evaluate_round(db, "R-srm", as_of=info["data_end"], months=1)
    srm = ev.checks.set_index("check").loc["sample_ratio"]
    assert srm["flag"] and srm["p_val"] < 1e-6
    assert ev.verdicts.iloc[0]["level"] == "warning" and "sample-ratio mismatch" in ev.verdicts.iloc[0]["text"]


def test_contamination_fires_on_contacted_holdout(store_copy):
    db, truth = store_copy
    write_synthetic_round(db, round_customers(truth), "R-cont", DEMO_AS_OF, campaign_id="c", holdout_share=0.2,
                          seed=3, definition=DEFINITION)
    info = simulate_round(db, "R-cont", seed=2)
    with connect(db) as con:
        hold = [r[0] for r in con.execute("SELECT customer_id FROM assignments WHERE round_id = 'R-cont' "
                                          "AND arm = 'holdout' ORDER BY customer_id LIMIT 7").fetchall()]
        for cid in hold:
            con.execute("INSERT INTO contact_attempts (round_id, customer_id, attempt_date, channel, outcome) "
                        "VALUES ('R-cont', ?, DATE '2026-11-04', 'phone', 'reached')", [cid])
    ev = evaluate_round(db, "R-cont", as_of=info["data_end"], months=1)
    c = ev.checks.set_index("check").loc["holdout_contamination"]
    assert c["flag"] and "7 holdout customer(s)" in c["detail"]
    assert ev.verdicts["text"].str.contains("the holdout was contacted").any()


def test_simulation_is_all_or_nothing_and_refuses_a_second_run(store_copy):
    db, truth = store_copy
    write_synthetic_round(db, round_customers(truth), "R-sim", DEMO_AS_OF, campaign_id="c", definition=DEFINITION)

    def counts():
        with connect(db, read_only=True) as con:
            return [con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0]
                    for t in ("transactions", "events", "contact_attempts")]

    before = counts()
    with connect(db) as con:  # make the events insert fail after the transactions insert succeeded
        con.execute("CREATE TABLE events_keep AS SELECT * FROM events")
        con.execute("DROP TABLE events")
        con.execute("""CREATE TABLE events (event_id VARCHAR, customer_id VARCHAR, date DATE, kind VARCHAR,
                       referred_customer_id VARCHAR, detail VARCHAR CHECK (detail <> 'simulated'), store VARCHAR,
                       _key VARCHAR NOT NULL, _import_id INTEGER)""")
        con.execute("INSERT INTO events SELECT * FROM events_keep")
    with pytest.raises(Exception, match="(?i)constraint"):
        simulate_round(db, "R-sim", seed=1)
    assert counts() == before
    with connect(db) as con:
        con.execute("DROP TABLE events")
        con.execute("CREATE TABLE events AS SELECT * FROM events_keep")
    first = simulate_round(db, "R-sim", seed=1)
    assert first["transactions"] > 0 and counts()[0] == before[0] + first["transactions"]
    with pytest.raises(SimulationError, match="simulated already"):
        simulate_round(db, "R-sim", seed=1)
    again = simulate_round(db, "R-sim", seed=1, replace=True)
    assert again["transactions"] == first["transactions"] and counts()[0] == before[0] + first["transactions"]


def test_breakdowns_correct_within_each_breakdown_and_flag_small_cells(simulated_round):
    db, info, _ = simulated_round
    ev = evaluate_round(db, "R-planted", as_of=info["data_end"], months=[3], correction="fdr_bh")
    bd = ev.breakdowns
    assert set(bd["breakdown"]) == {"tier", "stage", "reason", "reason_source", "channel", "script_step", "agent",
                                    "bundle"}
    for (_, _), g in bd.groupby(["breakdown", "month"]):
        assert np.allclose(g["p_adj"], adjust(g["p_val"], "fdr_bh"), equal_nan=True)
    small = bd[(bd["n_treat"] < 30) | (bd["n_hold"] < 30)]
    assert len(small) and small["small_cell"].all()
    assert (bd["correction"] == "fdr_bh").all()
    # cells with few expected returns use Fisher's exact test
    assert (bd.loc[bd["min_expected"] < 5, "test"] == "Fisher exact").all()


def test_settings_errors_name_the_key():
    with pytest.raises(EvaluationConfigError, match="correction"):
        load_settings({"correction": "hs"})
    with pytest.raises(EvaluationConfigError, match=r"attribution_days\.fax"):
        load_settings({"attribution_days": {"fax": 10}})
    with pytest.raises(EvaluationConfigError, match="unknown key"):
        load_settings({"alhpa": 0.1})
    s = load_settings({"attribution_days": {"sms": 30}})
    assert s.window_days("sms") == 30 and s.window_days("phone") == 90 and s.window_days(None) == 90


def test_breakdown_against_the_whole_holdout_when_the_holdout_has_no_agent(store_copy):
    """The campaign stage gives holdout customers no agent or channel (they are never called)."""
    db, truth = store_copy
    c = round_customers(truth, seed=4)
    arm = np.where(np.random.default_rng(0).random(len(c)) < .3, "holdout", "treatment")
    c = c.assign(arm=arm, agent=np.where(arm == "holdout", None, c["agent"]))
    write_synthetic_round(db, c, "R-agent", DEMO_AS_OF, campaign_id="c", holdout_share=0.3, definition=DEFINITION)
    info = simulate_round(db, "R-agent", seed=3)
    ev = evaluate_round(db, "R-agent", as_of=info["data_end"], months=1)
    ag = ev.breakdowns[ev.breakdowns["breakdown"] == "agent"]
    assert set(ag["cell"]) == {"王芳", "李强", "张敏", "陈静"}
    assert (ag["n_hold"] == int((arm == "holdout").sum())).all()
    assert ag["holdout_basis"].str.startswith("whole holdout").all()
    tier = ev.breakdowns[ev.breakdowns["breakdown"] == "tier"]
    assert (tier["holdout_basis"] == "same cell").all()


def test_as_of_bounds_what_is_observed(hand_round):
    ev = evaluate_round(hand_round, "RH", as_of="2026-12-10")
    o = ev.outcomes.set_index(["customer_id", "month"])
    assert o.loc[("T1", 2), "spend"] == 180.0                # the 2026-12-20 purchase is after the as-of date
    assert o.loc[("T1", 1), "observed"] and not o.loc[("T1", 2), "observed"]
    assert ev.checks.set_index("check").loc["window_complete_month_2", "flag"]
    # a month whose windows have not all ended is not a look: shown, never tested
    rates = ev.rates.set_index(["month", "outcome"])
    assert rates.loc[(1, "came_back"), "look"] == "interim" and rates.loc[(2, "came_back"), "look"] == "open"
    assert not rates.loc[(2, "came_back"), "significant"] and np.isnan(rates.loc[(2, "came_back"), "level"])
    assert "month 2 is still open" in " ".join(ev.verdicts["text"])
    before = evaluate_round(hand_round, "RH", as_of="2026-10-31")  # a scoring date before the round
    assert before.data.data_end == dt.date(2027, 2, 15)
    assert "not after the round date" in before.checks.set_index("check").loc["as_of", "detail"]
