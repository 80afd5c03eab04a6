"""Assignment rules on the demo data: target, exclusions, holdout balance, gaps, caps, bundles, budget, sequence."""

from __future__ import annotations

import dataclasses
import re
import datetime as dt

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from workbench.campaigns.assign import plan_round, sequence_state
from workbench.campaigns.balance import balance_table, smd
from workbench.campaigns.bundles import bundle_scores, spend_matrix
from workbench.campaigns.playbook import load_playbook
from workbench.campaigns.rounds import close_round, create_round, load_inputs, read_round
from workbench.data.store import connect

ROUND = dt.date(2026, 11, 2)


@pytest.fixture(scope="module")
def pb():
    return load_playbook("dealership_winback")


@pytest.fixture(scope="module")
def inputs(scored_store, pb):
    return load_inputs(scored_store, pb, ROUND)


def test_target_arms_and_holdout_never_contacted(inputs, pb):
    plan = plan_round(inputs, pb, ROUND)
    a = plan.assignments
    assert set(a["stage"]) <= set(pb.target_stages)
    scored = inputs.scores[inputs.scores["stage"].isin(pb.target_stages)]
    assert len(a) == len(scored)  # every targeted customer has a row: treatment, holdout or excluded
    hold = a[a["arm"] == "holdout"]
    treat = a[a["arm"] == "treatment"]
    assert len(hold) and len(treat)
    # the holdout carries the channel and agent it would have had (so the evaluation measures both arms alike),
    # but no contact time or cost: it is never contacted
    assert hold["channel"].notna().all() and hold["agent"].notna().all()
    assert hold["time_window"].isna().all() and hold["contact_cost"].isna().all()
    assert (hold["cohort_round"] == plan.round["round_id"]).all() and (treat["cohort_round"] == plan.round["round_id"]).all()
    assert treat["channel"].notna().all() and treat["agent"].notna().all() and treat["script_step"].eq(1).all()
    assert a.loc[a["arm"] == "excluded", "exclusion"].notna().all()
    assert a.loc[a["arm"] != "excluded", "exclusion"].isna().all()
    # holdout share within tier x stage strata: at most one away from share x stratum size
    live = a[a["arm"] != "excluded"]
    per = live.groupby(["tier", "stage"])["arm"].agg(n="size", h=lambda s: (s == "holdout").sum())
    assert (abs(per["h"] - per["n"] * pb.holdout_share) <= 1).all()
    assert abs(len(hold) / len(live) - pb.holdout_share) < 0.03


def test_holdout_is_reproducible_from_the_stored_seed_and_balanced(inputs, pb):
    plan = plan_round(inputs, pb, ROUND)
    again = plan_round(inputs, pb, ROUND, seed=plan.round["seed"])
    assert again.round["holdout_draw"] == 1
    pd.testing.assert_series_equal(plan.assignments["arm"], again.assignments["arm"])
    other = plan_round(inputs, pb, ROUND, seed=plan.round["seed"] + 1000)
    assert not other.assignments["arm"].equals(plan.assignments["arm"])
    # balance on pre-period spend and visits: |SMD| < 0.1 and Welch's t-test not significant
    merged = plan.assignments.merge(inputs.scores[["customer_id", "spend", "visits", "spend_365", "visits_365"]],
                                    on="customer_id")
    for cov in ("spend", "visits", "spend_365", "visits_365"):
        t = merged.loc[merged["arm"] == "treatment", cov].astype(float).to_numpy()
        h = merged.loc[merged["arm"] == "holdout", cov].astype(float).to_numpy()
        pooled = np.sqrt((t.var(ddof=1) + h.var(ddof=1)) / 2)
        d = 0.0 if pooled == 0 else (t.mean() - h.mean()) / pooled
        assert abs(d) < 0.1, cov
        assert d == pytest.approx(smd(t, h))
        if pooled > 0:
            p = stats.ttest_ind(t, h, equal_var=False).pvalue
            assert p > 0.05, cov
            row = plan.balance.set_index("covariate").loc[cov]
            assert row["p_val"] == pytest.approx(p)


