"""Property-based tests of the survey-answer importer: exports and workbooks as the field team hands them
back either import exactly or fail naming file, sheet, row and column, never partially.

The survey is the car after-sales churn template (skip logic, single and multiple choice with "other,
please specify", ratings, a bounded number, free text), designed on a small demo store. Each example draws
interviews that obey the survey (statuses, partial answers for refusals, skip logic) and renders them as
one or two files of one import: a KoboToolbox or ODK Central export (group paths, 0/1 option columns,
metadata, an overlapping export row), a plain table (case and/or customer id, status as a code or a zh/en
label, interviewer, answer time in mixed spellings, attempts), or the call team's interview workbook
filled in by hand (labels or codes, typed numbers and dates, reordered columns, inserted blank rows).
Encodings: UTF-8, UTF-8 with BOM, GB18030, xlsx. Answers carry awkward text (formula-looking, emoji, very
long, line breaks). The corruption properties spoil one cell and expect an ImportValidationError whose
problems name that cell (and nothing outside its row), with the store unchanged.
"""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from tests.robustness.strategies import (BLANK, ENCODINGS, HOSTILE, examples, fresh_copy, snapshot, texts,
                                         write_table)
from workbench.analysis.answers import answer_columns
from workbench.analysis.importer import import_responses, read_responses
from workbench.analysis.survey_store import load_fielded_survey
from workbench.data.demo import build_demo_db
from workbench.data.problems import ImportValidationError, column_letter
from workbench.surveys.design import design_survey, save_design, target_population
from workbench.surveys.phone_workbook import CHOICES_SHEET, COLUMNS_SHEET, STATUS, write_phone_workbook
from workbench.surveys.template import Survey, label

SID = "churn_props"
TABLES = ("survey_cases", "survey_responses", "imports")
ANSWER_TEXT = st.one_of(texts, st.sampled_from(HOSTILE))
WHEN = st.datetimes(min_value=dt.datetime(2026, 11, 2), max_value=dt.datetime(2026, 12, 31)).map(
    lambda t: t.replace(second=0, microsecond=0))


class Field:
    """The fielded survey in a small store, and a call workbook for a dozen of its cases."""

    def __init__(self, db: Path, survey: Survey, sample: pd.DataFrame, workbook: Path):
        self.db, self.survey, self.sample, self.workbook = db, survey, sample, workbook

    def __repr__(self) -> str:  # short, for hypothesis' failure reports
        return f"Field({self.db.name}, {len(self.sample)} cases)"


@pytest.fixture(scope="module")
def field(tmp_path_factory) -> Field:
    folder = tmp_path_factory.mktemp("props_responses")
    db = folder / "base.duckdb"
    build_demo_db(db, "dealership", n_customers=120, seed=11, files_dir=None)
    design = design_survey("car_aftersales_churn", target_population(db), strata=["age_band"], margin=0.2,
                           interviewers=("王芳", "李强"), seed=1, survey_id=SID)
    save_design(design, db)
    fielded = load_fielded_survey(db, SID)
    cases = design.sample.groupby("interviewer").head(6)
    book = write_phone_workbook(fielded.survey, cases, folder / "calls.xlsx", survey_id=SID, seed=1)
    sample = fielded.sample.assign(case_id=fielded.sample["case_id"].astype(str))
    return Field(db, fielded.survey, sample.reset_index(drop=True), book)


# --------------------------------------------------------------------------- interviews that obey the survey

def shown(survey: Survey, name: str, ans: dict[str, str]) -> bool:
    """Whether question ``name`` is asked given the answers so far (its show_if conditions)."""
    for c in survey.question(name).show_if:
        ref = survey.question(c.question)
        v = ans.get(c.question, "")
        if c.values is not None:
            wanted = {str(int(x)) if isinstance(x, float) and x.is_integer() else str(x) for x in c.values}
            ok = bool(set(v.split()) & wanted) if ref.type == "multiple_choice" else v in wanted
        else:
            try:
                num = float(v)
            except ValueError:
                return False
            ok = (c.min is None or num >= c.min) and (c.max is None or num <= c.max)
        if not ok:
            return False
    return True


