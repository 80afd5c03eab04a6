"""Imports: the demo exports land, broken files are refused precisely, and nothing is half-written."""

from __future__ import annotations

import hashlib

import openpyxl
import pandas as pd
import pytest

from tests.data.broken_files import write_broken_files
from workbench.cli import main
from workbench.data.demo import generate, write_demo_files
from workbench.data.importer import import_files
from workbench.data.problems import ImportValidationError
from workbench.data.store import connect, read_table


def store_fingerprint(db) -> dict[str, str]:
    """A checksum of every table's full contents, to prove a failed import changed nothing."""
    out = {}
    with connect(db, read_only=True) as con:
        for (name,) in con.execute("SELECT table_name FROM information_schema.tables "
                                   "WHERE table_schema='main' ORDER BY 1").fetchall():
            rows = con.execute(f'SELECT * FROM "{name}" ORDER BY ALL').fetchall()
            out[name] = hashlib.sha256(repr(rows).encode()).hexdigest()
    return out


@pytest.fixture(scope="module")
def small_demo():
    return {b: generate(b, n_customers=400, seed=3) for b in ("dealership", "phone_brand")}


@pytest.mark.parametrize("business", ["dealership", "phone_brand"])
def test_demo_files_import_whole(tmp_path, small_demo, business):
    data = small_demo[business]
    files = write_demo_files(data, tmp_path / "files")
    db = tmp_path / "s.duckdb"
    for table in ("customers", "transactions", "events"):
        [result] = import_files(table, [files[table]], db)
        assert result.inserted == len(getattr(data, table)) and result.skipped == 0
    tx = read_table("transactions", db)
    assert tx["amount"].sum() == pytest.approx(data.transactions["amount"].sum(), abs=0.01)
    assert set(tx["spend_type"]) == {"necessary", "discretionary"}
    cust = read_table("customers", db).set_index("customer_id").sort_index()
    src = data.customers.set_index("customer_id").sort_index()
    assert (cust["name"] == src["name"]).all()          # Chinese text survives GB18030 / xlsx
    assert (cust["gender"] == src["gender"]).all()
    assert (pd.to_datetime(cust["first_purchase_date"]) == src["first_purchase_date"]).all()


