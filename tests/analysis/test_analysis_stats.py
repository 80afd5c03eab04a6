"""Statistics against independent computations (scipy, statsmodels, closed forms) and hand-checked values."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import confint_proportions_2indep, proportion_confint
from statsmodels.stats.weightstats import DescrStatsW

from workbench.analysis.compare import focus_comparison
from workbench.analysis.crosstab import fisher_p, independence_test, key_drivers
from workbench.stats import adjust
from workbench.analysis.rates import aapor_rates, dispositions
from workbench.analysis.ratings import mean_ci, reliability, satisfaction, weighted_mean_ci
from workbench.analysis.reasons import share_table
from workbench.analysis.respondents import kish_n, nonresponse_weights
from workbench.analysis.textcode import DictionaryError, code_texts, load_dictionary
from workbench.surveys.template import load_template

TOL = 1e-9


def test_aapor_rates_hand_checked():
    # 6 completes, 2 refusals, 3 not reached, 1 call back, 2 main cases never called, 1 reserve never released
    status = ["completed"] * 6 + ["refused"] * 2 + ["not_reached"] * 3 + ["call_back"] + ["", "", ""]
    role = ["main"] * 14 + ["reserve"]
    frame = pd.DataFrame({"status": status, "role": role, "stratum": ["a"] * 7 + ["b"] * 8})
    d = dispositions(frame)
    assert len(d) == 14 and d["disposition"].value_counts().to_dict() == {"I": 6, "NC": 3, "R": 2, "U": 2, "O": 1}
    r = aapor_rates(d).iloc[0]
    assert r["RR1"] == pytest.approx(6 / 14, abs=TOL)          # I / (I+P + R+NC+O + U)
    assert r["COOP1"] == pytest.approx(6 / 9, abs=TOL)         # I / (I+P + R + O)
    assert r["REF1"] == pytest.approx(2 / 14, abs=TOL)
    assert r["CON1"] == pytest.approx(9 / 14, abs=TOL)         # (I+P+R+O) / (I+P+R+O+NC+U)
    by = aapor_rates(d, "stratum").set_index("stratum")
    assert by.loc["a", "RR1"] == pytest.approx(6 / 7) and by.loc["b", "I"] == 0 and by.loc["b", "cases"] == 7


def test_nonresponse_weights_and_kish():
    f = pd.DataFrame({"stratum": ["a"] * 4 + ["b"] * 2, "role": "main", "design_weight": [5.0] * 4 + [10.0] * 2,
                      "status": ["completed", "completed", "refused", "", "completed", "not_reached"]})
    w = nonresponse_weights(f)
    assert w.tolist()[:2] == [10.0, 10.0] and np.isnan(w[2]) and w[4] == 20.0   # N_h / r_h: 20/2, 20/1
    assert kish_n([1, 1, 1, 1]) == 4
    assert kish_n([1, 3]) == pytest.approx(16 / 10)


def _respondents(n=60, seed=1):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"case_id": [f"C{i}" for i in range(n)], "weight": rng.uniform(0.5, 3, n),
                         "group": rng.choice(["x", "y"], n)})


def test_wilson_shares_unweighted_and_weighted_match_statsmodels():
    resp = _respondents()
    rng = np.random.default_rng(2)
    named = pd.DataFrame({"case_id": resp["case_id"], "reason": rng.choice(["price", "quality", "style_outdated"], len(resp))})
    named = pd.concat([named, named.iloc[:5]])                          # repeats count once
    extra = pd.DataFrame({"case_id": resp["case_id"][:20], "reason": "price"})  # multiple choice: several reasons
    named = pd.concat([named, extra])
    t = share_table(named, resp, "reason", alpha=0.05).set_index("reason")
    w = resp.set_index("case_id")["weight"]
    for reason, row in t.iterrows():
        ids = set(named.loc[named["reason"] == reason, "case_id"])
        k = len(ids)
        lo, hi = proportion_confint(k, len(resp), alpha=0.05, method="wilson")
        assert row["named"] == k and abs(row["share"] - k / len(resp)) < TOL
        assert abs(row["ci_low"] - lo) < TOL and abs(row["ci_high"] - hi) < TOL
        pw = w[list(ids)].sum() / w.sum()
        n_eff = w.sum() ** 2 / (w ** 2).sum()
        wlo, whi = proportion_confint(pw * n_eff, n_eff, alpha=0.05, method="wilson")
        assert abs(row["weighted_share"] - pw) < TOL and abs(row["n_eff"] - n_eff) < TOL
        assert abs(row["weighted_ci_low"] - wlo) < TOL and abs(row["weighted_ci_high"] - whi) < TOL
    assert t["share"].sum() > 1                                         # multiple choice: shares add past 100%
    equal = share_table(named, resp.assign(weight=2.0), "reason")
    assert np.allclose(equal["ci_low"], equal["weighted_ci_low"], atol=TOL)
    assert np.allclose(equal["ci_high"], equal["weighted_ci_high"], atol=TOL)


def test_chi_square_cramers_v_and_fisher_match_scipy():
    rng = np.random.default_rng(5)
    d = pd.DataFrame({"seg": rng.choice(["a", "b", "c"], 400, p=[.5, .3, .2]),
                      "reason": rng.choice(["p", "q", "r", "s"], 400)})
    res = independence_test(d, "seg", "reason")
    table = pd.crosstab(d["seg"], d["reason"]).to_numpy()
    chi2, p, dof, expected = stats.chi2_contingency(table, correction=False)
    assert res["test"] == "chi2"
    assert abs(res["chi2"] - chi2) < TOL and abs(res["p_val"] - p) < TOL and res["dof"] == dof
    v = np.sqrt(chi2 / (table.sum() * (min(table.shape) - 1)))
    assert abs(res["cramer_v"] - v) < TOL
    assert abs(res["cramer_v"] - stats.contingency.association(table, method="cramer")) < TOL
    # 2x2 with small cells: Fisher's exact test, no Yates
    small = pd.DataFrame({"g": ["y"] * 8 + ["o"] * 8, "named": ["yes"] * 6 + ["no"] * 2 + ["yes"] * 1 + ["no"] * 7})
    res2 = independence_test(small, "g", "named")
    t2 = pd.crosstab(small["g"], small["named"]).to_numpy()
    assert res2["test"] == "fisher" and abs(res2["p_val"] - stats.fisher_exact(t2).pvalue) < TOL
    chi2_plain = stats.chi2_contingency(t2, correction=False)[0]
    assert abs(res2["chi2"] - chi2_plain) < TOL                         # Pearson statistic, not Yates'
    # r x c Fisher: seeded Monte Carlo, the same as scipy's with the same generator
    t3 = np.array([[3, 1, 4], [1, 5, 9], [2, 0, 5]])
    want = stats.fisher_exact(t3, method=stats.MonteCarloMethod(n_resamples=20_000, rng=np.random.default_rng(0))).pvalue
    assert abs(fisher_p(t3, seed=0) - want) < TOL


def test_corrections_match_multipletests():
    p = pd.Series([0.001, 0.02, 0.03, 0.2, np.nan])
    for method in ("holm", "fdr_bh"):
        adj = adjust(p, method, 0.05)          # the workbench's one correction (workbench.stats)
        r, pa, _, _ = multipletests(p[:4], alpha=0.05, method=method)
        assert np.allclose(adj[:4], pa, atol=TOL) and (adj[:4] < 0.05).tolist() == r.tolist() and np.isnan(adj[4])
    holm = adjust(p, "holm")
    assert holm[0] == pytest.approx(0.004) and holm[1] == pytest.approx(0.06)   # hand: 4·0.001, 3·0.02
    with pytest.raises(ValueError, match="correction"):
        adjust(p, "hommel-ish")


def test_unweighted_focus_comparison_and_key_drivers():
    resp = pd.DataFrame({"case_id": [f"C{i}" for i in range(40)], "grp": ["young"] * 20 + ["old"] * 20,
                         "low": [True] * 10 + [False] * 30})
    mentions = pd.DataFrame({"case_id": [f"C{i}" for i in range(14)] + ["C30", "C31"], "reason": "style_outdated"})
    t = focus_comparison(resp, mentions, "grp", "young", weighted=False).iloc[0]
    table = [[14, 6], [2, 18]]   # young named / not; old named / not
    assert t["share_group"] == pytest.approx(0.7) and t["share_rest"] == pytest.approx(0.1)
    assert t["diff"] == pytest.approx(0.6) and t["test"] == "chi2"
    assert abs(t["p_val"] - stats.chi2_contingency(table, correction=False)[1]) < TOL
    lo, hi = confint_proportions_2indep(14, 20, 2, 20, method="newcomb", compare="diff")
    assert abs(t["diff_lo"] - lo) < TOL and abs(t["diff_hi"] - hi) < TOL
    wlo, whi = proportion_confint(14, 20, method="wilson")
    assert abs(t["share_group_lo"] - wlo) < TOL and abs(t["share_group_hi"] - whi) < TOL
    kd = key_drivers(resp, mentions, "low").iloc[0]
    assert kd["share_in_group"] == 1.0 and kd["share_others"] == pytest.approx(6 / 30)
    assert abs(kd["p_val"] - stats.fisher_exact([[10, 0], [6, 24]]).pvalue) < TOL


def test_means_alpha_and_satisfaction_scoring():
    x = pd.Series([4, 5, 3, 4, 2, 5, 4, np.nan])
    m, sd, lo, hi, n = mean_ci(x)
    v = x.dropna()
    want = stats.t.interval(0.95, len(v) - 1, loc=v.mean(), scale=stats.sem(v))
    assert n == 7 and abs(lo - want[0]) < TOL and abs(hi - want[1]) < TOL
    w = pd.Series([1, 2, 1, 3, 1, 1, 2, 1.0])
    wm, wlo, whi, n_eff = weighted_mean_ci(x, w)
    ww = w[:7].to_numpy()
    d = DescrStatsW(v.to_numpy(), weights=ww * kish_n(ww) / ww.sum())
    assert abs(wm - np.average(v, weights=ww)) < TOL and abs(wlo - d.tconfint_mean()[0]) < TOL
    # Cronbach's alpha on the satisfaction block, against the closed form k/(k-1) (1 - Σvar_i / var_total)
    s = load_template("satisfaction_short")
    rng = np.random.default_rng(3)
    base = rng.integers(0, 4, 50)
    codes = ["dissatisfied", "ok", "satisfied", "very_satisfied"]
    wide = pd.DataFrame({q: [codes[min(3, max(0, b + int(rng.integers(-1, 2))))] for b in base]
                         for q in ("overall", "staff", "speed", "value")}, index=[f"C{i}" for i in range(50)])
    rel = reliability(s, wide).iloc[0]
    scores = wide.replace({"dissatisfied": 0, "ok": 40, "satisfied": 60, "very_satisfied": 100}).astype(float)
    k = scores.shape[1]
    alpha = k / (k - 1) * (1 - scores.var(ddof=1).sum() / scores.sum(axis=1).var(ddof=1))
    assert rel["block"] == "scored_choices" and abs(rel["cronbach_alpha"] - alpha) < TOL
    # article 001: OK 40, satisfied 60, very satisfied 100
    answers = pd.DataFrame({"case_id": ["A"] * 4 + ["B"] * 4, "question": ["overall", "staff", "speed", "value"] * 2,
                            "answer": ["ok", "satisfied", "very_satisfied", "very_satisfied"] + ["very_satisfied"] * 4})
    per_case, summary = satisfaction(s, answers)
    assert per_case.set_index("case_id")["score"].to_dict() == {"A": 75.0, "B": 100.0}
    overall = summary.set_index("question").loc["ALL (case mean)"]
    assert overall["mean_score"] == 87.5 and overall["share_very_satisfied"] == 0.5
    assert overall["share_below_60"] == 0.0 and summary.set_index("question").loc["overall", "share_below_60"] == 0.5


def test_keyword_coding_and_dictionary_validation(tmp_path):
    texts = pd.DataFrame({"case_id": ["1", "2", "3", "4"], "question": "wish",
                          "text": ["款式太老气了", "Too EXPENSIVE and the colour is dull", "说不上来", "附近新开了一家店"]})
    coded, uncoded = code_texts(texts)
    got = coded.groupby("case_id")["reason"].apply(set).to_dict()
    assert got == {"1": {"style_outdated"}, "2": {"price", "style_outdated"}, "4": {"competitor_nearby"}}
    assert uncoded["text"].tolist() == ["说不上来"]
    bad = tmp_path / "codes.yaml"
    bad.write_text("reasons:\n  fashion: {zh: [款式]}\n  price: {en: [cheap, '']}\n", encoding="utf-8")
    with pytest.raises(DictionaryError) as exc:
        load_dictionary(bad)
    msg = str(exc.value)
    assert f"{bad}: reasons.fashion: 'fashion' is not a reason code" in msg
    assert f"{bad}: reasons.price.en[1]: expected non-empty text" in msg
    dup = tmp_path / "dup.yaml"
    dup.write_text("reasons:\n  price: {zh: [贵]}\n  quality: {zh: [贵]}\n", encoding="utf-8")
    with pytest.raises(DictionaryError, match=r"reasons.quality.zh\[0\]: keyword '贵' is also listed under price"):
        load_dictionary(dup)