@st.composite
def interview(draw, survey: Survey, complete: bool) -> dict[str, str]:
    """Answers of one interview: every shown required question when complete, a prefix otherwise."""
    ans: dict[str, str] = {}
    stop = len(survey.questions) if complete else draw(st.integers(0, len(survey.questions)))
    for q in survey.questions[:stop]:
        if not q.asks or not shown(survey, q.name, ans):
            continue
        if not (complete and q.required) and draw(st.integers(0, 3)) == 0:
            continue
        names = [c.name for c in q.answers]
        if q.type in ("single_choice", "rating", "yes_no"):
            ans[q.name] = draw(st.sampled_from(names))
        elif q.type in ("multiple_choice", "ranking"):
            picks = draw(st.lists(st.sampled_from(names), unique=True, min_size=1,
                                  max_size=q.max_choices or len(names)))
            ans[q.name] = " ".join(picks)
        elif q.type == "number":
            ans[q.name] = str(draw(st.integers(int(q.min or 0), int(q.max if q.max is not None else 10_000))))
        else:
            ans[q.name] = draw(ANSWER_TEXT)
        other = q.other_choice
        if other is not None and other.name in ans[q.name].split() and draw(st.booleans()):
            ans[f"{q.name}_other"] = draw(ANSWER_TEXT)
    return ans


@st.composite
def interviews(draw, field: Field, n: int, only_completed: bool, pool: list[int]) -> list[dict]:
    """``n`` interviews of distinct sampled cases taken from ``pool`` (indices into the sample)."""
    picked = draw(st.lists(st.sampled_from(pool), unique=True, min_size=n, max_size=n))
    out = []
    for i in picked:
        case = field.sample.iloc[i]
        status = "completed" if only_completed else draw(st.sampled_from(list(STATUS)))
        out.append({"case_id": case["case_id"], "customer_id": str(case["customer_id"]),
                    "assigned": str(case["interviewer"]), "status": status,
                    "answers": draw(interview(field.survey, status == "completed"))})
    for rec in out:
        pool.remove(field.sample.index[field.sample["case_id"] == rec["case_id"]][0])
    return out


# --------------------------------------------------------------------------- table exports

def spell_time(t: dt.datetime, style: int) -> tuple[str, dt.datetime]:
    """An answer time as typed or exported, and the timestamp it means."""
    day = dt.datetime.combine(t.date(), dt.time())
    return [(t.isoformat(sep=" "), t), (f"{t.year}/{t.month}/{t.day} {t:%H:%M}", t), (t.isoformat(), t),
            (t.strftime("%Y-%m-%d"), day), (f"{t.year}年{t.month}月{t.day}日", day), (t.strftime("%Y%m%d"), day),
            (f"{t.year}.{t.month:02d}.{t.day:02d}", day)][style]