def test_reimport_and_overlapping_exports_add_nothing_twice(tmp_path, small_demo):
    data = small_demo["dealership"]
    files = write_demo_files(data, tmp_path / "files")
    db = tmp_path / "s.duckdb"
    import_files("customers", [files["customers"]], db)
    import_files("transactions", [files["transactions"]], db)
    [again] = import_files("transactions", [files["transactions"]], db)
    assert (again.inserted, again.skipped) == (0, len(data.transactions))
    # An export without transaction ids, overlapping the first half, plus a same-day repeat purchase.
    tx = data.transactions.drop(columns="transaction_id")
    overlap = tx.iloc[: len(tx) // 2]
    extra = pd.concat([overlap, overlap.iloc[[0]]])  # a genuine second identical purchase in this file
    path = tmp_path / "overlap.csv"
    extra.to_csv(path, index=False)
    [r1] = import_files("transactions", [path], db)
    assert r1.inserted == len(extra)  # no ids: content keys are new, but ...
    [r2] = import_files("transactions", [path], db)
    assert (r2.inserted, r2.skipped) == (0, len(extra))  # ... the same export again adds nothing


def test_customers_reimport_updates_in_place(tmp_path, small_demo):
    data = small_demo["dealership"]
    db = tmp_path / "s.duckdb"
    path = tmp_path / "c.csv"
    data.customers.to_csv(path, index=False)
    import_files("customers", [path], db)
    changed = data.customers.head(3)[["customer_id", "region"]].assign(region="越秀区-新址")
    path2 = tmp_path / "c2.csv"
    changed.to_csv(path2, index=False)
    [r] = import_files("customers", [path2], db)
    assert (r.inserted, r.updated) == (0, 3)
    cust = read_table("customers", db).set_index("customer_id")
    assert (cust.loc[changed["customer_id"], "region"] == "越秀区-新址").all()
    assert cust.loc[changed["customer_id"], "name"].notna().all()  # columns absent from the file are kept
    assert len(cust) == len(data.customers)


def test_broken_files_fail_precisely_and_change_nothing(demo_store, tmp_path, capsys):
    db, data = demo_store
    known = data.customers["customer_id"].iloc[0]
    before = store_fingerprint(db)
    for case in write_broken_files(tmp_path / "broken", known):
        code = main(["--db", str(db), "import", case.table, str(case.path(tmp_path / "broken"))])
        err = capsys.readouterr().err
        assert code == 2, (case.name, err)
        for fragment in case.must_say:
            assert fragment in err, f"{case.name}: {fragment!r} not in\n{err}"
        assert "nothing was imported" in err
    assert store_fingerprint(db) == before


def test_every_problem_of_a_file_is_reported_at_once(db, tmp_path):
    (tmp_path / "c.csv").write_text("customer_id,gender,birth_year\nA,女,1990\nB,X,1985\nC,M,19x0\n",
                                    encoding="utf-8")
    with pytest.raises(ImportValidationError) as info:
        import_files("customers", [tmp_path / "c.csv"], db)
    text = str(info.value)
    assert "row 3, column B 'gender': 'X' is not one of the allowed values (F, M, U)" in text
    assert "row 4, column C 'birth_year': '19x0' is not a whole number" in text
    assert len(info.value.problems) == 2


def test_rows_are_numbered_as_a_spreadsheet_shows_them(db, tmp_path):
    """Blank lines and quoted line breaks still give the row Excel shows."""
    text = ('customer_id,name,birth_year\nA,"Wang\nWei",1990\n\nB,Li,1985\n,,\nC,Zhang,abc\n')
    (tmp_path / "c.csv").write_text(text, encoding="utf-8")
    with pytest.raises(ImportValidationError) as info:
        import_files("customers", [tmp_path / "c.csv"], db)
    [problem] = info.value.problems
    assert (problem.row, problem.column) == (6, "birth_year")


def test_xlsx_rows_and_sheet_named(db, tmp_path):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "客户"
    ws.append(["客户编号", "姓名", "性别"])
    ws.append(["A1", "王伟", "男"])
    ws.append([None, None, None])
    ws.append(["A2", "=HYPERLINK(\"x\")", "女士"])
    ws.append(["A3", "李娜", "?"])
    wb.save(tmp_path / "c.xlsx")
    with pytest.raises(ImportValidationError) as info:
        import_files("customers", [tmp_path / "c.xlsx"], db)
    [problem] = info.value.problems
    assert str(problem).startswith("c.xlsx, sheet '客户', row 5, column C '性别' (gender): '?'")


def test_one_bad_file_stops_all_files_of_the_command(db, tmp_path):
    (tmp_path / "good.csv").write_text("customer_id\nA\nB\n", encoding="utf-8")
    (tmp_path / "bad.csv").write_text("customer_id,birth_year\nC,old\n", encoding="utf-8")
    assert main(["--db", str(db), "import", "customers", str(tmp_path / "good.csv"), str(tmp_path / "bad.csv")]) == 2
    with connect(db, read_only=True) as con:
        assert con.execute("SELECT count(*) FROM customers").fetchall() == [(0,)]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030", "utf-16"])
def test_encodings_and_number_spellings(db, tmp_path, encoding):
    (tmp_path / "c.csv").write_text("客户编号,姓名\nK1,陈静\n", encoding="utf-8")
    import_files("customers", [tmp_path / "c.csv"], db)
    text = ("单号,客户编号,日期,消费金额,类别\n"
            "T1,K1,2024年3月5日,\"1,280.50\",保养\n"
            "T2,K1,2024/3/6,￥３００,洗车\n"
            "T3,K1,20240307 ,12345.0,维修\n")
    (tmp_path / "t.csv").write_text(text, encoding=encoding)
    [r] = import_files("transactions", [tmp_path / "t.csv"], db)
    assert r.inserted == 3
    tx = read_table("transactions", db).sort_values("transaction_id")
    assert tx["amount"].tolist() == [1280.50, 300.0, 12345.0]
    assert [d.isoformat() for d in pd.to_datetime(tx["date"]).dt.date] == ["2024-03-05", "2024-03-06", "2024-03-07"]
    assert tx["category"].tolist() == ["保养", "洗车", "维修"]


def test_cli_import_exit_zero_and_env_db(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("WORKBENCH_DB", str(tmp_path / "env.duckdb"))
    (tmp_path / "c.csv").write_text("customer_id,name\nA,x\n", encoding="utf-8")
    assert main(["import", "customers", str(tmp_path / "c.csv")]) == 0
    assert "1 new" in capsys.readouterr().out
    assert (tmp_path / "env.duckdb").exists()
