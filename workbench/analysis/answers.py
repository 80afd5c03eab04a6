"""Read survey answers from the files the field team hands back, into one shape the validator checks.

Three sources:

* the call team's interview workbook (read by :func:`workbench.surveys.phone_workbook.read_phone_workbook`,
  which owns that layout);
* a KoboToolbox or ODK Central data export (xlsx or csv, "XML values and headers"): columns are group
  paths joined by ``/`` (Kobo) or ``-`` (ODK Central), select-multiple answers are space-separated choice
  names or one 0/1 column per option (``question/option``), submission metadata columns (``_id``,
  ``_uuid``, ``_submission_time`` ... / ``KEY``, ``SubmissionDate``, ``meta-instanceID`` ...) are read for
  the submission key, time and submitter, and otherwise ignored;
* a plain CSV or xlsx: ``case_id`` and/or ``customer_id``, optional ``status``, ``interviewer``,
  ``answered_at``, then one column per question holding choice codes (the same header rules as Kobo).

Every source gives an :class:`AnswerFile`: ``meta`` (one row per submission: file, sheet, row as a
spreadsheet shows it, submission key, case and customer ids, status, interviewer, answered_at) and
``values`` (the same rows, one text column per question, '' when empty), plus where each question's column
is, so a problem can name file, sheet, row and column.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from workbench.data.problems import Problem, column_letter
from workbench.data.readers import ReadError, detect_encoding
from workbench.errors import InputError
from workbench.surveys.phone_workbook import (COLUMNS_SHEET, META_SHEET, STATUS, WorkbookReadError,
                                              read_phone_workbook)
from workbench.surveys.template import Survey, label

META_COLUMNS = ["file", "sheet", "row", "key", "case_id", "customer_id", "status", "interviewer", "answered_at",
                "attempts", "survey_ref"]
#: Kobo and ODK Central submission metadata (read where useful, never an error).
KOBO_META = {"_id", "_uuid", "_submission_time", "_validation_status", "_notes", "_status", "_submitted_by",
             "__version__", "_version_", "_tags", "_index", "_parent_table_name", "_parent_index", "_attachments",
             "_geolocation", "_xform_id_string", "_submission__id", "_submission__uuid",
             "_submission__submission_time", "_submission__validation_status", "_submission__notes",
             "_submission__status", "_submission__submitted_by", "_submission___version__", "_submission__tags"}
ODK_META = {"SubmissionDate", "KEY", "SubmitterID", "SubmitterName", "AttachmentsPresent", "AttachmentsExpected",
            "Status", "ReviewState", "DeviceID", "Edits", "FormVersion", "instanceID", "instanceName", "meta",
            "meta-instanceID", "meta-instanceName", "meta-deprecatedID", "deprecatedID", "audit", "meta-audit"}
#: Form fields that are not questions (the workbench XLSForm's own fields and ODK's usual metadata).
FORM_FIELDS = {"start", "end", "today", "deviceid", "username", "phonenumber", "simserial", "subscriberid",
               "email", "intro", "closing", "survey_id", "customer_ref", "stratum", "case_id", "customer_id",
               "status", "interviewer", "answered_at", "call_date", "attempts", "notes", "name", "phone",
               "preferred_time", "role"}
#: Where a submission's id, time and interviewer are read from, first present column first.
KEY_COLUMNS = ("_uuid", "KEY", "meta-instanceID", "instanceID", "meta/instanceID")
TIME_COLUMNS = ("_submission_time", "SubmissionDate", "end", "answered_at", "call_date")
WHO_COLUMNS = ("interviewer", "_submitted_by", "SubmitterName", "username")
_TRUE = {"1", "1.0", "true", "True", "TRUE", "yes"}
_FULLWIDTH = str.maketrans("０１２３４５６７８９：－／．", "0123456789:-/.")
_YEAR_FIRST = r"\d{4}-\d{1,2}-\d{1,2}(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?(?:Z|[+-]\d{2}:?\d{2})?"


class AnswerReadError(InputError):
    """A file could not be read at all; ``problems`` say where and why."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("; ".join(str(p) for p in problems))