@st.composite
def table_file(draw, field: Field, kind: str, recs: list[dict], name: str, dupes_ok: bool = True) -> dict:
    """One export of ``recs``: Kobo / ODK Central ('kobo', 'odk') or a plain table ('plain')."""
    survey = field.survey
    enc = draw(st.sampled_from(ENCODINGS))
    xlsx = enc == "xlsx"
    sep = "-" if kind == "odk" else "/"
    group = draw(st.sampled_from(["", "grp", "g1/g2"] if kind == "kobo" else ["", "g1"]))
    pre = f"{group.replace('/', sep)}{sep}" if group else ""
    options = kind != "plain" and draw(st.booleans())
    drop_combined = options and draw(st.booleans())
    cols = answer_columns(survey)
    answered = {q for r in recs for q in r["answers"]}
    qcols = [c for c in cols if c in answered or draw(st.integers(0, 2)) == 0]
    multi = [q.name for q in survey.questions if q.type == "multiple_choice"]
    order_of = {q.name: [c.name for c in q.choices] for q in survey.questions}
    rows, want = [], []
    if kind == "plain":
        ids = draw(st.sampled_from(["both", "case", "customer"]))
        meta_cols = ([("case_id", "case_id")] if ids != "customer" else []) + \
                    ([("customer_id", "customer_id")] if ids != "case" else []) + [("status", "status")]
        meta_cols += [(c, c) for c in ("interviewer", "answered_at", "attempts", "survey_id") if draw(st.booleans())]
    elif kind == "kobo":
        meta_cols = [(c, c) for c in ("start", "end", "survey_id", "case_id", "customer_ref", "_id", "_uuid",
                                      "_submission_time", "_validation_status", "_status", "_submitted_by",
                                      "__version__", "_tags", "_index")]
    else:
        meta_cols = [(c, c) for c in ("SubmissionDate", "survey_id", "case_id", "customer_ref", "meta-instanceID",
                                      "KEY", "SubmitterID", "SubmitterName", "ReviewState", "FormVersion")]
    for k, r in enumerate(recs):
        when = draw(WHEN)
        who = draw(st.sampled_from([r["assigned"], "赵磊", ""]))
        key = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{SID}/{r['case_id']}"))   # one submission id per interview
        cell: dict[str, Any] = {"case_id": r["case_id"], "customer_id": r["customer_id"],
                                "customer_ref": r["customer_id"], "survey_id": SID, "start": when.isoformat(),
                                "end": when.isoformat(), "_id": 1000 + k, "_uuid": key, "_status": "submitted_via_web",
                                "_submitted_by": who, "__version__": "vAbc123", "_index": k + 1,
                                "meta-instanceID": f"uuid:{key}", "KEY": f"uuid:{key}", "SubmitterID": 5,
                                "SubmitterName": who, "FormVersion": "2026.1", "interviewer": who}
        stored_when: dt.datetime | None = when
        if kind == "kobo":
            cell["_submission_time"] = when if xlsx and draw(st.booleans()) else when.isoformat()
        elif kind == "odk":
            cell["SubmissionDate"] = when.isoformat() + ".000Z"
        else:
            spelled = draw(st.sampled_from(["code", "zh", "en"]))
            cell["status"] = r["status"] if spelled == "code" else STATUS[r["status"]][spelled]
            stored_when = None
            if "answered_at" in dict(meta_cols):
                if xlsx and draw(st.booleans()):
                    cell["answered_at"], stored_when = when, when
                else:
                    cell["answered_at"], stored_when = spell_time(when, draw(st.integers(0, 6)))
            attempts = draw(st.one_of(st.none(), st.integers(0, 20)))
            cell["attempts"] = "" if attempts is None else attempts if xlsx else str(attempts)
            r = {**r, "attempts": attempts if "attempts" in dict(meta_cols) else None}
        for c in qcols:
            v = r["answers"].get(c, "")
            q = next((q for q in survey.questions if q.name == c), None)
            if xlsx and v and q is not None and q.type in ("number", "rating") and draw(st.booleans()):
                v = int(v)                                     # a number typed as a number
            cell[pre + c] = v
        for q in multi if options else []:
            picked = r["answers"].get(q, "").split()
            for opt in order_of[q]:
                cell[f"{pre}{q}{sep}{opt}"] = ("1" if opt in picked else "0") if q in r["answers"] else ""
        answers = dict(r["answers"])
        if drop_combined:
            for q in multi:
                if q in answers:
                    answers[q] = " ".join(o for o in order_of[q] if o in answers[q].split())
        rows.append(cell)
        want.append({**r, "answers": answers, "answered_at": stored_when,
                     "interviewer": (who or r["assigned"]) if kind != "plain" or "interviewer" in dict(meta_cols)
                     else r["assigned"], "attempts": r.get("attempts")})
    headers = [h for h, _ in meta_cols] + [pre + c for c in qcols if not (drop_combined and c in multi)]
    if options:
        headers += [f"{pre}{q}{sep}{o}" for q in multi for o in order_of[q]]
    headers = draw(st.permutations(headers))
    dupes = 0
    if dupes_ok and kind != "plain" and draw(st.integers(0, 2)) == 0:  # an overlapping export: the same row again
        rows.append(dict(rows[draw(st.integers(0, len(rows) - 1))]))
        dupes = 1
    table: list[Any] = [[row.get(h, "") for h in headers] for row in rows]
    for _ in range(draw(st.integers(0, 2))):
        table.insert(draw(st.integers(0, len(table))), BLANK)
    at = [i for i, row in enumerate(table) if row is not BLANK]       # table index of each record
    where = {h: j for j, h in enumerate(headers)}
    colmap = {c: where[h] for c, h in [(c, c) for c, _ in meta_cols] + [(c, pre + c) for c in qcols] if h in where}
    if kind == "plain" and draw(st.booleans()):   # padded headers, as typed
        headers = [f" {h} " for h in headers]
    return {"name": name, "kind": kind, "encoding": enc, "headers": headers, "rows": table, "want": want,
            "dupes": dupes, "blank_style": draw(st.integers(0, 1)), "at": at, "colmap": colmap}