def test_rerandomisation_redraws_until_balanced(inputs, pb):
    strict = dataclasses.replace(pb, holdout_max_smd=0.04, holdout_max_redraws=1000)
    plan = plan_round(inputs, strict, ROUND)
    bal = balance_table(plan.assignments.merge(inputs.scores[["customer_id", "spend", "visits", "spend_365",
                                                              "visits_365"]], on="customer_id"))
    assert plan.round["holdout_draw"] > 1
    assert plan.round["seed"] == pb.holdout_seed + plan.round["holdout_draw"] - 1
    assert plan.round["holdout_draw"] < 1000 and bal["smd"].abs().max() < 0.04


def test_exclusions_do_not_contact_floor_and_open_round(inputs, pb):
    dnc_table = inputs.scores.loc[inputs.scores["stage"] == "lost", "customer_id"].iloc[:3]
    busy = inputs.scores.loc[inputs.scores["stage"] == "sleeping", "customer_id"].iloc[:4]
    inp = dataclasses.replace(inputs, do_not_contact=frozenset(dnc_table), open_round_customers=frozenset(busy))
    floor = float(inputs.scores.loc[inputs.scores["stage"].isin(pb.target_stages), "value_if_won_back"].median())
    plan = plan_round(inp, dataclasses.replace(pb, value_floor=floor), ROUND)
    a = plan.assignments.set_index("customer_id")
    assert (a.loc[list(dnc_table), "exclusion"] == "do_not_contact").all()
    assert (a.loc[list(busy), "exclusion"] == "in_open_round").all()
    crm_dnc = inputs.customers.loc[inputs.customers["do_not_contact"].fillna(False).astype(bool), "customer_id"]
    crm_dnc = [c for c in crm_dnc if c in a.index]
    assert crm_dnc and (a.loc[crm_dnc, "exclusion"] == "do_not_contact").all()
    low = a[(a["value"] < floor) & a["exclusion"].isna()]
    assert low.empty
    assert (a.loc[a["exclusion"] == "below_value_floor", "value"] < floor).all()
    assert (a.loc[a["arm"] != "excluded", "value"] >= floor).all()


def test_quiet_stage_policy_stops_contact(inputs, pb):
    policy = {s: dict(p) for s, p in pb.stage_policy.items()}
    policy["lost"]["contact"] = "none"
    quiet = dataclasses.replace(pb, stage_policy=policy)
    a = plan_round(inputs, quiet, ROUND).assignments
    lost = a[a["stage"] == "lost"]
    assert len(lost) and (lost["exclusion"].isin(["quiet_stage", "do_not_contact"])).all()
    assert (a.loc[a["stage"] != "lost", "exclusion"] != "quiet_stage").all()


def _history(rows):
    return pd.DataFrame(rows, columns=["customer_id", "round_id", "round_date", "arm", "script_step", "outcome",
                                       "attempt_date"])


def test_minimum_gap_and_monthly_cap(inputs, pb):
    silent = inputs.scores.loc[inputs.scores["stage"] == "silent", "customer_id"].tolist()[:3]
    gap = pb.gap_days("silent")
    hist = _history([
        (silent[0], "r0", ROUND - dt.timedelta(days=gap - 1), "treatment", 1, "reached", None),    # too soon
        (silent[1], "r0", ROUND - dt.timedelta(days=gap + 1), "treatment", 1, "interested", None),  # fine
        (silent[2], "r0", ROUND - dt.timedelta(days=gap + 5), "treatment", 1, "reached",
         ROUND - dt.timedelta(days=gap - 3)),                                                       # attempt date counts
    ])
    plan = plan_round(dataclasses.replace(inputs, history=hist), pb, ROUND)
    a = plan.assignments.set_index("customer_id")
    assert a.at[silent[0], "exclusion"] == "too_soon"
    assert a.at[silent[2], "exclusion"] == "too_soon"
    assert a.at[silent[1], "arm"] == "treatment" and a.at[silent[1], "script_step"] == 2
    # cap: dealership active allows 2 a month (gap 15 days); a playbook cap of 2 and two contacts in 30 days
    loose = dataclasses.replace(pb, min_gap_days=1, max_contacts_per_month=2, target_stages=("active",))
    active = inputs.scores.loc[inputs.scores["stage"] == "active", "customer_id"].iloc[0]
    assert loose.gap_days("active") == 15 and loose.monthly_cap("active") == 2
    hist = _history([(active, "r1", ROUND - dt.timedelta(days=28), "treatment", 1, "not_reached", None),
                     (active, "r2", ROUND - dt.timedelta(days=16), "treatment", 1, "reached", None)])
    a = plan_round(dataclasses.replace(inputs, history=hist), loose, ROUND).assignments.set_index("customer_id")
    assert a.at[active, "exclusion"] == "monthly_cap"
    hist.loc[0, "round_date"] = ROUND - dt.timedelta(days=31)
    a = plan_round(dataclasses.replace(inputs, history=hist), loose, ROUND).assignments.set_index("customer_id")
    assert a.at[active, "exclusion"] is None or pd.isna(a.at[active, "exclusion"])


