"""Property-based tests of the campaign call-workbook read-back: filled-in workbooks read exactly, one bad
cell is named by its address, and nothing is stored partially.

A small dealership store is scored and given a win-back round; its call workbook is written once. Each
example fills outcomes for random customers as agents type them: the dropdown label, the code, the zh or
en word in any case; contact dates as date cells, Excel serial numbers or typed text in several spellings;
attempts as numbers, text or full-width digits; notes with formula-looking text, emoji, very long text.
Agent sheets get reordered columns, inserted blank rows, rows sorted the other way and unfilled rows
deleted. The read must give exactly those outcomes, the import must store them, and importing again must
change nothing. The corruption property spoils one cell and expects a CallWorkbookError naming the sheet
and cell, with the store unchanged.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.robustness.strategies import FULLWIDTH, HOSTILE, examples, fresh_copy, snapshot, texts
from workbench.campaigns.playbook import OUTCOMES
from workbench.campaigns.rounds import create_round, read_round
from workbench.campaigns.scripts import outcome_label
from workbench.campaigns.workbook import (DATE_WINDOW_DAYS, CallWorkbookError, import_call_workbook,
                                          write_round_workbook)
from workbench.data.demo import DEMO_AS_OF, build_demo_db
from workbench.data.store import connect
from workbench.scoring import score_customers

ROUND = dt.date(2026, 11, 2)
TABLES = ("contact_attempts", "do_not_contact")
FILL = {"outcome": "结果 Outcome", "contact_date": "联系日期 Contact date", "attempts": "拨打次数 Attempts",
        "notes": "备注 Notes", "customer_id": "客户编号 Customer ID"}
NOTES = st.one_of(texts, st.sampled_from(HOSTILE[:-1] + ("长" * 20_000,)))


class Round:
    """A stored round and its call workbook (treated customers per agent sheet)."""

    def __init__(self, db: Path, round_id: str, workbook: Path, sheets: dict[str, list[str]]):
        self.db, self.round_id, self.workbook, self.sheets = db, round_id, workbook, sheets

    def __repr__(self) -> str:  # short, for hypothesis' failure reports
        return f"Round({self.round_id}, {sum(map(len, self.sheets.values()))} customers)"


@pytest.fixture(scope="module")
def round_book(tmp_path_factory) -> Round:
    folder = tmp_path_factory.mktemp("props_calls")
    db = folder / "base.duckdb"
    build_demo_db(db, "dealership", n_customers=200, seed=11, files_dir=None)
    score_customers(db, DEMO_AS_OF, "dealership")
    rid = create_round(db, "dealership_winback", ROUND).round["round_id"]
    book = write_round_workbook(db, rid, folder / "calls.xlsx", privacy="masked")
    wb = openpyxl.load_workbook(book, read_only=True)
    sheets = {}
    for ws in wb.worksheets:
        rows = list(ws.iter_rows(values_only=True))
        if rows and rows[0] and rows[0][0] == FILL["customer_id"]:
            sheets[ws.title] = [str(r[0]) for r in rows[1:] if r[0]]
    wb.close()
    assert len(sheets) >= 2 and set(read_round(db, rid).query("arm == 'treatment'")["customer_id"]) == \
        {c for ids in sheets.values() for c in ids}
    return Round(db, rid, book, sheets)


# --------------------------------------------------------------------------- how agents type

def spell_outcome(draw, code: str) -> str:
    zh, en = OUTCOMES[code]
    word = draw(st.sampled_from([outcome_label(code), code, zh, en, en.upper(), en.lower(), code.upper()]))
    return draw(st.sampled_from([word, f" {word} "]))


def spell_contact_date(draw, day: dt.date) -> Any:
    style = draw(st.integers(0, 8))
    if style == 0:
        return dt.datetime.combine(day, dt.time())
    if style == 1:
        return dt.datetime.combine(day, dt.time(14, 30))
    if style == 2:   # an Excel serial number typed into a cell formatted as a number
        return (day - dt.date(1899, 12, 30)).days + draw(st.sampled_from([0, 0.5]))
    return [day.isoformat(), f"{day.year}/{day.month}/{day.day}", f"{day.year}年{day.month}月{day.day}日",
            f"{day.isoformat()} 10:30", f"{day.year}.{day.month}.{day.day}",
            f"{day.year} 年 {day.month} 月 {day.day} 日"][style - 3]


def spell_attempts(draw, n: int | None) -> Any:
    if n is None:
        return None
    return draw(st.sampled_from([n, float(n), str(n), f" {n} ", str(n).translate(FULLWIDTH)]))


@st.composite
def filled(draw, rb: Round) -> dict:
    """Outcomes for some customers of each sheet, and how the sheets were rearranged."""
    plan = {}
    ids = [c for ids in rb.sheets.values() for c in ids]
    for cid in draw(st.lists(st.sampled_from(ids), unique=True, min_size=1, max_size=8)):
        code = draw(st.sampled_from(list(OUTCOMES)))
        day = ROUND + dt.timedelta(days=draw(st.integers(0, DATE_WINDOW_DAYS)))
        attempts = draw(st.one_of(st.none(), st.integers(0, 20)))
        notes = draw(st.one_of(st.none(), NOTES))
        plan[cid] = {"code": code, "day": day, "attempts": attempts, "notes": notes,
                     "cells": {"outcome": spell_outcome(draw, code), "contact_date": spell_contact_date(draw, day),
                               "attempts": spell_attempts(draw, attempts), "notes": notes}}
    layout = {s: {"order": draw(st.permutations(range(15))) if draw(st.booleans()) else None,
                  "reverse": draw(st.booleans()), "blanks": draw(st.integers(0, 2)),
                  "drop": draw(st.sampled_from([c for c in ids_ if c not in plan] or [None]))}
              for s, ids_ in rb.sheets.items()}
    return {"plan": plan, "layout": layout}


def _cell(ws, r: int, c: int, v: Any) -> None:
    cell = ws.cell(r, c)
    cell.value = v
    if isinstance(v, str):
        cell.data_type = "s"   # typed text stays text, even '=1+1'


def render(rb: Round, spec: dict, target: Path) -> dict[str, tuple[str, int, dict[str, str]]]:
    """Write the filled-in workbook; returns where each customer ended up (sheet, row, key -> letter)."""
    wb = openpyxl.load_workbook(rb.workbook)
    where = {}
    for sheet in rb.sheets:
        ws = wb[sheet]
        ws.protection.sheet = False
        grid = [[c.value for c in row] for row in ws.iter_rows(min_row=1, max_row=ws.max_row, max_col=15)]
        head, body = grid[0], grid[1:]
        col = {k: head.index(h) for k, h in FILL.items()}
        lay = spec["layout"][sheet]
        body = [r for r in body if r[0] != lay["drop"]]
        for r in body:
            p = spec["plan"].get(r[0])
            if p:
                for k, v in p["cells"].items():
                    r[col[k]] = v
        if lay["reverse"]:
            body.reverse()
        for k in range(lay["blanks"]):
            body.insert((k * 3) % (len(body) + 1), [None] * 15)
        order = lay["order"] or list(range(15))
        rows = [[r[j] for j in order] for r in [head, *body]]
        for r in range(1, ws.max_row + lay["blanks"] + 2):
            for c in range(1, 16):
                ws.cell(r, c).value = None
        for i, r in enumerate(rows, 1):
            for j, v in enumerate(r, 1):
                _cell(ws, i, j, v)
        new_head = rows[0]
        letters = {k: openpyxl.utils.get_column_letter(new_head.index(h) + 1) for k, h in FILL.items()}
        for i, r in enumerate(rows[1:], 2):
            cid = r[new_head.index(FILL["customer_id"])]
            if cid:
                where[cid] = (sheet, i, letters)
    wb.save(target)
    return where


def stored(db: Path) -> dict[str, tuple]:
    with connect(db, read_only=True) as con:
        rows = con.execute("SELECT customer_id, agent, outcome, attempt_date, attempts, notes "
                           "FROM contact_attempts").fetchall()
    return {r[0]: r[1:] for r in rows}


def intended(rb: Round, spec: dict) -> dict[str, tuple]:
    """What the store must hold: each planned outcome, under the agent whose sheet it was typed on."""
    agent = {c: sheet for sheet, ids in rb.sheets.items() for c in ids}   # agent sheets are named after agents
    return {c: (agent[c], p["code"], p["day"], p["attempts"], p["notes"].strip() if p["notes"] else None)
            for c, p in spec["plan"].items()}


# --------------------------------------------------------------------------- properties

@examples(10)
@given(data=st.data())
def test_filled_call_workbook_imports_exactly_and_again_changes_nothing(round_book, tmp_path_factory, data):
    spec = data.draw(filled(round_book))
    folder = tmp_path_factory.mktemp("calls_ok")
    db = fresh_copy(round_book.db, folder)
    path = folder / "calls_filled.xlsx"
    render(round_book, spec, path)
    import_call_workbook(db, path)
    assert stored(db) == intended(round_book, spec)
    dnc = {c for c, p in spec["plan"].items() if p["code"] == "do_not_contact"}
    with connect(db, read_only=True) as con:
        assert {r[0] for r in con.execute("SELECT customer_id FROM do_not_contact").fetchall()} == dnc
    import_call_workbook(db, path)                        # again: the same rows, not doubled
    assert stored(db) == intended(round_book, spec)


def call_spoilers() -> list[tuple[str, str, Any]]:
    """Ways to spoil one filled-in row: (what, column key, value typed)."""
    late = ROUND + dt.timedelta(days=DATE_WINDOW_DAYS + 1)
    out = [("outcome", "outcome", x) for x in ("maybe later", "😀", "=1+1", "已接通Reached", "@reached")]
    out += [("date", "contact_date", x) for x in ("next Tuesday", "2026-13-45", "05/11/2026", "",
                                                  dt.datetime(2025, 1, 1), late.isoformat())]
    out += [("attempts", "attempts", x) for x in ("many", "2.5", "-1", "21", 2.5)]
    out += [("customer", "customer_id", x) for x in ("X9999999", "")]
    out += [("no outcome", "outcome", ""), ("append", "customer_id", "the same customer again")]
    return out


SPOILERS = call_spoilers()


@pytest.mark.parametrize("what", sorted({w for w, _, _ in SPOILERS}))
@examples(3)
@given(data=st.data())
def test_one_bad_cell_in_a_call_workbook_is_named_and_nothing_lands(round_book, tmp_path_factory, what, data):
    spec = data.draw(filled(round_book))
    folder = tmp_path_factory.mktemp("calls_bad")
    db = fresh_copy(round_book.db, folder)
    path = folder / "calls_filled.xlsx"
    where = render(round_book, spec, path)
    import_call_workbook(db, path)                        # an earlier, clean import of this round
    cid = data.draw(st.sampled_from(sorted(spec["plan"])))
    _, key, bad = data.draw(st.sampled_from([s for s in SPOILERS if s[0] == what]))
    sheet, row, letters = where[cid]
    wb = openpyxl.load_workbook(path)
    ws = wb[sheet]
    if what == "append":                                  # the customer's row copied below the others
        new = ws.max_row + 1
        for c in range(1, 16):
            _cell(ws, new, c, ws.cell(row, c).value)
        row = new
    else:
        _cell(ws, row, openpyxl.utils.column_index_from_string(letters[key]), bad if bad != "" else None)
    wb.save(path)
    before = snapshot(db, TABLES)
    with pytest.raises(CallWorkbookError) as info:
        import_call_workbook(db, path)
    msg = str(info.value)
    assert msg.startswith(f"{path.name}:") and f"sheet '{sheet}' cell {letters[key]}{row}:" in msg, msg
    assert "nothing imported" in msg
    assert snapshot(db, TABLES) == before


@examples(3)
@given(data=st.data())
def test_renamed_agent_sheet_is_named_and_nothing_lands(round_book, tmp_path_factory, data):
    spec = data.draw(filled(round_book))
    folder = tmp_path_factory.mktemp("calls_renamed")
    db = fresh_copy(round_book.db, folder)
    path = folder / "calls_filled.xlsx"
    render(round_book, spec, path)
    import_call_workbook(db, path)
    wb = openpyxl.load_workbook(path)
    sheet = data.draw(st.sampled_from(sorted(round_book.sheets)))
    wb[sheet].title = f"{sheet}（已打完）"
    wb.save(path)
    before = snapshot(db, TABLES)
    with pytest.raises(CallWorkbookError) as info:
        import_call_workbook(db, path)
    assert f"sheet '{sheet}（已打完）'" in str(info.value) and "nothing imported" in str(info.value)
    assert snapshot(db, TABLES) == before