def write_file(folder: Path, f: dict) -> Path:
    return write_table(folder, f["name"], f["headers"], f["rows"], f["encoding"], blank_style=f["blank_style"])


@st.composite
def table_import(draw, field: Field, dupes_ok: bool = True) -> list[dict]:
    """One or two table exports of disjoint cases (each file its own kind and encoding)."""
    pool = list(range(len(field.sample)))
    files = []
    for k in range(draw(st.integers(1, 2))):
        kind = draw(st.sampled_from(["kobo", "odk", "plain"]))
        recs = draw(interviews(field, draw(st.integers(1, 4)), kind != "plain", pool))
        files.append(draw(table_file(field, kind, recs, f"answers_{k}", dupes_ok)))
    return files


# --------------------------------------------------------------------------- what the store must hold

def stored(db: Path) -> tuple[dict, dict]:
    cases, answers = read_responses(db, SID)
    got_cases = {r.case_id: (r.customer_id, r.status, r.interviewer,
                             None if pd.isna(r.attempts) else int(r.attempts),
                             None if pd.isna(r.answered_at) else pd.Timestamp(r.answered_at).to_pydatetime())
                 for r in cases.itertuples(index=False)}
    got_answers = {(r.case_id, r.question): r.answer for r in answers.itertuples(index=False)}
    return got_cases, got_answers


def wanted(recs: list[dict]) -> tuple[dict, dict]:
    cases = {r["case_id"]: (r["customer_id"], r["status"], r["interviewer"], r.get("attempts"), r["answered_at"])
             for r in recs}
    answers = {(r["case_id"], q): a for r in recs for q, a in r["answers"].items()}
    return cases, answers


# --------------------------------------------------------------------------- properties: exports

@examples(15)
@given(data=st.data())
def test_legitimate_exports_import_exactly(field, tmp_path_factory, data):
    files = data.draw(table_import(field))
    folder = tmp_path_factory.mktemp("resp_ok")
    db = fresh_copy(field.db, folder)
    paths = [write_file(folder, f) for f in files]
    r = import_responses(db, SID, paths)
    recs = [w for f in files for w in f["want"]]
    assert stored(db) == wanted(recs)
    assert r.cases_new == len(recs) and r.duplicates_dropped == sum(f["dupes"] for f in files)
    again = import_responses(db, SID, paths)          # the same files again: nothing changes
    assert again.cases_unchanged == len(recs) and again.cases_new == again.cases_updated == 0
    assert stored(db) == wanted(recs)


# --------------------------------------------------------------------------- properties: one bad cell