@dataclass
class AnswerFile:
    """One file's submissions: ``meta`` and ``values`` share their index; ``where`` maps (sheet, question)
    to (column letter, header); ``problems`` are faults found while reading (bad cells, unknown columns)."""

    file: str
    kind: str                      # phone_workbook / kobo / odk / csv
    meta: pd.DataFrame
    values: pd.DataFrame
    where: dict[tuple[str | None, str], tuple[str, str]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    duplicates_dropped: int = 0


def answer_columns(survey: Survey) -> list[str]:
    """The answer columns of a survey in order: every answerable question, plus ``<q>_other`` texts."""
    out = []
    for q in survey.questions:
        if q.asks:
            out.append(q.name)
            if q.other_choice is not None:
                out.append(f"{q.name}_other")
    return out


def answer_times(text: pd.Series) -> pd.Series:
    """Answer or submission times as naive timestamps (converted to UTC when the text carries an offset);
    NaT where blank or unreadable.

    Only year-first spellings are read (2026-11-05, 2026/11/5 14:30, 2026.11.05, 2026年11月5日, 20261105,
    ISO 8601 with T, Z or an offset): 05/11/2026 could be May or November, so it is not guessed.
    """
    t = text.fillna("").astype(str).str.strip().str.translate(_FULLWIDTH)
    t = t.str.replace("年", "-", regex=False).str.replace("月", "-", regex=False).str.replace("日", "", regex=False)
    t = t.str.replace(r"^(\d{4})[/.](\d{1,2})[/.](\d{1,2})", r"\1-\2-\3", regex=True)
    t = t.str.replace(r"^(\d{4})(\d{2})(\d{2})$", r"\1-\2-\3", regex=True)
    readable = t.str.fullmatch(_YEAR_FIRST).fillna(False).astype(bool)
    parsed = pd.to_datetime(t.where(readable, None), errors="coerce", utc=True, format="mixed")
    return pd.Series(parsed, index=text.index).dt.tz_localize(None)


def explode_codes(values: pd.Series) -> pd.DataFrame:
    """Space-separated answers -> one row per code (``row``: the value's index label, ``code``, ``slot``),
    splitting each distinct text once (a column of 100,000 answers has a few hundred distinct texts)."""
    v = values[values != ""]
    if v.empty:
        return pd.DataFrame({"row": pd.Series(dtype=object), "code": pd.Series(dtype=object),
                             "slot": pd.Series(dtype="int64")})
    codes, uniques = pd.factorize(v.to_numpy(dtype=object))
    parts = [str(u).split() for u in uniques]
    lengths = np.array([len(x) for x in parts], dtype=np.int64)
    flat = np.array([c for x in parts for c in x], dtype=object)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    n = lengths[codes]
    rows = np.repeat(np.arange(len(v)), n)
    offsets = np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n)
    return pd.DataFrame({"row": v.index.to_numpy()[rows], "code": flat[np.repeat(starts[codes], n) + offsets],
                         "slot": offsets + 1})


def _text(v: object) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        if v != v:
            return ""
        if v.is_integer():
            return str(int(v))
    if isinstance(v, dt.datetime):
        return v.isoformat(sep=" ")
    if isinstance(v, dt.date):
        return v.isoformat()
    return str(v).strip()


# --------------------------------------------------------------------------- interview workbook

def is_phone_workbook(path: Path) -> bool:
    if path.suffix.lower() not in (".xlsx", ".xlsm"):
        return False
    import openpyxl

    try:
        wb = openpyxl.load_workbook(path, read_only=True)
    except Exception:
        return False
    try:
        return COLUMNS_SHEET in wb.sheetnames and META_SHEET in wb.sheetnames
    finally:
        wb.close()