def test_sequence_steps_third_contact_and_exit_on_conversion(inputs, pb):
    lost = inputs.scores[(inputs.scores["stage"] == "lost") & inputs.scores["tier"].isin([4, 5])]
    ids = [c for c in lost["customer_id"] if c not in set(inputs.customers.loc[
        inputs.customers["do_not_contact"].fillna(False).astype(bool), "customer_id"])][:7]
    known = pd.DataFrame({"customer_id": ids, "reason": "service_attitude", "reason_family": "service_recovery",
                          "source": "test"})
    old = ROUND - dt.timedelta(days=40)
    hist = _history([
        (ids[0], "r", old, "treatment", 1, "reached", None),        # -> step 2
        (ids[1], "r", old, "treatment", 1, "not_reached", None),    # -> step 1 again
        (ids[2], "r", old, "treatment", 1, "refused", None),        # -> leaves
        (ids[3], "r", old, "treatment", 2, "interested", None),     # -> step 3 only for tiers 1-3: tier 4/5 stop
        (ids[4], "r", old, "treatment", 1, "reached", None),        # bought afterwards -> converted
        (ids[5], "r", old, "holdout", 1, None, None),               # stays in the holdout, step 2
        (ids[6], "r", old, "treatment", 1, "wrong_number", None),
    ])
    purchases = pd.DataFrame({"customer_id": [ids[4]], "last_purchase": [pd.Timestamp(old + dt.timedelta(days=3))]})
    inp = dataclasses.replace(inputs, history=hist, known_reasons=known,
                              last_purchase=pd.concat([inputs.last_purchase[~inputs.last_purchase["customer_id"].isin(
                                  [ids[4]])], purchases]))
    a = plan_round(inp, pb, ROUND).assignments.set_index("customer_id")
    assert (a.loc[ids, "reason_source"] == "known").all()
    assert a.at[ids[0], "script_step"] == 2 and a.at[ids[0], "arm"] == "treatment"
    assert a.at[ids[1], "script_step"] == 1 and a.at[ids[1], "arm"] == "treatment"
    assert a.at[ids[2], "exclusion"] == "refused"
    assert a.at[ids[3], "exclusion"] == "no_third_contact"
    assert a.at[ids[4], "exclusion"] == "converted"
    assert a.at[ids[5], "arm"] == "holdout" and a.at[ids[5], "script_step"] == 2
    assert a.at[ids[6], "exclusion"] == "wrong_number"
    # the same customer at tier 1-3 after "interested" does get the third contact
    hist.loc[3, "outcome"] = "interested"
    generous = dataclasses.replace(pb, scripts={**pb.scripts, "service_recovery": dataclasses.replace(
        pb.scripts["service_recovery"], third_tiers=(1, 2, 3, 4, 5))})
    a = plan_round(inp, generous, ROUND).assignments.set_index("customer_id")
    assert a.at[ids[3], "script_step"] == 3 and a.at[ids[3], "arm"] == "treatment"
    hist.loc[3, "outcome"] = "reached"  # reached but not moved: no third call
    a = plan_round(inp, generous, ROUND).assignments.set_index("customer_id")
    assert a.at[ids[3], "exclusion"] == "no_third_contact"