def _located(info, name: str, row: int, letter: str | None, sheet: str | None = None) -> None:
    """The error names the spoiled cell, and nothing outside its row."""
    problems = info.value.problems
    report = info.value.report()
    assert any((p.file, p.row, p.letter) == (name, row, letter) and p.reason for p in problems), report
    assert all(p.file == name and p.row == row and (sheet is None or p.sheet == sheet) for p in problems), report
    assert f"{name}" in report and f"row {row}" in report and (letter is None or f"column {letter}" in report)


def _choice(survey: Survey, name: str, exclude: str = "") -> str:
    return next(c.name for c in survey.question(name).answers if c.name != exclude)


def spoilers(field: Field, f: dict, rec: dict) -> list[tuple[str, str, Any]]:
    """Ways to spoil one record of a table file: (what, column key, new value); 'append' kinds add a row."""
    survey, cm, ans = field.survey, f["colmap"], rec["answers"]
    out: list[tuple[str, str, Any]] = []
    for q in survey.questions:
        if q.name not in cm or not q.asks:
            continue
        v = ans.get(q.name, "")
        if q.type in ("single_choice", "rating"):
            if v:
                lab = label(q.answers[-1].label, "zh")
                two = f"{v} {_choice(survey, q.name, v)}"            # two answers to a single-choice question
                out += [("code", q.name, "fashion"), ("code", q.name, lab), ("code", q.name, two)]
            elif not shown(survey, q.name, ans):
                out.append(("hidden", q.name, _choice(survey, q.name)))
        if q.type == "multiple_choice" and v:
            first = v.split()[0]
            out += [("code", q.name, f"{first} {first}"), ("code", q.name, " ".join(c.name for c in q.choices[:4]))]
        if q.type == "number" and v:
            out += [("code", q.name, x) for x in ("lots", "20001", "12.5", "-1")]
        if q.required and v and rec["status"] == "completed":
            out.append(("required", q.name, ""))
    ids = [c for c in ("case_id", "customer_id", "customer_ref") if c in cm]
    out.append(("sample", ids[0], "C9999" if ids[0] == "case_id" else "X9999"))
    if "case_id" in cm and len(ids) > 1:
        other = field.sample.loc[field.sample["case_id"] != rec["case_id"], "customer_id"].iloc[0]
        out.append(("sample", ids[1], str(other)))
    if "survey_id" in cm:
        out.append(("survey", "survey_id", "another_survey"))
    if "status" in cm:
        out.append(("status", "status", "maybe"))
        if ans:
            out.append(("status", "status", ""))
    for t in ("answered_at", "_submission_time", "SubmissionDate"):
        if t in cm:
            out += [("time", t, x) for x in ("next week", "2026-13-45", "05/11/2026")]
    if "attempts" in cm:
        out += [("attempts", "attempts", x) for x in ("many", "2.5", "-1")]
    out.append(("append", ids[0], "duplicate case"))
    if f["kind"] != "plain":
        out.append(("append", "_uuid" if f["kind"] == "kobo" else "KEY", "same id, other answers"))
    if f["encoding"] != "xlsx":
        out.append(("extra", "", "好,但贵"))
    return out


EXPORT_DAMAGE = ("code", "hidden", "required", "sample", "survey", "status", "time", "attempts", "append", "extra")


