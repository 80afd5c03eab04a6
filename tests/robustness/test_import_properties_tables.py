"""Property-based tests of the customers and events importers: files as people write them import exactly,
one bad cell is named precisely, and a refused import writes nothing.

Each example renders the same intended rows into one to three files of one command, each file in its own
way: encoding (UTF-8, UTF-8 with BOM, GB18030, xlsx), column order, Chinese or English header aliases in any
case or separator, missing optional and extra columns, enum and yes/no values in any accepted spelling,
numbers with thousands separators or full-width digits, dates in mixed formats or as xlsx date cells, blank
rows, and awkward text (formula-looking, emoji, very long, line breaks). The store must then hold exactly the
intended values, and importing the same files again must change nothing. A second property corrupts one cell
and checks the error names that file, row (as a spreadsheet numbers it), column and a reason, and nothing
else, with every table unchanged. xlsx title blocks and merged header cells are tried separately.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from tests.robustness.strategies import (BLANK, DATE_STYLES, ENCODINGS, awkward, dates, examples, extra_headers,
                                         fresh_copy, header_for, snapshot, spell_date, spell_number, vary_header,
                                         write_table)
from workbench.data.importer import import_files
from workbench.data.problems import ImportValidationError, column_letter
from workbench.data.schema import Column, load_schema
from workbench.data.store import connect

SCHEMA = load_schema()
TABLES = ("customers", "transactions", "events")
#: Customers already in the store: events refer to them, customer files may update them.
BASE = [{"customer_id": "C1", "name": "王伟", "gender": "M", "birth_year": 1980},
        {"customer_id": "C2", "name": "李娜", "has_children": True},
        {"customer_id": "10023", "store": "TH01"}, {"customer_id": "C4"}]
BASE_IDS = [b["customer_id"] for b in BASE]
BOOLEAN = {True: ["1", "true", "TRUE", "yes", "Y", "是", "t", "√"], False: ["0", "false", "No", "n", "否", "F", "×"]}


# --------------------------------------------------------------------------- values and spellings

def value_of(col: Column) -> st.SearchStrategy:
    """An intended typed value of a column (None: left blank)."""
    kind = col.type
    if kind == "text":
        base = awkward
    elif kind == "id":
        base = st.from_regex(r"[A-Z]{1,2}[0-9]{1,6}", fullmatch=True)
    elif kind == "enum":
        base = st.sampled_from(list(col.values))
    elif kind == "boolean":
        base = st.booleans()
    elif kind == "integer":
        base = st.integers(int(col.min), int(col.max))
    elif kind == "number":
        base = st.decimals(min_value=0, max_value=99_999, places=1, allow_nan=False)
    elif kind == "date":
        base = dates
    else:  # pragma: no cover - customers and events have no money columns
        raise AssertionError(kind)
    return base if col.required else st.one_of(st.none(), base)


def spell(draw, col: Column, value: Any, fmt: str) -> Any:
    """One legitimate spelling of ``value`` in a cell of a CSV ('csv') or xlsx ('xlsx') file."""
    if value is None:
        return draw(st.sampled_from(["", " "]))
    kind = col.type
    native = fmt == "xlsx" and draw(st.booleans())   # a typed xlsx cell rather than text
    if kind in ("text", "id"):
        if kind == "id" and native and value.isdigit() and not value.startswith("0"):
            return int(value)
        if kind == "id" and fmt == "csv" and value.isdigit() and draw(st.booleans()):
            return f"{value}.0"                      # an id column saved by Excel as a number
        return draw(st.sampled_from([value, f" {value} "]))
    if kind == "enum":
        word = draw(st.sampled_from([value, *col.values[value]]))
        return draw(st.sampled_from([word, word.upper(), word.title(), f" {word} "]))
    if kind == "boolean":
        return value if native else draw(st.sampled_from(BOOLEAN[value]))
    if kind == "integer":
        return draw(st.sampled_from([value, float(value)])) if native else spell_number(value, draw(st.integers(0, 3)))
    if kind == "number":
        return float(value) if native else spell_number(value, draw(st.integers(0, 3)))
    if kind == "date":
        if native:
            return draw(st.sampled_from([value, dt.datetime.combine(value, dt.time(9, 30))]))
        return spell_date(value, draw(st.integers(0, DATE_STYLES - 1)))
    raise AssertionError(kind)  # pragma: no cover


def typed(col: Column, value: Any) -> Any:
    """The value as the store returns it."""
    if value is None:
        return None
    if col.type == "text":
        return value.strip() or None
    if col.type == "number":
        return float(value)
    return value


# --------------------------------------------------------------------------- commands (files of one import)

@st.composite
def command(draw, table: str, max_files: int = 3) -> dict:
    """Files of one import command for ``table``: intended rows and how each file spells them."""
    spec = SCHEMA[table]
    n_files = draw(st.integers(1, max_files))
    sizes = [draw(st.integers(1, 4)) for _ in range(n_files)]
    total = sum(sizes)
    if table == "customers":  # new ids, plus maybe updates of customers already stored
        new = draw(st.lists(st.from_regex(r"N[0-9]{1,5}", fullmatch=True), min_size=total, max_size=total,
                            unique=True))
        ids = [draw(st.sampled_from(BASE_IDS)) if draw(st.integers(0, 4)) == 0 else i for i in new]
        ids = list(dict.fromkeys(ids)) + [i for i in new if i not in ids]
        keys = ids[:total]
    else:  # events: distinct dates keep rows of different files apart (no accidental overlap)
        keys = draw(st.lists(dates, min_size=total, max_size=total, unique=True))
        id_mode = draw(st.sampled_from(["none", "all", "some"]))
        event_ids = draw(st.lists(st.from_regex(r"E[0-9]{1,6}", fullmatch=True), min_size=total, max_size=total,
                                  unique=True))
    files, k = [], 0
    for f in range(n_files):
        fmt_enc = draw(st.sampled_from(ENCODINGS))
        fmt = "xlsx" if fmt_enc == "xlsx" else "csv"
        required = [c for c in spec.columns if spec.columns[c].required]
        optional = [c for c in spec.columns if not spec.columns[c].required]
        chosen = draw(st.lists(st.sampled_from(optional), unique=True, max_size=6))
        if table == "events":
            chosen = [c for c in chosen if c != "event_id"] + (["event_id"] if id_mode != "none" else [])
        columns = required + chosen
        extras = draw(st.lists(st.sampled_from(extra_headers(table)), unique=True, max_size=2))
        order = draw(st.permutations(columns + extras))
        rows: list[Any] = []
        for _ in range(sizes[f]):
            values = {c: draw(value_of(spec.columns[c])) for c in columns}
            if table == "customers":
                values["customer_id"] = keys[k]
            else:
                values["date"] = keys[k]
                values["customer_id"] = draw(st.sampled_from(BASE_IDS))
                if "event_id" in columns:
                    values["event_id"] = event_ids[k] if id_mode == "all" or draw(st.booleans()) else None
            k += 1
            rows.append(values)
            if table == "events" and values.get("event_id") is None and draw(st.integers(0, 3)) == 0:
                rows.append(dict(values))      # the same event twice in one file: both are kept
        for _ in range(draw(st.integers(0, 2))):
            rows.insert(draw(st.integers(0, len(rows))), BLANK)
        cells = [row if row is BLANK else
                 {c: spell(draw, spec.columns[c], row[c], fmt) for c in columns} for row in rows]
        for row in cells:
            if row is not BLANK:
                row.update({x: draw(awkward) for x in extras})
        headers = {c: vary_header(header_for(table, c, draw(st.integers(0, 20))), draw(st.integers(0, 5)))
                   for c in columns}
        headers.update({x: x for x in extras})
        files.append({"name": f"{table}_{f}", "encoding": fmt_enc, "order": order, "headers": headers,
                      "rows": rows, "cells": cells, "blank_style": draw(st.integers(0, 1))})
    return {"table": table, "files": files}


def render(cmd: dict, folder: Path, **kw) -> list[Path]:
    """Write every file of a command; returns their paths in order."""
    paths = []
    for f in cmd["files"]:
        rows = [c if c is BLANK else [c.get(x, "") for x in f["order"]] for c in f["cells"]]
        paths.append(write_table(folder, f["name"], [f["headers"][x] for x in f["order"]], rows, f["encoding"],
                                 blank_style=f["blank_style"], **kw))
    return paths


def sheet_row(i: int) -> int:
    """The row a spreadsheet shows for entry ``i`` of a file's rows (header = 1, blank rows counted)."""
    return 2 + i