def test_sequence_state_counts_contacts(inputs):
    hist = _history([("c1", "r1", ROUND - dt.timedelta(days=70), "treatment", 1, "not_reached", None),
                     ("c1", "r2", ROUND - dt.timedelta(days=20), "treatment", 1, "reached", ROUND - dt.timedelta(days=10))])
    st = sequence_state(hist, ROUND).set_index("customer_id")
    assert st.at["c1", "last_step"] == 1 and st.at["c1", "times_at_step"] == 2
    assert st.at["c1", "contacts_30d"] == 1
    assert st.at["c1", "last_contact"] == pd.Timestamp(ROUND - dt.timedelta(days=10))


def test_bundles_fit_past_categories_and_eligibility(inputs, pb):
    plan = plan_round(inputs, pb, ROUND)
    a = plan.assignments
    live = a[a["arm"] != "excluded"].reset_index(drop=True)
    m = spend_matrix(inputs.spend, live["customer_id"], pb.categories)
    cat = {c: j for j, c in enumerate(pb.categories)}
    offered = live[live["bundle"].notna()]
    assert len(offered) > 20
    for i, r in offered.iterrows():
        b = pb.bundles[r["bundle"]]
        assert r["stage"] in b.stages
        assert b.tiers is None or r["tier"] in b.tiers
        assert m[i, [cat[c] for c in b.requires_any]].sum() > 0          # bought one of its categories before
        if b.price_sensitive == "only":
            assert r["reason"] in pb.price_sensitive_reasons
        assert pb.stage_allows_offers(r["stage"])
        assert r["bundle_categories"] == " ".join(b.categories)
        assert r["valid_until"] == pd.Timestamp(ROUND + dt.timedelta(days=b.valid_days))
    # the pick is the best-scoring eligible bundle; dormant customers get their favourite category
    scores = bundle_scores(live, inputs.spend, pb)
    ids = list(pb.bundles)
    for i, r in offered.iterrows():
        assert ids[int(np.argmax(scores[i]))] == r["bundle"] or pb.bundles[r["bundle"]].max_per_round
        if r["stage"] in ("sleeping", "lost"):
            fav = pb.categories[int(np.argmax(m[i]))]
            could = [b for k, b in enumerate(ids) if np.isfinite(scores[i, k]) and fav in pb.bundles[b].categories]
            if could:
                assert fav in pb.bundles[r["bundle"]].categories
    # no bundle where the step offers none (step 1 of service_recovery / relationship)
    first_no = live[(live["script_step"] == 1) & live["reason_family"].isin(["service_recovery", "relationship"])]
    assert first_no["bundle"].isna().all()


def test_bundle_caps_and_budget(inputs, pb):
    capped = dataclasses.replace(pb, bundles={**pb.bundles, "service_comeback": dataclasses.replace(
        pb.bundles["service_comeback"], max_per_round=5)})
    a = plan_round(inputs, capped, ROUND).assignments
    assert (a.loc[a["arm"] == "treatment", "bundle"] == "service_comeback").sum() == 5
    full = plan_round(inputs, pb, ROUND)
    budget = full.round["planned_cost"] / 2
    half = plan_round(inputs, pb, ROUND, budget=budget)
    a = half.assignments
    t = a[a["arm"] == "treatment"]
    assert half.round["planned_cost"] <= budget
    assert (t["contact_cost"].sum() + t["bundle_cost"].fillna(0).sum()) == pytest.approx(half.round["planned_cost"])
    over = a[a["exclusion"] == "over_budget"]
    assert len(over) and over["priority"].min() > t["priority"].max()  # funded in priority order
    assert (a.loc[a["arm"] == "holdout", "priority"] <= t["priority"].max()).all()
    assert half.round["budget"] == budget
    assert plan_round(inputs, pb, ROUND, budget=10 ** 9).round["budget"] == pb.round_cap  # the playbook cap wins