@pytest.mark.parametrize("what", EXPORT_DAMAGE)
@examples(2)
@given(data=st.data())
def test_one_bad_cell_in_an_export_is_named_and_nothing_lands(field, tmp_path_factory, what, data):
    files = data.draw(table_import(field, dupes_ok=False))
    f = data.draw(st.sampled_from(files))
    k = data.draw(st.integers(0, len(f["want"]) - 1))
    rec, i = f["want"][k], f["at"][k]
    options = [s for s in spoilers(field, f, rec) if s[0] == what]
    assume(options)                                        # e.g. a status can only be spoiled where there is one
    _, key, bad = data.draw(st.sampled_from(options))
    folder = tmp_path_factory.mktemp("resp_bad")
    db = fresh_copy(field.db, folder)
    import_responses(db, SID, [write_file(folder, x) for x in files])   # something stored already
    row = list(f["rows"][i])
    if what == "append":
        if key in ("_uuid", "KEY"):   # the same submission id again, with another suggestion
            row[f["headers"].index(next(h for h in f["headers"] if h.endswith("suggestion")))] = "改过的建议"
        else:                          # the same case again as another submission
            for h in ("_uuid", "KEY", "meta-instanceID"):
                if h in f["headers"]:
                    row[f["headers"].index(h)] = f"uuid:{uuid.uuid4()}"
        f["rows"].append(row)
        i = len(f["rows"]) - 1
        letter = column_letter(f["colmap"][key] if key in f["colmap"] else f["headers"].index(key))
    elif what == "extra":
        row.append(bad)
        f["rows"][i] = row
        letter = column_letter(len(f["headers"]))
    else:
        row[f["colmap"][key]] = bad
        f["rows"][i] = row
        letter = column_letter(f["colmap"][key])
    paths = [write_file(folder, x) for x in files]
    before = snapshot(db, TABLES)
    with pytest.raises(ImportValidationError) as info:
        import_responses(db, SID, paths)
    _located(info, paths[files.index(f)].name, 2 + i, letter)
    assert snapshot(db, TABLES) == before


# --------------------------------------------------------------------------- the interview workbook

class Book:
    """An interview workbook opened for filling in: where each case and each column key sits per sheet."""

    def __init__(self, path: Path):
        self.wb = openpyxl.load_workbook(path)
        self.layout = {str(r[0]): {"key": str(r[1]), "kind": str(r[2]), "question": str(r[3] or ""), "slot": r[4]}
                       for r in self.wb[COLUMNS_SHEET].iter_rows(min_row=2, values_only=True)}
        self.labels = {(str(q), str(c)): str(lab) for _, q, c, _, lab in
                       self.wb[CHOICES_SHEET].iter_rows(min_row=2, values_only=True)}
        self.sheets = [ws for ws in self.wb.worksheets if ws.sheet_state == "visible"
                       and not ws.title.startswith(("说明", "话术"))]

    def columns(self, ws) -> dict[str, int]:
        return {self.layout[c.value]["key"]: c.column for c in ws[1] if c.value in self.layout}

    def find(self, case_id: str) -> tuple[Any, int]:
        for ws in self.sheets:
            col = self.columns(ws)["case_id"]
            for r in range(2, ws.max_row + 1):
                if ws.cell(r, col).value == case_id:
                    return ws, r
        raise KeyError(case_id)

    def put(self, ws, row: int, key: str, value: Any) -> str:
        """Write a value as typed (text stays text); returns the cell's column letter."""
        cell = ws.cell(row, self.columns(ws)[key])
        cell.value = None if value == "" else value
        if isinstance(value, str) and value:
            cell.data_type = "s"
        return cell.column_letter


def _shuffle_columns(ws, order: list[int]) -> None:
    """Move whole columns (the header with its cells) into ``order``."""
    grid = [[c.value for c in row] for row in ws.iter_rows(min_row=1, max_row=ws.max_row, max_col=ws.max_column)]
    for r, row in enumerate(grid, 1):
        for j, src in enumerate(order, 1):
            v = row[src] if src < len(row) else None
            cell = ws.cell(r, j)
            cell.value = v
            if isinstance(v, str):
                cell.data_type = "s"