# --------------------------------------------------------------------------- the store

@pytest.fixture(scope="module")
def base_store(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("props_tables")
    cols = ["customer_id", "name", "gender", "birth_year", "has_children", "store"]
    rows = [[str(b.get(c, "")) if b.get(c) is not None else "" for c in cols] for b in BASE]
    path = write_table(folder, "base", cols, rows, "utf-8")
    db = folder / "base.duckdb"
    import_files("customers", [path], db)
    return db


@pytest.fixture(scope="module")
def base_rows(base_store) -> dict[str, list[tuple]]:
    """The base store's rows, read once."""
    return {t: stored(base_store, t) for t in ("customers", "events")}


def stored(db: Path, table: str) -> list[tuple]:
    cols = ", ".join(f'"{c}"' for c in SCHEMA[table].columns)
    with connect(db, read_only=True) as con:
        return sorted(con.execute(f'SELECT {cols} FROM "{table}"').fetchall(), key=repr)


def expected(base: dict[str, list[tuple]], cmd: dict) -> list[tuple]:
    """What the store must hold after the command, given its rows before (``base``): customers updated by
    key (only the columns a file has), events added row by row."""
    spec = SCHEMA[cmd["table"]]
    names = list(spec.columns)
    if cmd["table"] == "customers":
        rows = {r[0]: dict(zip(names, r)) for r in base["customers"]}
        for f in cmd["files"]:
            for row in f["rows"]:
                if row is BLANK:
                    continue
                target = rows.setdefault(row["customer_id"], dict.fromkeys(names))
                target.update({c: typed(spec.columns[c], v) for c, v in row.items()})
        out = [tuple(r[c] for c in names) for r in rows.values()]
    else:
        out = list(base[cmd["table"]])
        for f in cmd["files"]:
            out += [tuple(typed(spec.columns[c], row.get(c)) for c in names) for row in f["rows"] if row is not BLANK]
    return sorted(out, key=repr)


def _compare(got: list[tuple], want: list[tuple]) -> None:
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert tuple(float(x) if isinstance(x, Decimal) else x for x in g) == w


# --------------------------------------------------------------------------- properties

@examples(16)
@given(cmd=st.one_of(command("customers"), command("events")))
def test_legitimate_files_import_exactly(base_store, base_rows, tmp_path_factory, cmd):
    folder = tmp_path_factory.mktemp("ok")
    db = fresh_copy(base_store, folder)
    paths = render(cmd, folder)
    want = expected(base_rows, cmd)
    results = import_files(cmd["table"], paths, db)
    assert [r.file for r in results] == [p.name for p in paths]
    _compare(stored(db, cmd["table"]), want)
    again = import_files(cmd["table"], paths, db)   # the same files again: nothing added, nothing changed
    assert sum(r.inserted for r in again) == 0
    _compare(stored(db, cmd["table"]), want)


BAD_VALUES = {
    "enum": ["maybe", "不知道"], "boolean": ["perhaps", "2", "yes please"],
    "integer": ["12.5", "twelve", "{max1}", "{min1}"], "number": ["-1", "lots", "1.2.3"],
    "date": ["2024-13-45", "next week", "1800-01-01", "05/03/2024", "2024-02-30"],
}


TABLE_DAMAGE = ("enum", "boolean", "integer", "number", "date", "required blank", "unknown customer", "duplicate key")


def damage(spec, f: dict, i: int) -> list[tuple[str, str, Any]]:
    """Ways to spoil row ``i`` of a file: (kind of damage, column, bad value or ('dup', earlier row))."""
    real = [j for j, r in enumerate(f["rows"]) if r is not BLANK]
    row = f["cells"][i]
    present = [c for c in f["order"] if c in spec.columns]
    out: list[tuple[str, str, Any]] = []
    for c in present:
        col = spec.columns[c]
        out += [(col.type, c, v) for v in BAD_VALUES.get(col.type, [])]
        if col.required and any(str(row[o]).strip() for o in present if o != c):
            out.append(("required blank", c, ""))
        if col.references:
            out.append(("unknown customer", c, "GHOST-1"))
        if c in spec.key and col.type == "id":
            earlier = [j for j in real if j < i and f["rows"][j].get(c) is not None]
            if earlier:
                out.append(("duplicate key", c, ("dup", earlier[0])))
    return out


@pytest.mark.parametrize("what", TABLE_DAMAGE)
@examples(3)
@given(cmd=st.one_of(command("customers"), command("events")), data=st.data())
def test_one_bad_cell_is_named_and_nothing_lands(base_store, tmp_path_factory, what, cmd, data):
    spec = SCHEMA[cmd["table"]]
    f = data.draw(st.sampled_from(cmd["files"]))
    fmt = "xlsx" if f["encoding"] == "xlsx" else "csv"
    i = data.draw(st.sampled_from([j for j, r in enumerate(f["rows"]) if r is not BLANK]))
    row = f["cells"][i]
    options = [(c, v) for w, c, v in damage(spec, f, i) if w == what]
    assume(options)                                                   # e.g. only events refer to customers
    column, bad = data.draw(st.sampled_from(options))
    folder = tmp_path_factory.mktemp("bad")
    db = fresh_copy(base_store, folder)
    if isinstance(bad, tuple):
        bad = f["cells"][bad[1]][column]
        if isinstance(bad, str):
            bad = bad.strip()
    elif "{" in bad:
        col = spec.columns[column]
        bad = bad.format(max1=int(col.max) + 1, min1=int(col.min) - 1)
    row[column] = bad if fmt == "xlsx" or not isinstance(bad, (int, float)) else str(bad)
    paths = render(cmd, folder)
    before = snapshot(db, TABLES + ("imports",))
    with pytest.raises(ImportValidationError) as info:
        import_files(cmd["table"], paths, db)
    problems = info.value.problems
    path = paths[cmd["files"].index(f)]
    letter = column_letter(f["order"].index(column))
    assert [(p.file, p.row, p.column, p.letter) for p in problems] == [(path.name, sheet_row(i), column, letter)], \
        info.value.report()
    text = str(problems[0])
    assert path.name in text and f"row {sheet_row(i)}" in text and f"column {letter}" in text
    assert problems[0].reason
    assert snapshot(db, TABLES + ("imports",)) == before


@examples(6)
@given(cmd=command("customers", max_files=1), titles=st.integers(1, 2))
def test_xlsx_title_block_above_the_header_is_named(base_store, tmp_path_factory, cmd, titles):
    """A merged title block above the header row: refused, saying which row holds the headers."""
    folder = tmp_path_factory.mktemp("title")
    db = fresh_copy(base_store, folder)
    cmd["files"][0]["encoding"] = "xlsx"
    [path] = render(cmd, folder, title=["2026年 会员名单（内部）", "导出：门店系统"][:titles])
    before = snapshot(db, TABLES + ("imports",))
    with pytest.raises(ImportValidationError) as info:
        import_files("customers", [path], db)
    [p] = info.value.problems
    assert p.file == path.name and p.row == 1 and f"row {titles + 1}" in p.reason, info.value.report()
    assert snapshot(db, TABLES + ("imports",)) == before


@examples(10)
@given(cmd=command("customers", max_files=1), data=st.data())
def test_xlsx_header_merged_over_two_columns(base_store, base_rows, tmp_path_factory, cmd, data):
    """A header typed once over two columns (merged cells): the column without a header of its own is named
    when it holds values; an empty one is ignored and the rest imports exactly."""
    folder = tmp_path_factory.mktemp("merged")
    db = fresh_copy(base_store, folder)
    f = cmd["files"][0]
    f["encoding"] = "xlsx"
    j = data.draw(st.integers(0, len(f["order"]) - 1))
    f["order"].insert(j + 1, "_under_merge")
    f["headers"]["_under_merge"] = None
    filled = data.draw(st.booleans())
    real = [r for r in f["cells"] if r is not BLANK]
    for r in real:
        r["_under_merge"] = data.draw(awkward) if filled else ""
    if filled:
        real[data.draw(st.integers(0, len(real) - 1))]["_under_merge"] = "分机 8021"
    [path] = render(cmd, folder, merge_header=(j, j + 1))
    if not filled:
        want = expected(base_rows, cmd)
        import_files("customers", [path], db)
        _compare(stored(db, "customers"), want)
        return
    before = snapshot(db, TABLES + ("imports",))
    with pytest.raises(ImportValidationError) as info:
        import_files("customers", [path], db)
    [p] = info.value.problems
    assert (p.file, p.row, p.letter) == (path.name, 1, column_letter(j + 1)), info.value.report()
    assert f"column {column_letter(j + 1)}" in str(p)
    assert snapshot(db, TABLES + ("imports",)) == before


NAME_CHARS = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏魏伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚英华玉兰红梅"
CITIES = ["北京", "上海", "广州", "深圳", "成都", "杭州", "武汉", "西安"]


@examples(8)
@given(names=st.lists(st.text(st.sampled_from(NAME_CHARS), min_size=2, max_size=3), min_size=3, max_size=8),
       cities=st.lists(st.sampled_from(CITIES), min_size=8, max_size=8), data=st.data())
def test_utf8_file_with_a_row_saved_as_gbk_is_named(base_store, tmp_path_factory, names, cities, data):
    """A UTF-8 export with one row pasted in from a GBK file: refused at that row, not read as mojibake."""
    folder = tmp_path_factory.mktemp("mixed")
    db = fresh_copy(base_store, folder)
    k = data.draw(st.integers(0, len(names) - 1))
    lines = [f"N{i},{n},{cities[i]}\n".encode("gb18030" if i == k else "utf-8") for i, n in enumerate(names)]
    path = folder / "customers_mixed.csv"
    path.write_bytes("客户编号,姓名,地区\n".encode() + b"".join(lines))
    before = snapshot(db, TABLES + ("imports",))
    with pytest.raises(ImportValidationError) as info:
        import_files("customers", [path], db)
    [p] = info.value.problems
    assert (p.file, p.row) == (path.name, k + 2) and "encoding" in p.reason, info.value.report()
    assert snapshot(db, TABLES + ("imports",)) == before