def read_workbook_answers(path: Path, survey: Survey) -> AnswerFile:
    """The interview workbook via the survey stage's reader (strict=False: bad cells become problems)."""
    try:
        data = read_phone_workbook(path, strict=False)
    except WorkbookReadError as exc:
        raise AnswerReadError(exc.problems or [Problem(path.name, str(exc))]) from None
    cases = data.cases
    meta = pd.DataFrame({
        "file": path.name, "sheet": cases["sheet"].astype(str), "row": cases["row"].astype("int64"),
        "key": "", "case_id": cases["case_id"].astype(str), "customer_id": cases["customer_id"].astype(str),
        "status": cases["status"].astype(str), "interviewer": cases["interviewer"].astype(str),
        "answered_at": cases["call_date"].astype(str), "attempts": cases["attempts"].astype(str),
        "survey_ref": cases["survey_id"].astype(str)}, columns=META_COLUMNS)
    meta["key"] = meta["sheet"] + "!" + meta["row"].astype(str)
    cols = answer_columns(survey)
    values = pd.DataFrame("", index=meta.index, columns=cols, dtype=object)
    if len(data.answers):
        pos = pd.Series(meta.index, index=pd.MultiIndex.from_arrays([meta["sheet"], meta["row"]]))
        a = data.answers
        rec = pos.reindex(pd.MultiIndex.from_arrays([a["sheet"].astype(str), a["row"].astype("int64")])).to_numpy()
        wide = pd.DataFrame({"rec": rec, "question": a["question"].to_numpy(), "answer": a["answer"].astype(str).to_numpy()})
        wide = wide.pivot(index="rec", columns="question", values="answer")
        for q in wide.columns:
            if q in values.columns:
                values.loc[wide.index, q] = wide[q].fillna("").to_numpy()
    where = {(r.sheet, r.question if r.kind in ("answer", "slot") else r.key): (r.column, r.header)
             for r in data.columns.itertuples(index=False) if r.kind in ("answer", "slot", "other_text")}
    for r in data.columns.itertuples(index=False):  # the first slot of a multiple-choice question names it
        if r.kind == "slot" and r.key.endswith("__1"):
            where[(r.sheet, r.question)] = (r.column, r.header)
    for r in data.columns.itertuples(index=False):
        if r.kind in ("field", "status", "tracking"):
            where[(r.sheet, r.key)] = (r.column, r.header)
    return AnswerFile(path.name, "phone_workbook", meta, values, where, list(data.problems))


# --------------------------------------------------------------------------- Kobo / ODK / plain tables

def _read_table(path: Path, encoding: str | None = None) -> tuple[list[str], list[list[str]], list[int], str | None]:
    """Header, text rows, their spreadsheet row numbers, and the sheet name (None for CSV)."""
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        import openpyxl

        try:
            wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
        except Exception as exc:
            raise AnswerReadError([Problem(path.name, f"cannot be opened as an xlsx workbook ({exc})")]) from None
        try:
            ws = wb[wb.sheetnames[0]]  # Kobo/ODK put the main submissions first, repeat groups after
            ws.reset_dimensions()      # LibreOffice and some exporters write a wrong <dimension>
            rows = [[_text(v) for v in r] for r in ws.iter_rows(values_only=True)]
            sheet = ws.title
        finally:
            wb.close()
    elif suffix in (".csv", ".txt", ".tsv"):
        if not path.exists():
            raise AnswerReadError([Problem(path.name, f"file not found: {path}")])
        raw = path.read_bytes()
        if not raw.strip():
            raise AnswerReadError([Problem(path.name, "file is empty: expected a header row and data rows")])
        try:
            enc = encoding or detect_encoding(path, raw[: 1 << 16])
        except ReadError as exc:
            raise AnswerReadError(exc.problems) from None
        try:
            text = raw.decode(enc)
        except UnicodeDecodeError as exc:
            line = raw[: exc.start].count(b"\n") + 1
            raise AnswerReadError([Problem(path.name, f"is not valid {enc} text (mixed encodings?)", row=line)]) from None
        text = text.lstrip("\ufeff")
        first = text.split("\n", 1)[0]
        delim = max((",", "\t", ";", "|"), key=first.count)
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=delim)
        records = [[c.strip() for c in rec] for rec in reader]
        if not records:
            raise AnswerReadError([Problem(path.name, "file is empty")])
        # a spreadsheet shows one row per record (a value with line breaks stays in one cell), blank lines too
        return records[0], records[1:], list(range(2, len(records) + 1)), None
    else:
        raise AnswerReadError([Problem(path.name, f"unsupported file type {suffix!r}: use .xlsx or .csv")])
    if not rows:
        raise AnswerReadError([Problem(path.name, "the sheet is empty", sheet=sheet)])
    return rows[0], rows[1:], list(range(2, len(rows) + 1)), sheet