@st.composite
def filled_book(draw, field: Field) -> dict:
    """Interviews of cases in the workbook and how the callers typed them (labels or codes, typed numbers,
    date cells or typed dates), plus reordered columns and inserted blank rows."""
    book = Book(field.workbook)
    cases = [str(ws.cell(r, book.columns(ws)["case_id"]).value) for ws in book.sheets
             for r in range(2, ws.max_row + 1) if ws.cell(r, book.columns(ws)["case_id"]).value]
    pool = [i for i, c in enumerate(field.sample["case_id"]) if c in cases]
    recs = draw(interviews(field, draw(st.integers(1, 5)), False, pool))
    typing = []
    for r in recs:
        when = draw(WHEN)
        date_cell, answered = (when, when) if draw(st.booleans()) else spell_time(when, draw(st.integers(0, 6)))
        attempts = draw(st.one_of(st.none(), st.integers(0, 20)))
        status = draw(st.sampled_from([r["status"], STATUS[r["status"]]["zh"], STATUS[r["status"]]["en"]]))
        typing.append({"status": status,
                       "date": date_cell, "answered_at": answered, "attempts": attempts,
                       "attempts_cell": attempts if attempts is None or draw(st.booleans()) else str(attempts),
                       "codes": draw(st.booleans()), "numbers": draw(st.booleans())})
    moves = {ws.title: draw(st.permutations(range(ws.max_column))) if draw(st.booleans()) else None
             for ws in book.sheets}
    blanks = {ws.title: draw(st.lists(st.integers(2, ws.max_row), max_size=2)) for ws in book.sheets}
    return {"recs": recs, "typing": typing, "moves": moves, "blanks": blanks}


def fill(field: Field, spec: dict, target: Path) -> Book:
    """Fill the workbook as ``spec`` says and save it as ``target`` (the Book stays open for spoiling)."""
    book = Book(field.workbook)
    for ws in book.sheets:
        for r in sorted(spec["blanks"][ws.title], reverse=True):
            ws.insert_rows(r)
        if spec["moves"][ws.title]:
            _shuffle_columns(ws, spec["moves"][ws.title])
    for rec, how in zip(spec["recs"], spec["typing"]):
        ws, row = book.find(rec["case_id"])
        book.put(ws, row, "status", how["status"])
        book.put(ws, row, "call_date", how["date"])
        book.put(ws, row, "attempts", "" if how["attempts_cell"] is None else how["attempts_cell"])
        for key, text in rec["answers"].items():
            q = field.survey.question(key) if not key.endswith("_other") else None
            if q is None or q.type == "free_text":
                book.put(ws, row, key, text)
            elif q.type == "number":
                book.put(ws, row, key, int(text) if how["numbers"] else text)
            elif q.type in ("multiple_choice", "ranking"):
                for s, code in enumerate(text.split(), 1):
                    book.put(ws, row, f"{key}__{s}", code if how["codes"] else book.labels[(key, code)])
            else:
                book.put(ws, row, key, text if how["codes"] else book.labels[(key, text)])
    book.wb.save(target)
    return book


def book_wanted(spec: dict) -> list[dict]:
    return [{**r, "interviewer": r["assigned"], "attempts": how["attempts"], "answered_at": how["answered_at"]}
            for r, how in zip(spec["recs"], spec["typing"])]


@examples(8)
@given(data=st.data())
def test_filled_workbook_imports_exactly(field, tmp_path_factory, data):
    spec = data.draw(filled_book(field))
    folder = tmp_path_factory.mktemp("book_ok")
    db = fresh_copy(field.db, folder)
    path = folder / "calls_filled.xlsx"
    fill(field, spec, path)
    r = import_responses(db, SID, [path])
    assert stored(db) == wanted(book_wanted(spec))
    assert r.cases_new == len(spec["recs"])
    again = import_responses(db, SID, [path])
    assert again.cases_unchanged == len(spec["recs"]) and again.cases_new == again.cases_updated == 0


def book_spoilers(field: Field, rec: dict) -> list[tuple[str, str, Any]]:
    """Ways to spoil one filled-in row of the workbook: (what, column key, value typed)."""
    survey, ans = field.survey, rec["answers"]
    out: list[tuple[str, str, Any]] = [("case", "case_id", "C9999"), ("case", "case_id", ""),
                                       ("status", "status", "不知道"), ("date", "call_date", "下周二"),
                                       ("date", "call_date", "2026-13-45"), ("attempts", "attempts", "many"),
                                       ("attempts", "attempts", "2.5"), ("append", "case_id", "duplicate row")]
    other = field.sample.loc[field.sample["case_id"] != rec["case_id"], "customer_id"].iloc[0]
    out.append(("case", "customer_id", str(other)))
    if ans:
        out.append(("status", "status", ""))
    for q in survey.questions:
        if q.type in ("single_choice", "rating"):
            if ans.get(q.name):
                out.append(("answer", q.name, "超级好"))
                if q.required and rec["status"] == "completed":
                    out.append(("answer", q.name, ""))
            elif not shown(survey, q.name, ans):
                out.append(("hidden", q.name, _choice(survey, q.name)))
        if q.type == "number" and ans.get(q.name):
            out += [("answer", q.name, x) for x in ("20001", "lots")]
    return out


