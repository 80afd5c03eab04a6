"""Property-based tests of the importer: files as people really write them either import exactly or fail precisely.

Each example renders the same small table in a random but legitimate way
(column order, Chinese or English headers, encoding, number and date
spellings, blank rows, extra columns, awkward text) and checks the store ends
up with exactly the original values. A second property corrupts one cell and
checks the error names that file, row and column, and that nothing was written.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.robustness.strategies import (BLANK, amounts, awkward, dates, examples, fresh_copy, header_for,
                                         spell_amount, spell_date, write_table)
from workbench.data.importer import import_files
from workbench.data.problems import ImportValidationError
from workbench.data.store import connect, read_table

SETTINGS = examples(40)


@st.composite
def transaction_files(draw):
    n = draw(st.integers(1, 12))
    rows = [{"customer_id": draw(st.sampled_from(["C1", "C2", "C3"])), "date": draw(dates),
             "amount": draw(amounts), "category": draw(awkward)} for _ in range(n)]
    columns = draw(st.permutations(["customer_id", "date", "amount", "category"]))
    headers = [header_for("transactions", c, draw(st.integers(0, 20))) for c in columns]
    extra = draw(st.booleans())
    return {"rows": rows, "columns": columns, "headers": headers, "extra": extra,
            "amount_style": draw(st.integers(0, 3)), "date_style": draw(st.integers(0, 5)),
            "encoding": draw(st.sampled_from(["utf-8", "utf-8-sig", "gb18030", "xlsx"])),
            "blank_after": draw(st.sets(st.integers(0, n - 1), max_size=2))}


def render(spec, folder: Path) -> Path:
    table = []
    for i, row in enumerate(spec["rows"]):
        cells = {"customer_id": row["customer_id"], "date": spell_date(row["date"], spec["date_style"]),
                 "amount": spell_amount(row["amount"], spec["amount_style"]), "category": row["category"]}
        table.append([cells[c] for c in spec["columns"]] + (["ignored"] if spec["extra"] else []))
        if i in spec["blank_after"]:
            table.append(BLANK)
    headers = spec["headers"] + (["备注说明X"] if spec["extra"] else [])
    return write_table(folder, "tx", headers, table, spec["encoding"], blank_style=1)


@pytest.fixture(scope="module")
def base_store(tmp_path_factory):
    folder = tmp_path_factory.mktemp("props")
    (folder / "c.csv").write_text("customer_id\nC1\nC2\nC3\n", encoding="utf-8")
    db = folder / "base.duckdb"
    import_files("customers", [folder / "c.csv"], db)
    return db


@SETTINGS
@given(spec=transaction_files())
def test_legitimate_files_import_exactly(base_store, tmp_path_factory, spec):
    folder = tmp_path_factory.mktemp("ok")
    db = fresh_copy(base_store, folder)
    path = render(spec, folder)
    [result] = import_files("transactions", [path], db)
    assert result.inserted == len(spec["rows"])
    got = read_table("transactions", db)
    got = sorted(zip(got["customer_id"], got["date"].astype(str).str[:10], got["amount"].round(2), got["category"]))
    want = sorted((r["customer_id"], r["date"].isoformat(), float(r["amount"]), r["category"].strip() or None)
                  for r in spec["rows"])
    assert [(a, b, float(c), d) for a, b, c, d in got] == want
    [again] = import_files("transactions", [path], db)  # idempotent whatever the spelling
    assert again.inserted == 0


@SETTINGS
@given(spec=transaction_files(), which=st.integers(0, 100), how=st.sampled_from(["date", "amount", "customer"]))
def test_one_bad_cell_is_located_and_nothing_lands(base_store, tmp_path_factory, spec, which, how):
    folder = tmp_path_factory.mktemp("bad")
    db = fresh_copy(base_store, folder)
    k = which % len(spec["rows"])
    row = dict(spec["rows"][k])
    if how == "date":
        spec["rows"][k] = row | {"date": dt.date(1800, 1, 1)}
    elif how == "amount":
        spec["rows"][k] = row | {"amount": -row["amount"] - 1}
    else:
        spec["rows"][k] = row | {"customer_id": "GHOST-1"}
    path = render(spec, folder)
    with pytest.raises(ImportValidationError) as info:
        import_files("transactions", [path], db)
    sheet_row = 2 + k + sum(1 for b in spec["blank_after"] if b < k)
    column = {"date": "date", "amount": "amount", "customer": "customer_id"}[how]
    located = [p for p in info.value.problems if p.row == sheet_row and p.column == column]
    assert located, info.value.report()
    assert located[0].file == path.name and located[0].letter
    with connect(db, read_only=True) as con:
        assert con.execute("SELECT count(*) FROM transactions").fetchall() == [(0,)]