def _split_header(h: str) -> list[str]:
    parts = [p for p in h.split("/") if p]
    if len(parts) == 1 and "-" in h:
        parts = [p for p in h.split("-") if p]
    return parts


def _unheaded_values(file: str, sheet: str | None, header: list[str], rows: list[list[str]],
                     row_numbers: list[int]) -> list[Problem]:
    """Values that no header names: a blank (or merged) header cell over a column with values, or a row with
    more fields than the header (an unquoted separator inside a value). Dropping them would lose answers."""
    problems = []
    for j, h in enumerate(header):
        first = None if h else next((i for i, r in enumerate(rows) if j < len(r) and r[j] != ""), None)
        if first is not None:
            problems.append(Problem(file, f"column {column_letter(j)} holds values (first on row {row_numbers[first]}) "
                                    "but has no header of its own (a header cell merged over two columns?); give it "
                                    "its header or delete the column", sheet=sheet, row=1, letter=column_letter(j)))
    for i, r in enumerate(rows):
        extra = [j for j in range(len(header), len(r)) if r[j] != ""]
        if extra:
            problems.append(Problem(file, f"has {len(r)} fields but the header has {len(header)}: a separator inside "
                                    "a value that is not quoted?", sheet=sheet, row=row_numbers[i],
                                    letter=column_letter(extra[0]), value=r[extra[0]]))
    return problems