def test_reasons_known_inferred_and_default(inputs, pb):
    plan = plan_round(inputs, pb, ROUND)
    assert set(plan.assignments["reason_source"]) == {"default"}  # no survey answers in the store
    for stage, grp in plan.assignments.groupby("stage"):
        assert (grp["reason"] == pb.default_reason[stage]).all()
    lost = inputs.scores.loc[inputs.scores["stage"] == "lost", "customer_id"].tolist()
    known = pd.DataFrame({"customer_id": lost[:10], "reason": ["price"] * 6 + ["quality"] * 4,
                          "reason_family": None, "source": "survey"})
    a = plan_round(dataclasses.replace(inputs, known_reasons=known), pb, ROUND).assignments.set_index("customer_id")
    assert (a.loc[lost[:6], "reason"] == "price").all() and (a.loc[lost[6:10], "reason"] == "quality").all()
    assert (a.loc[lost[:10], "reason_source"] == "known").all()
    rest = a[a["reason_source"] != "known"]
    # with survey answers, nobody falls back to the stage default: segment, then stage, then everyone
    assert len(rest) and (rest["reason_source"] == "inferred").all()
    assert set(rest["reason"]) <= {"price", "quality"}
    lost_rest = rest[rest["stage"] == "lost"]
    # segments with 3+ answers (30-39, 40-49) have price as their mode; 50-59 (2 answers) takes the stage mode, price
    assert (lost_rest["reason"] == "price").all()
    # fewer answers than min_known anywhere: the stage default again
    few = dataclasses.replace(inputs, known_reasons=known.iloc[:2])
    a = plan_round(few, pb, ROUND).assignments
    assert set(a.loc[a["reason_source"] != "known", "reason_source"]) == {"default"}


def test_store_round_trip_and_later_rounds(store, pb):
    plan = create_round(store, pb, ROUND)
    rid = plan.round["round_id"]
    back = read_round(store, rid)
    assert len(back) == len(plan.assignments)
    assert set(back["arm"]) == {"treatment", "holdout", "excluded"}
    assert back["seed"].iloc[0] == plan.round["seed"]
    # still open: the same customers cannot be in a new round of another campaign
    other = create_round(store, pb, ROUND + dt.timedelta(days=35), campaign_id="second_campaign")
    live = other.assignments[other.assignments["customer_id"].isin(back.loc[back["arm"] != "excluded", "customer_id"])]
    assert (live["exclusion"] == "in_open_round").all()
    close_round(store, rid)
    nxt = create_round(store, pb, ROUND + dt.timedelta(days=35))
    n = nxt.assignments.merge(back[["customer_id", "arm", "script_step"]], on="customer_id", suffixes=("", "_1"))
    # nobody reached in round 1 (no results imported): treated customers repeat step 1, holdout stays holdout
    assert (n.loc[n["arm_1"] == "holdout", "arm"].isin(["holdout", "excluded"])).all()
    assert (n.loc[(n["arm_1"] == "treatment") & (n["arm"] == "treatment"), "script_step"] == 1).all()
    with connect(store, read_only=True) as con:
        rounds = con.sql("SELECT round_id, status FROM rounds ORDER BY round_date, round_id").fetchall()
        mapping = con.sql("SELECT count(*) FROM campaign_bundles WHERE campaign_id = 'dealership_winback'").fetchall()
    assert (rid, "closed") in rounds
    assert mapping[0][0] == sum(len(b.categories) for b in pb.bundles.values())


def test_a_round_that_targets_nobody_is_empty_not_a_crash(store, tmp_path):
    """A filter (or a playbook query) matching nobody gives an empty round and a workbook without formulas
    over reversed ranges, not a numpy TypeError from the bundle scores."""
    from workbench.campaigns.workbook import write_round_workbook

    empty = bundle_scores(pd.DataFrame({"customer_id": [], "tier": [], "stage": [], "reason": []}),
                          pd.DataFrame({"customer_id": [], "category": [], "amount": []}), load_playbook("phone_young_winback"))
    assert empty.shape == (0, len(load_playbook("phone_young_winback").bundles))
    plan = create_round(store, "dealership_winback", ROUND, filters={"reasons": ["no_such_reason"]})
    assert (plan.assignments["arm"] == "treatment").sum() == 0
    book = write_round_workbook(store, plan.round["round_id"], tmp_path / "empty.xlsx")
    import openpyxl
    formulas = [c.value for ws in openpyxl.load_workbook(book).worksheets for row in ws.iter_rows() for c in row
                if c.data_type == "f"]
    assert not any(re.search(r"([A-Z]+)(\d+):\1(\d+)", f) and int(re.search(r"([A-Z]+)(\d+):\1(\d+)", f).group(2))
                   > int(re.search(r"([A-Z]+)(\d+):\1(\d+)", f).group(3)) for f in formulas), formulas