BOOK_DAMAGE = ("case", "status", "date", "attempts", "append", "answer", "hidden")


@pytest.mark.parametrize("what", BOOK_DAMAGE)
@examples(2)
@given(data=st.data())
def test_one_bad_cell_in_the_workbook_is_named_and_nothing_lands(field, tmp_path_factory, what, data):
    spec = data.draw(filled_book(field))
    folder = tmp_path_factory.mktemp("book_bad")
    db = fresh_copy(field.db, folder)
    path = folder / "calls_filled.xlsx"
    book = fill(field, spec, path)
    rec = data.draw(st.sampled_from(spec["recs"]))
    options = [s for s in book_spoilers(field, rec) if s[0] == what]
    assume(options)
    _, key, bad = data.draw(st.sampled_from(options))
    import_responses(db, SID, [path])                     # an earlier import of the same workbook
    ws, row = book.find(rec["case_id"])
    if what == "append":
        new = ws.max_row + 1
        for c in range(1, ws.max_column + 1):           # the whole row again, below the others
            ws.cell(new, c).value = ws.cell(row, c).value
            ws.cell(new, c).data_type = ws.cell(row, c).data_type
        row, letter = new, ws.cell(new, book.columns(ws)["case_id"]).column_letter
    else:
        letter = book.put(ws, row, key, bad)
    book.wb.save(path)
    before = snapshot(db, TABLES)
    with pytest.raises(ImportValidationError) as info:
        import_responses(db, SID, [path])
    _located(info, path.name, row, letter, sheet=ws.title)
    assert snapshot(db, TABLES) == before


@examples(4)
@given(data=st.data(), how=st.sampled_from(["rename sheet", "edit header"]))
def test_renamed_sheet_or_edited_header_is_named(field, tmp_path_factory, data, how):
    spec = data.draw(filled_book(field))
    folder = tmp_path_factory.mktemp("book_layout")
    db = fresh_copy(field.db, folder)
    path = folder / "calls_filled.xlsx"
    book = fill(field, spec, path)
    ws = data.draw(st.sampled_from(book.sheets))
    title = ws.title
    if how == "rename sheet":
        ws.title = f"{title} 已完成"
    else:
        cell = data.draw(st.sampled_from([c for c in ws[1] if c.value]))
        cell.value = f"{cell.value}（改）"
    book.wb.save(path)
    before = snapshot(db, TABLES)
    with pytest.raises(ImportValidationError) as info:
        import_responses(db, SID, [path])
    report = info.value.report()
    if how == "rename sheet":
        assert any(p.sheet == title and "missing" in p.reason for p in info.value.problems), report
    else:
        assert any(p.sheet == title and p.row == 1 and p.letter == cell.column_letter
                   for p in info.value.problems), report
    assert snapshot(db, TABLES) == before


def test_two_files_with_one_name_are_refused_by_name(field, tmp_path):
    """Problems name files by name, so two files called the same (from two folders) are refused up front."""
    paths = []
    for folder in ("week1", "week2"):
        (tmp_path / folder).mkdir()
        paths.append(write_table(tmp_path / folder, "answers", ["case_id", "status"],
                                 [[field.sample["case_id"].iloc[len(paths)], "refused"]], "utf-8"))
    with pytest.raises(ImportValidationError) as info:
        import_responses(field.db, SID, paths)
    assert [p.file for p in info.value.problems] == ["answers.csv"]