def read_table_answers(path: Path, survey: Survey, *, encoding: str | None = None) -> AnswerFile:
    """A Kobo/ODK export or plain table of answers (xlsx or csv)."""
    header, rows, row_numbers, sheet = _read_table(path, encoding)
    header = [_text(h) for h in header]
    questions = {q.name: q for q in survey.questions}
    cols = answer_columns(survey)
    answerable = set(cols)
    notes = {q.name for q in survey.questions if not q.asks}
    labels = {label(q.label, g): q.name for q in survey.questions for g in survey.languages}
    problems: list[Problem] = []
    main: dict[str, int] = {}                    # question -> column position
    options: dict[str, dict[str, int]] = {}      # multiple-choice question -> option -> column position
    fields: dict[str, int] = {}                  # meta/form field -> position
    kind = "csv"
    for j, h in enumerate(header):
        if not h:
            continue
        if h in KOBO_META or h.startswith("_"):
            kind = "kobo"
            fields.setdefault(h, j)
            continue
        if h in ODK_META:
            kind = "odk" if kind == "csv" else kind
            fields.setdefault(h, j)
            continue
        parts = _split_header(h)
        last = parts[-1] if parts else h
        if last in answerable:
            if last in main:
                problems.append(Problem(path.name, f"columns {column_letter(main[last])} and {column_letter(j)} "
                                        f"both hold question {last!r}; keep one", sheet=sheet, row=1, column=last,
                                        header=h, letter=column_letter(j)))
            main[last] = j
        elif len(parts) >= 2 and parts[-2] in questions and questions[parts[-2]].type == "multiple_choice" \
                and last in {c.name for c in questions[parts[-2]].choices}:
            options.setdefault(parts[-2], {})[last] = j
        elif last in FORM_FIELDS or h in FORM_FIELDS or last in notes or last == "instanceID":
            fields.setdefault(last if last in FORM_FIELDS else h, j)
        elif h in labels or last in labels:
            problems.append(Problem(path.name, f"is a question's label, not its name ({labels.get(h, labels.get(last))}): "
                                    "export with 'XML values and headers' (Kobo) or names, not labels",
                                    sheet=sheet, row=1, column=h, header=h, letter=column_letter(j)))
        elif len(parts) >= 2 and parts[-2] in questions:
            problems.append(Problem(path.name, f"{last!r} is not an option of question {parts[-2]!r}", sheet=sheet,
                                    row=1, column=h, header=h, letter=column_letter(j)))
        else:
            problems.append(Problem(path.name, f"unknown column: not a question of survey {survey.id} nor a "
                                    "Kobo/ODK metadata field (renamed?)", sheet=sheet, row=1, column=h, header=h,
                                    letter=column_letter(j)))
    unheaded = _unheaded_values(path.name, sheet, header, rows, row_numbers)
    problems += [p for p in unheaded if p.row == 1]
    if "case_id" not in fields and "customer_id" not in fields and "customer_ref" not in fields:
        problems.append(Problem(path.name, "no case_id or customer_id column: answers cannot be matched to the "
                                "sample", sheet=sheet, row=1))
    if problems:
        raise AnswerReadError(problems)
    problems = [p for p in unheaded if p.row != 1]   # rows with extra fields: left out row by row if asked

    width = len(header)
    rows = [r + [""] * (width - len(r)) if len(r) < width else r for r in rows]
    keep = [i for i, r in enumerate(rows) if any(r)]
    grid = pd.DataFrame([rows[i][:width] for i in keep], columns=range(width), dtype=object) if keep else \
        pd.DataFrame(columns=range(width), dtype=object)
    nums = [row_numbers[i] for i in keep]

    def col(*names: str) -> pd.Series:
        for n in names:
            if n in fields:
                return grid[fields[n]].astype(str)
        return pd.Series("", index=grid.index, dtype=object)

    status = col("status")
    if "status" not in fields:
        status = pd.Series("completed", index=grid.index, dtype=object)  # a submitted form is a completed interview
    else:
        to_code = {lab: code for code, labs in STATUS.items() for lab in (code, labs["zh"], labs["en"])}
        mapped = status.map(lambda s: to_code.get(s, None if s else ""))
        for i in grid.index[mapped.isna()]:
            problems.append(Problem(path.name, "unknown status (use completed, refused, not_reached or call_back)",
                                    sheet=sheet, row=nums[i], column="status", header=header[fields["status"]],
                                    letter=column_letter(fields["status"]), value=status[i]))
        status = mapped.fillna("")
    meta = pd.DataFrame({
        "file": path.name, "sheet": sheet or "", "row": pd.Series(nums, index=grid.index, dtype="int64"),
        "key": col(*KEY_COLUMNS), "case_id": col("case_id"), "customer_id": col("customer_id", "customer_ref"),
        "status": status, "interviewer": col(*WHO_COLUMNS), "answered_at": col(*TIME_COLUMNS),
        "attempts": col("attempts"), "survey_ref": col("survey_id")}, columns=META_COLUMNS)
    values = pd.DataFrame("", index=grid.index, columns=cols, dtype=object)
    where: dict[tuple[str | None, str], tuple[str, str]] = {}
    for q, j in main.items():
        values[q] = grid[j].astype(str).to_numpy()
        where[(sheet or "", q)] = (column_letter(j), header[j])
    for q, opts in options.items():
        picked = pd.Series("", index=grid.index, dtype=object)
        order = [c.name for c in questions[q].choices]
        for opt, j in sorted(opts.items(), key=lambda kv: order.index(kv[0])):  # the survey's option order
            on = grid[j].astype(str).isin(_TRUE)
            picked = picked.where(~on, (picked + " " + opt).str.strip())
        if q in main:
            empty = values[q] == ""
            values.loc[empty, q] = picked[empty]
        else:
            values[q] = picked
            first = min(opts.values())
            where[(sheet or "", q)] = (column_letter(first), header[first])
    for name, j in fields.items():
        where[(sheet or "", name)] = (column_letter(j), header[j])
    for q in cols:
        where.setdefault((sheet or "", q), ("", q))
    return AnswerFile(path.name, kind, meta, values, where, problems)


def read_answer_file(path: str | Path, survey: Survey, *, encoding: str | None = None) -> AnswerFile:
    """Read one answers file, picking the reader by its content (interview workbook or table)."""
    path = Path(path)
    if not path.exists():
        raise AnswerReadError([Problem(path.name, f"file not found: {path}")])
    if is_phone_workbook(path):
        return read_workbook_answers(path, survey)
    return read_table_answers(path, survey, encoding=encoding)
