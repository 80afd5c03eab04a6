"""The call team's interview workbook: one sheet per interviewer, dropdown answers, read back by the analysis.

Layout (documented in ``docs/surveys.md``; version in ``_meta``):

* ``说明 Instructions`` — zh and en instructions, incentive and fieldwork notes, status codes.
* ``话术 Script`` — the script read aloud in the chosen language: intro, questions, options, skip rules, closing.
* one sheet per interviewer — header on row 1 (frozen, with case id and name columns frozen too); one row
  per assigned case (main cases first, then ranked reserves); fixed caller fields, a status dropdown,
  then one column per question (multiple choice and ranking get numbered slot columns) with dropdown
  validation of the allowed answers; skip rules and the full question in the header comments.
* hidden ``_lists`` (dropdown values, referenced by range), ``_columns`` (header text -> column key,
  kind, question, slot), ``_choices`` (question, code, reason code, label shown) and ``_meta``.

Read-back (:func:`read_phone_workbook`) finds columns by their exact header text via ``_columns``, so
reordered columns are fine, and maps each shown label back to its code via ``_choices``.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from workbench.data.problems import Problem, column_letter
from workbench.errors import InputError
from workbench.privacy import ContactPrivacy, contact_privacy, protect_contacts
from workbench.reports.files import cell_text, display_width, excel_workbook
from workbench.surveys.lint import DEFAULT_SLOTS
from workbench.surveys.template import Survey, label, skip_hint

LAYOUT_VERSION = "1"
INSTRUCTIONS_SHEET = "说明 Instructions"
SCRIPT_SHEET = "话术 Script"
LISTS_SHEET, COLUMNS_SHEET, CHOICES_SHEET, META_SHEET = "_lists", "_columns", "_choices", "_meta"
SYSTEM_SHEETS = {INSTRUCTIONS_SHEET, SCRIPT_SHEET, LISTS_SHEET, COLUMNS_SHEET, CHOICES_SHEET, META_SHEET}
STATUS = {  # code -> labels; read-back accepts the code or either label
    "not_reached": {"zh": "未接通", "en": "Not reached"},
    "refused": {"zh": "拒访", "en": "Refused"},
    "completed": {"zh": "已完成", "en": "Completed"},
    "call_back": {"zh": "预约回电", "en": "Call back"},
}
FIELDS = [  # key, zh header, en header
    ("case_id", "个案编号", "Case ID"), ("customer_id", "客户编号", "Customer ID"), ("name", "姓名", "Name"),
    ("phone", "电话", "Phone"), ("preferred_time", "方便联系时间", "Preferred time"),
    ("stratum", "分层", "Stratum"), ("role", "类型", "Role"),
]
TRACKING = [("status", "状态", "Status"), ("attempts", "拨打次数", "Attempts"), ("call_date", "通话日期", "Call date")]
NOTES = ("notes", "备注", "Notes")
EXTRA_ROWS = 20  # validated empty rows below the cases, for a case added by hand

INSTRUCTIONS = [
    ("每位访问员只填写自己的工作表。每行是一位客户（个案）。", "Each interviewer fills in only their own sheet. One row per customer (case)."),
    ("先拨打“正式”个案；某分层的正式个案拒访或三次未接通后，再按顺序拨打同一分层的“备用”个案。",
     "Call the main cases first; when a main case in a stratum refuses or is not reached after three attempts, call that stratum's reserves in rank order."),
    ("状态：未接通 = 没人接或号码无效；拒访 = 客户不愿回答；已完成 = 问卷答完；预约回电 = 客户约了其他时间。",
     "Status: Not reached = no answer or invalid number; Refused = declined; Completed = all questions done; Call back = customer asked to be called at another time."),
    ("答案请从下拉框选择，不要手工输入；多选题或排序题每格填一项，从第 1 格开始填。",
     "Pick answers from the dropdowns, do not type them; for multiple-choice or ranking questions put one answer per slot, starting with slot 1."),
    ("表头批注里有完整问题和跳题规则；“仅当……时询问”的问题，条件不满足时请留空。",
     "Header comments hold the full question and its skip rule; leave a question empty when its 'ask only if' condition is not met."),
    ("选择“其他”时，请在紧随其后的“请注明”列记录客户原话。", "When 'Other' is chosen, write the customer's words in the 'please specify' column next to it."),
    ("请勿修改表头、删除列或隐藏工作表：分析程序按表头读取本文件。", "Do not edit headers, delete columns or touch the hidden sheets: the analysis reads this file by its headers."),
    ("客户表示不希望再被联系时，在备注中写明“勿扰”。", "If the customer asks not to be contacted again, write 'do not contact' in Notes."),
]


def _sheet_name(name: str, taken: set[str]) -> str:
    base = re.sub(r"[\[\]:*?/\\']", "_", name).strip() or "interviewer"
    base = base[:31]
    out, k = base, 2
    while out.lower() in {t.lower() for t in taken}:
        suffix = f"~{k}"
        out, k = base[: 31 - len(suffix)] + suffix, k + 1
    taken.add(out)
    return out


def _short(text: str, limit: int = 24) -> str:
    return text if display_width(text) <= limit else text[: max(4, limit // 2)] + "…"


@dataclass(frozen=True)
class _Col:
    header: str
    key: str
    kind: str  # field / status / tracking / answer / slot / other_text / notes
    question: str = ""
    slot: int = 0
    qtype: str = ""
    list_name: str = ""
    comment: str = ""


def _answer_columns(survey: Survey, lang: str) -> list[_Col]:
    cols: list[_Col] = []
    number = 0
    for q in survey.questions:
        number += 1
        if not q.asks:
            continue
        head = f"Q{number} {_short(label(q.label, lang))}"
        comment = "\n".join(x for x in (label(q.label, lang), skip_hint(survey, q, lang), label(q.hint, lang)) if x)
        list_name = q.name if q.type in ("single_choice", "multiple_choice", "ranking", "rating", "yes_no") else ""
        if q.type in ("multiple_choice", "ranking"):
            slots = len(q.choices) if q.type == "ranking" else (q.max_choices or min(len(q.choices), DEFAULT_SLOTS))
            for s in range(1, slots + 1):
                tag = (f"第{s}位" if lang == "zh" else f"rank {s}") if q.type == "ranking" else f"({s})"
                cols.append(_Col(f"{head} {tag}", f"{q.name}__{s}", "slot", q.name, s, q.type, list_name, comment))
        else:
            cols.append(_Col(head, q.name, "answer", q.name, 0, q.type, list_name, comment))
        other = q.other_choice
        if other is not None:
            spec = f"Q{number} 请注明其他" if lang == "zh" else f"Q{number} other, please specify"
            cols.append(_Col(spec, f"{q.name}_other", "other_text", q.name, 0, "free_text", "",
                             f"{label(other.label, lang)}: " + ("请记录客户原话" if lang == "zh" else "write the customer's words")))
    return cols


def workbook_columns(survey: Survey, language: str = "zh",
                     privacy: str | ContactPrivacy | None = None) -> list[_Col]:
    """Every column of an interviewer sheet, in order (the layout's single source of truth); the privacy
    profile leaves out the fields an outside call centre must not see."""
    g = 1 if language == "zh" else 2
    keep = contact_privacy(privacy)
    cols = [_Col(f[g], f[0], "field") for f in FIELDS if keep.keeps(f[0])]
    cols += [_Col(t[g], t[0], "status" if t[0] == "status" else "tracking", list_name="status" if t[0] == "status" else "")
             for t in TRACKING]
    cols += _answer_columns(survey, language)
    cols.append(_Col(NOTES[g], NOTES[0], "notes"))
    return cols


def _choices_frame(survey: Survey, language: str) -> pd.DataFrame:
    rows = [{"list": "status", "question": "status", "code": code, "reason": "", "label": labs[language]}
            for code, labs in STATUS.items()]
    for q in survey.questions:
        if q.type in ("single_choice", "multiple_choice", "ranking", "rating", "yes_no"):
            rows += [{"list": q.name, "question": q.name, "code": c.name, "reason": c.reason or "",
                      "label": label(c.label, language)} for c in q.answers]
    return pd.DataFrame(rows)


def write_phone_workbook(survey: Survey, cases: pd.DataFrame, path: str | Path, *, survey_id: str,
                         language: str = "zh", privacy: str | ContactPrivacy | None = None,
                         created_at: dt.datetime | None = None, seed: int | None = None) -> Path:
    """Write the call-team workbook for ``cases`` (case_id, customer_id, interviewer, role, reserve_rank,
    stratum, name, phone, preferred_time) to ``path``; ``privacy`` (see :mod:`workbench.privacy`) masks
    phones and drops names for an outside call centre."""
    if language not in survey.languages:
        raise ValueError(f"language {language!r} is not one of the survey's languages {survey.languages}")
    need = {"case_id", "customer_id", "interviewer", "role"}
    missing = need - set(cases.columns)
    if missing:
        raise KeyError(f"cases lack column(s) {sorted(missing)}")
    privacy = contact_privacy(privacy)
    cols = workbook_columns(survey, language, privacy)
    cases = protect_contacts(cases, privacy)
    choices = _choices_frame(survey, language)
    path = Path(path)
    with excel_workbook(path) as wb:
        head = wb.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1, "text_wrap": True, "valign": "top"})
        wrap = wb.add_format({"text_wrap": True, "valign": "top"})
        bold = wb.add_format({"bold": True, "valign": "top", "text_wrap": True})
        date_fmt = wb.add_format({"num_format": "yyyy-mm-dd"})
        answer_fmt = wb.add_format({"bg_color": "#FFF9E6", "border": 1, "border_color": "#DDDDDD"})

        # instructions (both languages)
        ws = wb.add_worksheet(INSTRUCTIONS_SHEET)
        ws.set_column(0, 0, 22)
        ws.set_column(1, 2, 70)
        r = 0
        for key, zh, en in [("title", survey.title["zh"], survey.title["en"]), ("survey", survey_id, survey_id),
                            ("version", survey.version, survey.version),
                            ("incentive", label(survey.incentive, "zh"), label(survey.incentive, "en")),
                            ("fieldwork", label(survey.fieldwork, "zh"), label(survey.fieldwork, "en"))]:
            ws.write_string(r, 0, key, bold)
            ws.write_string(r, 1, zh, wrap)
            ws.write_string(r, 2, en, wrap)
            r += 1
        r += 1
        ws.write_string(r, 0, "status", bold)
        for code, labs in STATUS.items():
            ws.write_string(r, 1, f"{labs['zh']} ({code})", wrap)
            ws.write_string(r, 2, f"{labs['en']} ({code})", wrap)
            r += 1
        r += 1
        for k, (zh, en) in enumerate(INSTRUCTIONS, 1):
            ws.write_string(r, 0, str(k), bold)
            ws.write_string(r, 1, zh, wrap)
            ws.write_string(r, 2, en, wrap)
            r += 1

        # script read aloud
        ws = wb.add_worksheet(SCRIPT_SHEET)
        heads = ["步骤", "代码", "朗读内容", "答案选项", "跳题规则", "访问员提示"] if language == "zh" else \
            ["Step", "Code", "Read aloud", "Answers", "Skip rule", "Interviewer hint"]
        for j, h in enumerate(heads):
            ws.write_string(0, j, h, head)
        ws.set_column(0, 1, 14)
        ws.set_column(2, 2, 60)
        ws.set_column(3, 3, 45)
        ws.set_column(4, 5, 30)
        script = [("开场" if language == "zh" else "Intro", "intro", label(survey.intro, language), "", "", "")]
        for number, q in enumerate(survey.questions, 1):
            opts = " / ".join(label(c.label, language) for c in q.answers)
            if q.randomize:
                opts += " （随机顺序）" if language == "zh" else " (random order)"
            script.append((f"Q{number}", q.name, label(q.label, language), opts, skip_hint(survey, q, language),
                           label(q.hint, language)))
        script.append(("结束" if language == "zh" else "Closing", "closing",
                       " ".join(x for x in (label(survey.closing, language), label(survey.incentive, language)) if x),
                       "", "", ""))
        for i, row in enumerate(script, 1):
            for j, v in enumerate(row):
                ws.write_string(i, j, v, wrap)
        ws.freeze_panes(1, 0)

        # dropdown values live on a hidden sheet (inline lists cap at 255 characters and split on commas)
        list_ref: dict[str, str] = {}
        groups = list(choices.groupby("list", sort=False))
        for j, (name, grp) in enumerate(groups):
            letter = column_letter(j)
            list_ref[name] = f"='{LISTS_SHEET}'!${letter}$2:${letter}${len(grp) + 1}"

        # interviewer sheets
        taken = set(SYSTEM_SHEETS)
        order = list(dict.fromkeys(cases["interviewer"].astype(str)))
        sheet_of: dict[str, str] = {}
        for interviewer in order:
            mine = cases[cases["interviewer"].astype(str) == interviewer]
            sheet_of[interviewer] = _sheet_name(interviewer, taken)
            ws = wb.add_worksheet(sheet_of[interviewer])
            last = len(mine) + EXTRA_ROWS
            for j, c in enumerate(cols):
                ws.write_string(0, j, c.header, head)
                if c.comment:
                    ws.write_comment(0, j, c.comment, {"x_scale": 2.2, "y_scale": 2.0})
                width = min(40, max(display_width(c.header), 8) + 2)
                ws.set_column(j, j, width, answer_fmt if c.kind in ("answer", "slot", "other_text") else None)
                if c.list_name:
                    ws.data_validation(1, j, last, j, {"validate": "list", "source": list_ref[c.list_name],
                                                       "error_title": "请从下拉框选择" if language == "zh" else "Pick from the list",
                                                       "error_message": c.header[:200]})
                elif c.qtype == "number":
                    q = survey.question(c.question)
                    crit = {"validate": "integer" if q.integer else "decimal", "criteria": "between",
                            "minimum": q.min if q.min is not None else -1e12,
                            "maximum": q.max if q.max is not None else 1e12}
                    ws.data_validation(1, j, last, j, crit)
                elif c.key == "attempts":
                    ws.data_validation(1, j, last, j, {"validate": "integer", "criteria": "between",
                                                       "minimum": 0, "maximum": 20})
                elif c.key == "call_date":
                    ws.data_validation(1, j, last, j, {"validate": "date", "criteria": ">=",
                                                       "minimum": dt.date(2000, 1, 1)})
                    ws.set_column(j, j, 12, date_fmt)
            for i, rec in enumerate(mine.to_dict("records"), 1):
                for j, c in enumerate(cols):
                    if c.kind != "field":
                        continue
                    if c.key == "role":
                        rank = rec.get("reserve_rank")
                        if rec["role"] == "main":
                            v = "正式" if language == "zh" else "main"
                        else:
                            v = (f"备用 {rank}" if language == "zh" else f"reserve {rank}")
                    else:
                        v = rec.get(c.key)
                    if v is None or (isinstance(v, float) and v != v) or v is pd.NA:
                        continue
                    ws.write_string(i, j, cell_text(v))
            ws.freeze_panes(1, 3)
            ws.autofilter(0, 0, max(len(mine), 1), len(cols) - 1)

        lists_ws = wb.add_worksheet(LISTS_SHEET)
        for j, (name, grp) in enumerate(groups):
            lists_ws.write_string(0, j, name)
            for i, v in enumerate(grp["label"], 1):
                lists_ws.write_string(i, j, v)
        lists_ws.hide()

        # machine-readable layout
        _hidden_frame(wb, COLUMNS_SHEET, pd.DataFrame(
            [{"header": c.header, "key": c.key, "kind": c.kind, "question": c.question, "slot": c.slot,
              "type": c.qtype, "list": c.list_name} for c in cols]))
        _hidden_frame(wb, CHOICES_SHEET, choices)
        _hidden_frame(wb, META_SHEET, pd.DataFrame(
            [("layout_version", LAYOUT_VERSION), ("survey_id", survey_id), ("template", survey.id),
             ("template_version", survey.version), ("language", language),
             ("seed", "" if seed is None else str(seed)), ("privacy", privacy.name),
             ("created_at", (created_at or dt.datetime.now()).isoformat(timespec="seconds")),
             ("interviewer_sheets", json.dumps([[sheet_of[i], i] for i in order], ensure_ascii=False))],
            columns=["key", "value"]))
    return path


def _hidden_frame(wb, name: str, df: pd.DataFrame) -> None:
    ws = wb.add_worksheet(name)
    for j, col in enumerate(df.columns):
        ws.write_string(0, j, str(col))
        for i, v in enumerate(df[col].tolist(), 1):
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                ws.write_number(i, j, v)
            else:
                ws.write_string(i, j, "" if v is None else cell_text(v))
    ws.hide()


# --------------------------------------------------------------------------- read-back


class WorkbookReadError(InputError):
    """A filled-in workbook could not be read; the message names file, sheet, row and column.

    ``problems`` holds each fault as a :class:`workbench.data.problems.Problem`."""

    def __init__(self, message: str, problems: list[Problem] | None = None):
        self.problems = list(problems or [])
        super().__init__(message)


@dataclass(frozen=True)
class PhoneWorkbookData:
    """``cases``: one row per case (survey_id, case_id, customer_id, interviewer, role, status, attempts,
    call_date, notes, sheet, row); ``answers``: one row per answered question (survey_id, case_id, customer_id,
    interviewer, status, question, answer, sheet, row, column, header) with choice codes, multiple choice and
    ranking as space-separated codes in slot order (as ODK stores them); ``columns``: where each column key
    sits on each interviewer sheet (sheet, key, question, kind, column letter, header); ``problems``: what
    was wrong (only filled when read with ``strict=False``; the bad values are left out)."""

    cases: pd.DataFrame
    answers: pd.DataFrame
    columns: pd.DataFrame = field(default_factory=pd.DataFrame)
    problems: tuple[Problem, ...] = ()


def _sheet_frame(wb, name: str) -> pd.DataFrame:
    rows = list(wb[name].iter_rows(values_only=True))
    if not rows:
        return pd.DataFrame()
    return pd.DataFrame(rows[1:], columns=[str(h) for h in rows[0]])


def _cell_text(v: object) -> str:
    if v is None:
        return ""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, (dt.datetime, dt.date)):
        return v.isoformat()
    return str(v).strip()


def _interviewer_sheets(meta: dict) -> dict[str, str]:
    """Sheet name -> interviewer as written (sheet names lose []:*?/\\' and are cut to 31 characters).
    Workbooks of layout 1 kept only the names, joined by '|'."""
    if meta.get("interviewer_sheets"):
        return {str(sheet): str(name) for sheet, name in json.loads(str(meta["interviewer_sheets"]))}
    taken = set(SYSTEM_SHEETS)
    names = [s for s in str(meta.get("interviewers") or "").split("|") if s]
    return {_sheet_name(n, taken): n for n in names}


def read_phone_workbook(path: str | Path, *, strict: bool = True) -> PhoneWorkbookData:
    """Read a filled-in call-team workbook back into tidy frames.

    ``strict`` (default): all or nothing, every problem raised at once as :class:`WorkbookReadError`.
    ``strict=False``: problems are returned in ``.problems`` and the offending values left out, so a
    caller can drop whole rows (valid-rows-only imports); a file-level fault still raises.
    """
    import openpyxl

    path = Path(path)
    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # zip/xml errors: not an xlsx at all
        raise WorkbookReadError(f"{path.name}: cannot be opened as an xlsx workbook ({exc})",
                                [Problem(path.name, f"cannot be opened as an xlsx workbook ({exc})")]) from exc
    try:
        for name in (COLUMNS_SHEET, CHOICES_SHEET, META_SHEET):
            if name not in wb.sheetnames:
                reason = f"sheet {name!r} is missing: not a workbench call workbook"
                raise WorkbookReadError(f"{path.name}: {reason}", [Problem(path.name, reason)])
        layout = _sheet_frame(wb, COLUMNS_SHEET)
        choices = _sheet_frame(wb, CHOICES_SHEET)
        meta = dict(_sheet_frame(wb, META_SHEET).itertuples(index=False))
        by_header = {str(r.header): r for r in layout.itertuples(index=False)}
        to_code: dict[str, dict[str, str]] = {}
        for r in choices.itertuples(index=False):
            m = to_code.setdefault(str(r.question), {})
            m[_cell_text(r.label)] = str(r.code)
            m[str(r.code)] = str(r.code)
        for code, labs in STATUS.items():
            to_code["status"].update({labs["zh"]: code, labs["en"]: code, code: code})
        case_rows, answer_rows, column_rows = [], [], []
        problems: list[Problem] = []
        interviewer_of = _interviewer_sheets(meta)
        for sheet_name in interviewer_of:
            if sheet_name not in wb.sheetnames:
                problems.append(Problem(path.name, f"the interviewer sheet {sheet_name!r} is missing (deleted or "
                                        "renamed?); its cases cannot be read", sheet=sheet_name))
        for sheet in wb.sheetnames:
            if sheet in SYSTEM_SHEETS:
                continue
            rows = list(wb[sheet].iter_rows(values_only=True))
            if not rows:
                continue
            header = [_cell_text(h) for h in rows[0]]
            colmap = {}
            for j, h in enumerate(header):
                if h in by_header:
                    colmap[by_header[h].key] = (j, by_header[h])
                    column_rows.append({"sheet": sheet, "key": by_header[h].key, "question": by_header[h].question,
                                        "kind": by_header[h].kind, "column": column_letter(j), "header": h})
                elif h:
                    problems.append(Problem(path.name, "unknown header (headers must stay as written)", sheet=sheet,
                                            row=1, column=h, header=h, letter=column_letter(j)))
            lost = [h for h, r in by_header.items() if r.key not in colmap and r.kind != "notes"]
            if lost:
                problems.append(Problem(path.name, f"column(s) {lost} are missing", sheet=sheet, row=1))
                continue
            for i, row in enumerate(rows[1:], start=2):
                values = {k: _cell_text(row[j]) if j < len(row) else "" for k, (j, _) in colmap.items()}
                if not values.get("case_id"):
                    if any(v for k, v in values.items() if k not in ("case_id",)):
                        j = colmap["case_id"][0]
                        problems.append(Problem(path.name, "answers without a case ID", sheet=sheet, row=i,
                                                column="case_id", header=header[j], letter=column_letter(j)))
                    continue
                status_text = values.get("status", "")
                status = to_code["status"].get(status_text) if status_text else ""
                if status is None:
                    j = colmap["status"][0]
                    problems.append(Problem(path.name, "unknown status (use the dropdown: "
                                            + " / ".join(f"{v['zh']} / {v['en']}" for v in STATUS.values()) + ")",
                                            sheet=sheet, row=i, column="status", header=header[j],
                                            letter=column_letter(j), value=status_text))
                    continue
                base = {"survey_id": meta.get("survey_id"), "case_id": values["case_id"],
                        "customer_id": values.get("customer_id", ""),
                        "interviewer": interviewer_of.get(sheet, sheet), "status": status or ""}
                case_rows.append({**base, "role": values.get("role", ""), "attempts": values.get("attempts", ""),
                                  "call_date": values.get("call_date", ""), "notes": values.get("notes", ""),
                                  "sheet": sheet, "row": i})
                where = {"sheet": sheet, "row": i}
                grouped: dict[str, list[tuple[int, str]]] = {}
                first_col: dict[str, tuple[str, str]] = {}
                for key, (j, col) in colmap.items():
                    if col.kind not in ("answer", "slot", "other_text"):
                        continue
                    text = values[key]
                    if not text:
                        continue
                    if col.kind == "other_text" or col.type in ("free_text", "number"):
                        answer_rows.append({**base, "question": key, "answer": text, **where,
                                            "column": column_letter(j), "header": header[j]})
                        continue
                    code = to_code.get(col.question, {}).get(text)
                    if code is None:
                        problems.append(Problem(path.name, "is not one of the allowed answers", sheet=sheet, row=i,
                                                column=col.question, header=header[j], letter=column_letter(j),
                                                value=text))
                        continue
                    grouped.setdefault(col.question, []).append((int(col.slot), code, column_letter(j), header[j]))
                    if col.question not in first_col or int(col.slot) <= 1:
                        first_col[col.question] = (column_letter(j), header[j])
                for q, picks in grouped.items():
                    picks.sort()
                    codes = [c for _, c, _, _ in picks]
                    repeats = [(letter, head, c) for k, (_, c, letter, head) in enumerate(picks) if c in codes[:k]]
                    for letter, head, c in repeats:  # a rank or choice given twice: never merged silently
                        problems.append(Problem(path.name, "the same answer is in two slots of this question",
                                                sheet=sheet, row=i, column=q, header=head, letter=letter, value=c))
                    if repeats:
                        continue
                    letter, head = first_col[q]
                    answer_rows.append({**base, "question": q, "answer": " ".join(codes), **where,
                                        "column": letter, "header": head})
        if problems and strict:
            raise WorkbookReadError(f"{path.name}: {len(problems)} problem(s):\n  "
                                    + "\n  ".join(str(p) for p in problems[:50]), problems)
    finally:
        wb.close()
    case_cols = ["survey_id", "case_id", "customer_id", "interviewer", "status", "role", "attempts", "call_date",
                 "notes", "sheet", "row"]
    ans_cols = ["survey_id", "case_id", "customer_id", "interviewer", "status", "question", "answer", "sheet", "row",
                "column", "header"]
    return PhoneWorkbookData(pd.DataFrame(case_rows, columns=case_cols), pd.DataFrame(answer_rows, columns=ans_cols),
                             pd.DataFrame(column_rows, columns=["sheet", "key", "question", "kind", "column", "header"]),
                             tuple(problems))
