"""Private data: one privacy setting for every contact workbook, and ``workbench purge``.

The store is the shared 1,500-customer demo dealership, scored, with a survey designed, fielded through the
interviewer workbook and imported, and a campaign round whose call workbook comes back with notes: every
place a person's data can reach. The purge test plants marker texts in each of them.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
import shutil
import subprocess
import sys
from pathlib import Path

import openpyxl
import openpyxl.utils
import pandas as pd
import pytest

from tests.campaigns.conftest import fill_workbook
from workbench.analysis.importer import import_responses
from workbench.analysis.simulate import fill_phone_workbook, simulate_fieldwork
from workbench.campaigns.rounds import create_round, read_round
from workbench.campaigns.workbook import import_call_workbook, read_call_workbook, write_round_workbook
from workbench.data.demo import DEMO_AS_OF
from workbench.data.importer import import_files
from workbench.data.purge import PurgeError, purge_customers
from workbench.data.store import connect
from workbench.privacy import PROFILES, contact_privacy, mask_phone
from workbench.surveys.design import design_survey, export_design, save_design, target_population
from workbench.surveys.phone_workbook import read_phone_workbook

pytestmark = pytest.mark.slow
ROUND = DEMO_AS_OF + dt.timedelta(days=2)
MARKERS = {"note": "备注-MARKER-通话内容-7731", "suggestion": "建议-MARKER-自由回答-7732",
           "event": "活动-MARKER-事件说明-7733", "wechat": "wx_MARKER_7734", "plate": "京A·MARK77"}


@pytest.fixture
def store(scored_store, tmp_path) -> Path:
    target = tmp_path / "workbench.duckdb"
    shutil.copy(scored_store, target)
    return target


def _people(db: Path) -> pd.DataFrame:
    with connect(db, read_only=True) as con:
        return con.execute("SELECT customer_id, name, phone FROM customers WHERE name IS NOT NULL").df()


def _cells(path: Path) -> list[tuple[str, str, str]]:
    """Every non-empty cell of every sheet, hidden ones included: (sheet, address, text)."""
    wb = openpyxl.load_workbook(path)
    return [(ws.title, c.coordinate, str(c.value)) for ws in wb.worksheets for row in ws.iter_rows()
            for c in row if c.value is not None]


def _leaks(path: Path, people: pd.DataFrame, *, names: bool, phones: bool, staff: set[str] = frozenset()) -> list[str]:
    """Customer names (not the staff's own, which the demo draws from the same name list) and full phones."""
    found = []
    name_set = set(people["name"]) - set(staff) if names else set()
    digits = [re.sub(r"\D", "", p) for p in people["phone"].dropna()] if phones else []
    for sheet, addr, text in _cells(path):
        if text in name_set:
            found.append(f"{sheet}!{addr}: name {text!r}")
        plain = re.sub(r"\D", "", text)
        if phones and len(plain) >= 8 and plain in set(digits):
            found.append(f"{sheet}!{addr}: phone {text!r}")
    return found


def test_profiles_and_masking():
    assert mask_phone("13812345678") == "138****5678"
    assert mask_phone("+86 138-1234-5678") == mask_phone("0086 13812345678") == "138****5678"
    assert mask_phone("020-8765 4321") == "020****4321"  # digits only: first three and last four kept
    assert mask_phone(mask_phone("13812345678")) == "138****5678"  # idempotent
    assert mask_phone("12345") == "*****" and mask_phone(None) == "" and mask_phone(float("nan")) == ""
    assert contact_privacy(None).name == "in_house" and contact_privacy("Outside-Call-Centre").drop_names
    assert [p.name for p in PROFILES.values()] == ["in_house", "masked", "outside_call_centre"]
    with pytest.raises(ValueError, match="unknown privacy setting 'public'.*outside_call_centre"):
        contact_privacy("public")


def _survey(db: Path, tmp: Path, privacy: str):
    population = target_population(db, "stage in ['lost', 'sleeping']")
    design = design_survey("car_aftersales_churn", population, strata=["tier"], margin=0.12,
                           interviewers=["王芳", "李强"], seed=3, survey_id=f"churn_{privacy}")
    save_design(design, db)
    return design, export_design(design, tmp / privacy, language="zh", privacy=privacy)


@pytest.mark.parametrize("privacy", ["in_house", "masked", "outside_call_centre"])
def test_interviewer_files_follow_the_privacy_setting(store, tmp_path, privacy):
    people = _people(store)
    design, files = _survey(store, tmp_path, privacy)
    p = contact_privacy(privacy)
    book = files["call_workbook"]
    leaks = _leaks(book, people, names=p.drop_names, phones=p.mask_phones, staff={"王芳", "李强"})
    assert leaks == [], leaks[:5]
    headers = [c.value for c in openpyxl.load_workbook(book)["王芳"][1]]
    assert ("姓名" in headers) is not p.drop_names
    col = openpyxl.utils.get_column_letter(headers.index("电话") + 1)
    phones = [v for (s, a, v) in _cells(book) if s == "王芳" and re.fullmatch(col + r"\d+", a) and a != col + "1"]
    assert phones and all(re.fullmatch(r"\d{3}\*+\d{4}" if p.mask_phones else r"\d{11}", v) for v in phones), phones[:3]
    with open(book.parent / "cases.csv", encoding="utf-8") as f:  # the XLSForm's case list (form media)
        head = next(csv.reader(f))
    assert ("name" in head) is not p.drop_names
    # the call team's filled workbook still reads back and imports, whatever the profile
    fw = simulate_fieldwork(design.survey, design.sample, seed=5)
    filled = fill_phone_workbook(book, tmp_path / "filled.xlsx", fw)
    assert len(read_phone_workbook(filled).cases) == len(design.sample)
    r = import_responses(store, design.survey_id, [filled])
    assert r.cases_new == r.cases_read > 0 and r.answers_written > 0


@pytest.mark.parametrize("privacy", ["masked", "outside_call_centre"])
def test_call_workbook_follows_the_privacy_setting(store, tmp_path, privacy):
    people = _people(store)
    plan = create_round(store, "dealership_winback", ROUND)
    rid = plan.round["round_id"]
    book = write_round_workbook(store, rid, tmp_path / "calls.xlsx", language="en", privacy=privacy)
    p = contact_privacy(privacy)
    staff = set(plan.assignments["agent"].dropna().astype(str))
    assert _leaks(book, people, names=p.drop_names, phones=True, staff=staff) == []
    cells = _cells(book)
    scripts = [v for (_, _, v) in cells if v.startswith("Say:")]
    assert scripts and not any("Hello ," in s or "Hi ," in s for s in scripts)
    if p.drop_names:
        assert any("Hello there," in s or "Hi there," in s for s in scripts)
    assert ("privacy", privacy) in {(str(a), str(b)) for a, b in
                                    openpyxl.load_workbook(book)["_meta"].iter_rows(values_only=True)}
    treated = read_round(store, rid).query("arm == 'treatment'")["customer_id"].astype(str).tolist()
    fill_workbook(book, {c: ("reached", dt.date(2026, 11, 5), 1, "ok") for c in treated[:5]})
    assert len(read_call_workbook(book).attempts) == 5


def _text_values(db: Path) -> list[str]:
    """Every text value in every table of the store."""
    out = []
    with connect(db, read_only=True) as con:
        cols = con.execute("SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = "
                           "'main' AND data_type IN ('VARCHAR', 'JSON')").fetchall()
        for t, c in cols:
            out += [str(v) for (v,) in con.execute(f'SELECT DISTINCT "{c}" FROM "{t}" WHERE "{c}" IS NOT NULL')
                    .fetchall()]
    return out


def _aggregates(db: Path) -> dict:
    with connect(db, read_only=True) as con:
        one = lambda sql: con.execute(sql).fetchall()  # noqa: E731
        return {"tx": one("SELECT customer_id, count(*), sum(amount) FROM transactions GROUP BY ALL ORDER BY 1"),
                "events": one("SELECT customer_id, kind, count(*) FROM events GROUP BY ALL ORDER BY ALL"),
                "scores": one("SELECT customer_id, stage, tier, churn_index FROM customer_scores ORDER BY ALL"),
                "coded": one("SELECT question, answer, count(*) FROM survey_responses WHERE question NOT IN "
                             "('suggestion') AND question NOT LIKE '%_other' GROUP BY ALL ORDER BY ALL"),
                "outcomes": one("SELECT outcome, count(*) FROM contact_attempts GROUP BY ALL ORDER BY ALL"),
                "customers": one("SELECT count(*), count(DISTINCT store) FROM customers")}


def test_purge_erases_one_person_everywhere_and_keeps_aggregates(store, tmp_path):
    design, files = _survey(store, tmp_path, "in_house")
    fw = simulate_fieldwork(design.survey, design.sample, seed=5)
    filled = fill_phone_workbook(files["call_workbook"], tmp_path / "filled.xlsx", fw)
    wb = openpyxl.load_workbook(filled)  # the interviewer typed the respondent's own words
    layout = {k: h for h, k, *_ in wb["_columns"].iter_rows(min_row=2, values_only=True)}
    done = None
    for ws in (wb[s] for s in ("王芳", "李强")):
        head = {c.value: c.column for c in ws[1]}
        for r in range(2, ws.max_row + 1):
            if ws.cell(r, head[layout["status"]]).value in ("已完成", "completed") and done is None:
                ws.cell(r, head[layout["suggestion"]]).value = MARKERS["suggestion"]
                done = str(ws.cell(r, head[layout["customer_id"]]).value)
    assert done, "no completed case in the simulated fieldwork"
    wb.save(filled)
    import_responses(store, design.survey_id, [filled])

    plan = create_round(store, "dealership_winback", ROUND)
    rid = plan.round["round_id"]
    treated = plan.assignments.query("arm == 'treatment'")["customer_id"].astype(str).tolist()
    target = treated[0]
    book = write_round_workbook(store, rid, tmp_path / "calls.xlsx")
    fill_workbook(book, {target: ("reached", dt.date(2026, 11, 5), 2, MARKERS["note"]),
                         treated[1]: ("booked", dt.date(2026, 11, 6), 1, "约了周六")})
    import_call_workbook(store, book)
    with connect(store) as con:  # the survey respondent is our target too: move their answers over
        con.execute("UPDATE survey_responses SET customer_id = ? WHERE customer_id = ?", [target, done])
        con.execute("UPDATE survey_cases SET customer_id = ? WHERE customer_id = ?", [target, done])
        con.execute("UPDATE survey_sample SET customer_id = ? WHERE customer_id = ?", [target, done])
    crm = tmp_path / "crm.csv"  # the CRM export that will be re-imported after the purge
    with connect(store, read_only=True) as con:
        name, phone = con.execute("SELECT name, phone FROM customers WHERE customer_id = ?", [target]).fetchall()[0]
    pd.DataFrame({"客户编号": [target], "姓名": [name], "手机": [phone], "微信": [MARKERS["wechat"]],
                  "车牌": [MARKERS["plate"]]}).to_csv(crm, index=False, encoding="utf-8-sig")
    import_files("customers", [crm], store)
    ev = tmp_path / "events.csv"
    pd.DataFrame({"customer_id": [target], "date": ["2026-10-20"], "kind": ["建议"],
                  "detail": [MARKERS["event"]]}).to_csv(ev, index=False)
    import_files("events", [ev], store)

    secrets = [name, phone, *MARKERS.values()]
    values = _text_values(store)
    assert all(any(s in v for v in values) for s in secrets)  # planted everywhere before the purge
    before = _aggregates(store)

    with pytest.raises(PurgeError, match="'NOPE'.*nothing was changed"):
        purge_customers(store, [target, "NOPE"])
    assert all(any(s in v for v in values) for s in secrets)

    result = purge_customers(store, [target])
    assert result.changes["cells"].sum() >= 7, result.changes
    values = _text_values(store)
    assert [s for s in secrets if any(s in v for v in values)] == []
    raw = b"".join(p.read_bytes() for p in store.parent.glob(store.name + "*"))  # the file and any WAL
    assert [s for s in secrets if s.encode() in raw] == []  # not left behind in free blocks either
    assert _aggregates(store) == before  # totals, scores, survey codes and outcomes unchanged

    # nothing comes back with the next CRM export, and no later list contacts them
    import_files("customers", [crm], store)
    with connect(store, read_only=True) as con:
        row = con.execute("SELECT name, phone, wechat_id, plate_number, do_not_contact FROM customers "
                          "WHERE customer_id = ?", [target]).fetchall()[0]
    assert row == (None, None, None, None, True)
    assert target not in set(target_population(store)["customer_id"].astype(str))
    later = create_round(store, "dealership_winback", ROUND + dt.timedelta(days=60))
    a = later.assignments.set_index("customer_id")
    assert a.loc[target, "arm"] == "excluded" and a.loc[target, "exclusion"] == "do_not_contact"


def test_purge_command(store, tmp_path):
    with connect(store, read_only=True) as con:
        cid = con.execute("SELECT min(customer_id) FROM customers").fetchall()[0][0]
    run = [sys.executable, "-c", "import sys; from workbench.cli import main; sys.exit(main())", "--db", str(store),
           "purge"]
    bad = subprocess.run([*run, "--customer", "NOPE"], capture_output=True, text=True)
    assert bad.returncode == 2 and "'NOPE'" in bad.stderr and "nothing was changed" in bad.stderr
    ok = subprocess.run([*run, "--customer", cid, "-v"], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert "1 customer(s) purged" in ok.stdout and "customers" in ok.stdout
    with connect(store, read_only=True) as con:
        assert con.execute("SELECT name, phone FROM customers WHERE customer_id = ?", [cid]).fetchall() == [(None, None)]


WRITER = """
import sys, time
from workbench.data.store import connect
db, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    with connect(db, wait=60) as con:
        con.execute("INSERT INTO do_not_contact VALUES (?, 'writer', 'concurrent', now())", [f"W{i:04d}"])
    time.sleep(0.01)
print("done")
"""


def test_purge_while_another_process_writes_loses_nothing(store):
    """The store file is swapped during a purge: a process writing at the same time must neither lose a
    write into the old file nor corrupt the new one."""
    with connect(store, read_only=True) as con:
        ids = [r[0] for r in con.execute("SELECT customer_id FROM customers ORDER BY customer_id LIMIT 4").fetchall()]
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(store), "100"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    for cid in ids:  # four purges, four file swaps while the writer works
        purge_customers(store, [cid])
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-2000:]
    with connect(store, read_only=True) as con:
        written = con.execute("SELECT count(*) FROM do_not_contact WHERE round_id = 'writer'").fetchall()[0][0]
        purged = con.execute("SELECT count(*) FROM purged_customers").fetchall()[0][0]
        names = con.execute("SELECT count(name) FROM customers WHERE customer_id IN (SELECT customer_id FROM "
                            "purged_customers)").fetchall()[0][0]
    assert (written, purged, names) == (100, 4, 0)


def test_purge_refuses_when_the_rewrite_would_not_fit(store, monkeypatch):
    import shutil as sh
    from collections import namedtuple

    with connect(store, read_only=True) as con:
        cid = con.execute("SELECT min(customer_id) FROM customers").fetchall()[0][0]
    before = store.read_bytes()
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(sh, "disk_usage", lambda p: usage(10**9, 10**9 - 2**20, 2**20))
    with pytest.raises(PurgeError, match="not enough free space.*nothing was changed"):
        purge_customers(store, [cid])
    assert store.read_bytes() == before
