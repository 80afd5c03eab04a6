"""Rounds run in other tools (``workbench round-import``): imported through the CLI from CSV and XLSX, evaluated
like a native round and checked against an independent computation; every kind of bad file refused at its
cell with the store unchanged; Chinese headers and arm labels; --window-days; re-import and --replace."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from statsmodels.stats.proportion import confint_proportions_2indep, proportions_ztest

from workbench.cli import main
from workbench.data.store import connect
from workbench.evaluation.evaluate import evaluate_round
from workbench.evaluation.external import arm_labels, import_round
from workbench.evaluation.rounds import load_round
from workbench.evaluation.simulate import simulate_round, write_synthetic_round

RD = dt.date(2026, 11, 2)                 # two days after the demo data end
EMAIL_WINDOW = 60                         # settings.yaml attribution_days.email
EFFECT = {"holdout": 0.10, "treatment": 0.22}
TABLES = ("campaigns", "rounds", "assignments", "contact_attempts")


def _copy(demo_store, tmp_path: Path) -> Path:
    target = tmp_path / "workbench.duckdb"
    shutil.copy(demo_store[0], target)
    return target


def _ids(demo_store) -> list[str]:
    return sorted(demo_store[1].customers["customer_id"].astype(str))


def _draw(ids: list[str], seed: int, share: float = 0.2) -> pd.DataFrame:
    """Customers drawn into treatment and holdout (seeded), e-mailed on the round date if treated."""
    rng = np.random.default_rng(seed)
    arm = np.where(rng.random(len(ids)) < share, "holdout", "treatment")
    return pd.DataFrame({"customer_id": ids, "arm": arm, "channel": "email",
                         "contacted_on": np.where(arm == "treatment", RD.isoformat(), "")})


def _xlsx(frame: pd.DataFrame, path: Path) -> Path:
    out = frame.copy()
    out["contacted_on"] = pd.to_datetime(out["contacted_on"].replace("", None))   # real date cells
    with pd.ExcelWriter(path, engine="xlsxwriter",
                        engine_kwargs={"options": {"strings_to_formulas": False, "strings_to_urls": False}}) as w:
        out.to_excel(w, sheet_name="push", index=False)
    return path


def _cli(db: Path, *args: str) -> int:
    return main(["--db", str(db), "round-import", *map(str, args)])


def _fingerprint(db: Path) -> dict[str, tuple[int, str]]:
    """Row count and a content hash of each table the import writes."""
    with connect(db, read_only=True) as con:
        return {t: con.execute(f"SELECT count(*), md5(coalesce(string_agg(CAST(x AS VARCHAR), '|' "
                               f"ORDER BY CAST(x AS VARCHAR)), '')) FROM {t} x").fetchall()[0] for t in TABLES}


def _query(db: Path, sql: str, params=()) -> pd.DataFrame:
    with connect(db, read_only=True) as con:
        return con.execute(sql, list(params)).df()


@pytest.fixture(scope="module")
def imported(demo_store, tmp_path_factory):
    """Every demo customer drawn 20% holdout, imported from CSV with three simulated months after the round.

    ``simulate_round`` fails on a round that already has contact attempts (it then registers an empty frame of
    simulated attempts, which DuckDB refuses), so the round is imported without its contact dates first,
    simulated, and re-imported whole from the full file with --replace (the simulated purchases stay).
    """
    folder = tmp_path_factory.mktemp("external")
    db = _copy(demo_store, folder)
    frame = _draw(_ids(demo_store), seed=13)
    frame.drop(columns="contacted_on").to_csv(folder / "draft.csv", index=False)
    frame.to_csv(folder / "push.csv", index=False)
    assert _cli(db, folder / "draft.csv", "--campaign", "push", "--date", RD) == 0
    info = simulate_round(db, f"push-{RD:%Y%m%d}", seed=3, effect=EFFECT)
    assert _cli(db, folder / "push.csv", "--campaign", "push", "--date", RD, "--replace") == 0
    return db, frame, info, folder


def test_round_trip_csv_and_xlsx_equal_independent_computation(imported):
    db, frame, info, folder = imported
    rid = f"push-{RD:%Y%m%d}"
    r = _query(db, "SELECT * FROM rounds WHERE round_id = ?", [rid]).iloc[0]
    share = float((frame["arm"] == "holdout").mean())
    assert (r["campaign_id"], r["status"], r["seed"], r["source"]) == ("push", "closed", 0, "push.csv")
    assert pd.isna(r["window_days"]) and r["holdout_share"] == pytest.approx(share, abs=1e-12)
    assert _query(db, "SELECT playbook, definition FROM campaigns WHERE campaign_id = 'push'").values.tolist() == [
        ["external", '{"source": "external"}']]
    a = _query(db, "SELECT * FROM assignments WHERE round_id = ? ORDER BY customer_id", [rid])
    assert a["customer_id"].tolist() == frame["customer_id"].tolist()
    assert a["arm"].tolist() == frame["arm"].tolist() and (a["cohort_round"] == rid).all()
    assert (a["arm_name"].where(a["arm"] == "treatment", "-") == np.where(frame["arm"] == "treatment", "treatment",
                                                                           "-")).all()
    assert a.loc[a["arm"] == "holdout", "arm_name"].isna().all() and (a["channel"] == "email").all()
    att = _query(db, "SELECT * FROM contact_attempts WHERE round_id = ?", [rid])
    assert len(att) == int((frame["arm"] == "treatment").sum())              # the simulated attempts were replaced
    assert set(att["outcome"]) == {"contacted"} and set(att["notes"]) == {"imported round"}
    assert set(att["source_file"]) == {"push.csv"} and set(pd.to_datetime(att["attempt_date"]).dt.date) == {RD}

    # The same round from an XLSX (real date cells, a named sheet) lands identically.
    assert _cli(db, _xlsx(frame, folder / "push.xlsx"), "--campaign", "push_xlsx", "--date", RD,
                "--sheet", "push") == 0
    cols = "customer_id, arm, arm_name, channel"
    assert _query(db, f"SELECT {cols} FROM assignments WHERE round_id = 'push_xlsx-{RD:%Y%m%d}' ORDER BY 1").equals(
        a[["customer_id", "arm", "arm_name", "channel"]])
    assert _query(db, f"SELECT customer_id, attempt_date FROM contact_attempts WHERE round_id = "
                      f"'push_xlsx-{RD:%Y%m%d}' ORDER BY 1").equals(
        _query(db, "SELECT customer_id, attempt_date FROM contact_attempts WHERE round_id = ? ORDER BY 1", [rid]))

    ev = evaluate_round(db, rid, as_of=info["data_end"])
    assert ev.data.source == "push.csv" and (ev.outcomes["window_days"] == EMAIL_WINDOW).all()
    assert not ev.checks.set_index("check").loc["holdout_contamination", "flag"]

    # Independently: came back = any purchase in [round date, round date + min(30 m, window)), before = the same
    # span before it, from the transactions table and the arms as written in the file.
    tx = _query(db, "SELECT customer_id, date FROM transactions WHERE date >= ? AND date < ? AND date <= ?",
                [RD - dt.timedelta(days=EMAIL_WINDOW), RD + dt.timedelta(days=EMAIL_WINDOW), info["data_end"]])
    tx["date"] = pd.to_datetime(tx["date"]).dt.date
    treat = (frame.set_index("customer_id")["arm"] == "treatment").astype(int)
    rates = ev.rates[ev.rates["outcome"] == "came_back"].set_index("month")
    for m in (1, 2, 3):
        span = dt.timedelta(days=min(30 * m, EMAIL_WINDOW))
        post = treat.index.isin(tx.loc[(tx["date"] >= RD) & (tx["date"] < RD + span), "customer_id"])
        pre = treat.index.isin(tx.loc[(tx["date"] >= RD - span) & (tx["date"] < RD), "customer_id"])
        t = treat.to_numpy() == 1
        x, n = [int(post[t].sum()), int(post[~t].sum())], [int(t.sum()), int((~t).sum())]
        z, p = proportions_ztest(x, n)
        lo, hi = confint_proportions_2indep(x[0], n[0], x[1], n[1], method="newcomb", compare="diff")
        fit = smf.ols("post ~ treat + pre", data=pd.DataFrame({"post": post.astype(float), "treat": t.astype(float),
                                                               "pre": pre.astype(float)})).fit()
        row = rates.loc[m]
        assert (row["n_treat"], row["n_hold"], row["x_treat"], row["x_hold"]) == (n[0], n[1], x[0], x[1])
        expected = {"rate_treat": x[0] / n[0], "rate_hold": x[1] / n[1], "diff": x[0] / n[0] - x[1] / n[1],
                    "diff_lo": lo, "diff_hi": hi, "z": z, "p_val": p, "p_report": p,
                    "adj_estimate": fit.params["treat"], "adj_lo": fit.conf_int().loc["treat", 0],
                    "adj_hi": fit.conf_int().loc["treat", 1], "adj_p": fit.pvalues["treat"]}
        for key, value in expected.items():
            assert row[key] == pytest.approx(value, abs=1e-9), (m, key)
    assert rates.loc[3, "diff"] > 0.05 and rates.loc[3, "significant"]        # the planted 12 points, found

    assert main(["--db", str(db), "evaluate-verdicts", "--round", rid, "--as-of", info["data_end"].isoformat()]) == 0


def test_window_days_sets_every_customers_window(demo_store, tmp_path):
    db = _copy(demo_store, tmp_path)
    frame = _draw(_ids(demo_store)[:400], seed=2)
    frame["channel"] = np.array(["email", "sms", "phone"])[np.arange(len(frame)) % 3]
    frame.to_csv(tmp_path / "push.csv", index=False)
    assert _cli(db, tmp_path / "push.csv", "--campaign", "short", "--date", RD, "--window-days", 14) == 0
    assert _query(db, "SELECT window_days FROM rounds").iloc[0, 0] == 14
    ev = evaluate_round(db, f"short-{RD:%Y%m%d}", months=3)
    assert (ev.outcomes["window_days"] == 14).all() and "14 days for every customer" in ev.data.window_rule
    assert (pd.to_datetime(ev.outcomes["window_end"]) - pd.to_datetime(ev.outcomes["start"])).dt.days.eq(14).all()

    # Without --window-days: each customer's channel window, or the default for all when a row has no channel.
    frame.to_csv(tmp_path / "push2.csv", index=False)
    import_round(db, tmp_path / "push2.csv", campaign="channels", round_date=RD)
    w = load_round(db, f"channels-{RD:%Y%m%d}").customers.set_index("customer_id")
    assert w["window_days"].to_dict() == {c: {"sms": 60, "email": 60, "phone": 90}[ch]
                                          for c, ch in zip(frame["customer_id"], frame["channel"])}
    frame.loc[frame.index[:5], "channel"] = ""
    frame.to_csv(tmp_path / "push3.csv", index=False)
    import_round(db, tmp_path / "push3.csv", campaign="partly", round_date=RD)
    assert (load_round(db, f"partly-{RD:%Y%m%d}").customers["window_days"] == 90).all()


def _base(demo_store, n: int = 20) -> pd.DataFrame:
    frame = pd.DataFrame({"customer_id": _ids(demo_store)[:n], "arm": ["holdout"] * 5 + ["treatment"] * (n - 5),
                          "channel": "sms", "contacted_on": [""] * 5 + [RD.isoformat()] * (n - 5)})
    return frame


def _set(i: int, col: str, value):
    def change(f: pd.DataFrame) -> pd.DataFrame:
        f = f.copy()
        f.loc[i, col] = value
        return f
    return change


BAD = {  # case: (change to the 20-row base file, fragments the message must hold; the header is row 1)
    "unknown customer": (_set(2, "customer_id", "X999"), ["row 4, column A 'customer_id'", "'X999'",
                                                          "not a known customer"]),
    "empty arm": (_set(3, "arm", ""), ["row 5, column B 'arm'", "is empty"]),
    "excluded arm": (_set(3, "arm", "Excluded"), ["row 5, column B 'arm'", "not an arm"]),
    "duplicate id": (lambda f: _set(7, "customer_id", f.loc[1, "customer_id"])(f),
                     ["row 9, column A 'customer_id'", "appears on rows 3, 9"]),
    "missing column": (lambda f: f.drop(columns="arm"), ["row 1", "required column 'arm' is missing"]),
    "bad date": (_set(8, "contacted_on", "2026-02-30"), ["row 10, column D 'contacted_on'", "is not a date"]),
    "date before round": (_set(9, "contacted_on", "2026-10-01"),
                          ["row 11, column D 'contacted_on'", "before the round date 2026-11-02"]),
    "share 100%": (lambda f: f.assign(arm="对照组", contacted_on=""),
                   ["row 1, column B 'arm'", "every row is in the holdout"]),
    "no holdout": (lambda f: f.assign(arm="email_a"), ["row 1, column B 'arm'", "no row is in the holdout"]),
    "unknown channel": (_set(10, "channel", "fax"), ["row 12, column C 'channel'", "'fax'",
                                                     "not one of the allowed values"]),
    "long cell": (_set(11, "arm", "x" * 300), ["row 13, column B 'arm'", "longer than 200 characters"]),
    "header only": (lambda f: f.head(0), ["row 1", "no data rows"]),
}


@pytest.fixture(scope="module")
def bad_store(demo_store, tmp_path_factory):
    """A store holding one imported round already (so 'unchanged' is not trivially an empty table)."""
    folder = tmp_path_factory.mktemp("bad")
    db = _copy(demo_store, folder)
    _base(demo_store).to_csv(folder / "good.csv", index=False)
    assert _cli(db, folder / "good.csv", "--campaign", "earlier", "--date", RD) == 0
    return db


@pytest.mark.parametrize("case", list(BAD))
def test_bad_file_refused_at_its_cell_store_unchanged(case, demo_store, bad_store, tmp_path, capsys):
    change, fragments = BAD[case]
    path = tmp_path / "bad.csv"
    change(_base(demo_store)).to_csv(path, index=False)
    before = _fingerprint(bad_store)
    capsys.readouterr()
    assert _cli(bad_store, path, "--campaign", "push", "--date", RD) == 2
    err = capsys.readouterr().err
    problems = err.splitlines()[1:]
    assert "Traceback" not in err and len(problems) == 1, err
    assert problems[0].strip().startswith("bad.csv, ") and all(f in problems[0] for f in fragments), err
    assert _fingerprint(bad_store) == before


def test_tiny_share_xlsx_and_every_problem_at_once(demo_store, bad_store, tmp_path, capsys):
    before = _fingerprint(bad_store)
    tiny = pd.DataFrame({"customer_id": _ids(demo_store)[:150], "arm": ["control"] + ["treatment"] * 149})
    tiny.to_csv(tmp_path / "tiny.csv", index=False)
    assert _cli(bad_store, tmp_path / "tiny.csv", "--campaign", "push", "--date", RD) == 2
    assert "row 1, column B 'arm': holdout share 0.67% (1 of 150 rows) is outside 1%-99%" in capsys.readouterr().err

    f = _base(demo_store)
    for change, _ in (BAD["unknown customer"], BAD["bad date"], BAD["date before round"], BAD["unknown channel"]):
        f = change(f)
    _xlsx(f.assign(contacted_on=f["contacted_on"].replace("2026-02-30", "")), tmp_path / "bad.xlsx")
    f.to_csv(tmp_path / "bad.csv", index=False)
    assert _cli(bad_store, tmp_path / "bad.csv", "--campaign", "push", "--date", RD) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0] == "4 problem(s) found; nothing was imported:" and len(err) == 5
    assert [line.split(",")[1].strip() for line in err[1:]] == ["row 4", "row 10", "row 11", "row 12"]
    assert _cli(bad_store, tmp_path / "bad.xlsx", "--campaign", "push", "--date", RD) == 2
    err = capsys.readouterr().err
    assert "bad.xlsx, sheet 'push', row 4, column A 'customer_id'" in err
    assert "bad.xlsx, sheet 'push', row 11, column D 'contacted_on'" in err
    assert _fingerprint(bad_store) == before
    # Arguments: usage errors (exit 2) before anything is read.
    for args in (["--date", "2026-13-01"], ["--date", RD, "--window-days", 0], ["--date", RD, "--campaign", "a b"]):
        with pytest.raises(SystemExit) as stop:
            _cli(bad_store, tmp_path / "tiny.csv", "--campaign", "push", *args)
        assert stop.value.code == 2
    assert _fingerprint(bad_store) == before


def test_chinese_headers_arms_and_several_treatment_arms(demo_store, tmp_path, capsys):
    db = _copy(demo_store, tmp_path)
    ids = _ids(demo_store)[:600]
    rng = np.random.default_rng(5)
    arm = rng.choice(["联系组A", "联系组B", "对照组"], len(ids), p=[.4, .4, .2])
    zh = pd.DataFrame({"客户编号": ids, "组别": arm, "渠道": rng.choice(["短信", "微信", "电子邮件"], len(ids)),
                       "联系日期": np.where(arm == "对照组", "", "2026年11月3日")})
    zh.loc[0, ["组别", "联系日期"]] = ["对照组", "2026/11/4"]                  # a holdout customer contacted
    zh.to_csv(tmp_path / "推送.csv", index=False, encoding="gb18030")
    assert _cli(db, tmp_path / "推送.csv", "--campaign", "短信推送", "--date", RD) == 0
    out = capsys.readouterr().out
    assert "WARNING: 1 holdout customer(s) have a contact date" in out
    a = _query(db, "SELECT * FROM assignments ORDER BY customer_id")
    assert a["round_id"].unique().tolist() == [f"短信推送-{RD:%Y%m%d}"]
    assert set(a["channel"]) == {"sms", "wechat", "email"}
    assert set(a.loc[a["arm"] == "treatment", "arm_name"]) == {"联系组A", "联系组B"}
    assert a.loc[a["arm"] == "holdout", "arm_name"].isna().all()
    assert (a["arm"] == "holdout").sum() == (zh["组别"] == "对照组").sum()
    att = _query(db, "SELECT customer_id, attempt_date FROM contact_attempts")
    assert len(att) == (zh["联系日期"] != "").sum() and pd.Timestamp("2026-11-03") in set(att["attempt_date"])
    ev = evaluate_round(db, f"短信推送-{RD:%Y%m%d}", months=1)
    came_back = ev.rates[ev.rates["outcome"] == "came_back"]                 # each arm against the one holdout
    assert len(came_back) == 2 and {"联系组A", "联系组B"} <= set(came_back.astype(str).to_numpy().ravel())
    assert ev.checks.loc[ev.checks["check"] == "holdout_contamination", "flag"].all()


def test_arm_labels_fold_case_width_and_spacing():
    got = arm_labels(["Treatment", "HOLD-OUT", "Ｃｏｎｔｒｏｌ", " 控制组 ", "email_a", "Email A", "排除"])
    assert got["arm"].tolist() == ["treatment", "holdout", "holdout", "holdout", "treatment", "treatment", "excluded"]
    assert got["arm_name"].tolist() == ["Treatment", None, None, None, "email_a", "email_a", None]


def test_reimport_refused_without_replace_and_native_round_never_replaced(demo_store, tmp_path, capsys):
    db = _copy(demo_store, tmp_path)
    first = _draw(_ids(demo_store)[:300], seed=8)
    first.to_csv(tmp_path / "push.csv", index=False)
    assert _cli(db, tmp_path / "push.csv", "--campaign", "push", "--date", RD) == 0
    before = _fingerprint(db)
    capsys.readouterr()
    assert _cli(db, tmp_path / "push.csv", "--campaign", "push", "--date", RD) == 2
    assert "round push-20261102 exists already (imported from push.csv); pass --replace" in capsys.readouterr().err
    assert _fingerprint(db) == before

    second = _draw(_ids(demo_store)[100:250], seed=9).assign(arm=lambda f: f["arm"].replace("treatment", "sms_b"),
                                                             contacted_on="")
    second.to_csv(tmp_path / "push_v2.csv", index=False)
    assert _cli(db, tmp_path / "push_v2.csv", "--campaign", "push", "--date", RD, "--replace") == 0
    a = _query(db, "SELECT customer_id, arm, arm_name FROM assignments ORDER BY customer_id")
    assert a["customer_id"].tolist() == second["customer_id"].tolist()
    assert set(a["arm_name"].dropna()) == {"sms_b"}
    assert _query(db, "SELECT count(*) AS n FROM contact_attempts")["n"].iloc[0] == 0
    assert _query(db, "SELECT source, holdout_share FROM rounds").values.tolist() == [
        ["push_v2.csv", pytest.approx((second["arm"] == "holdout").mean())]]
    assert _query(db, "SELECT count(*) AS n FROM campaigns")["n"].iloc[0] == 1

    write_synthetic_round(db, first[["customer_id"]], f"native-{RD:%Y%m%d}", RD, campaign_id="native")
    before = _fingerprint(db)
    assert _cli(db, tmp_path / "push.csv", "--campaign", "native", "--date", RD, "--replace") == 2
    assert "was planned in the workbench, not imported" in capsys.readouterr().err
    assert _fingerprint(db) == before
