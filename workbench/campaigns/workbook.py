"""The call team's workbook for a round, and reading the filled-in workbook back into contact attempts.

Layout (version 1, documented in ``docs/campaigns.md``):

* ``汇总 Summary`` — per agent: customers assigned and live counts per outcome (COUNTIF formulas over the
  agent's sheet), with a native stacked column chart; protected.
* ``说明 Instructions`` — what to do, the outcome codes, zh and en.
* one sheet per agent — header on row 1 (frozen with the customer id and name columns), one row per
  treated customer in priority order: customer id, name, phone (optionally masked 138****5678), tier,
  stage, reason (known / inferred), contact step, channel, time window, script (say / ask / offer), bundle;
  then the columns the agent fills in: outcome (dropdown, zh+en labels), contact date (date validation),
  attempts (whole number 0-20), notes. The sheet is protected (filters and sorting allowed); only the
  fill-in columns are unlocked.
* hidden ``_columns`` (header text -> column key), ``_rows`` (sheet, agent, customer id: the ids each
  sheet was given), ``_lists`` (outcome labels) and ``_meta`` (round id and date, layout version, language).

Read-back (:func:`read_call_workbook`) finds columns by header text (reordered columns are fine), checks
every filled cell (outcome code, date, attempts) and refuses customer ids a sheet was not given, reporting
the cell address (``sheet '王芳' cell L7``). :func:`import_call_workbook` stores the result all-or-nothing:
re-importing the same workbook replaces its rows (idempotent), and "do not contact" lands in the
``do_not_contact`` table that every later round honours.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from workbench.campaigns.playbook import OUTCOMES, Playbook, load_playbook
from workbench.campaigns.scripts import SOURCE_LABELS, bundle_text, outcome_label, render_script, script_text
from workbench.data.problems import column_letter
from workbench.data.store import connect, transaction
from workbench.errors import InputError, NotFound
from workbench.privacy import ContactPrivacy, contact_privacy, protect_contacts
from workbench.reports.files import cell_text, display_width, excel_workbook
from workbench.vocabulary import CHANNEL_LABELS, STAGE_LABELS, label

LAYOUT_VERSION = "1"
SUMMARY_SHEET, INSTRUCTIONS_SHEET = "汇总 Summary", "说明 Instructions"
COLUMNS_SHEET, ROWS_SHEET, LISTS_SHEET, META_SHEET = "_columns", "_rows", "_lists", "_meta"
SYSTEM_SHEETS = {SUMMARY_SHEET, INSTRUCTIONS_SHEET, COLUMNS_SHEET, ROWS_SHEET, LISTS_SHEET, META_SHEET}
#: key, header (zh), header (en), kind (key / info / fill), width
COLUMNS = [
    ("customer_id", "客户编号", "Customer ID", "key", 12),
    ("name", "姓名", "Name", "info", 10),
    ("phone", "电话", "Phone", "info", 14),
    ("tier", "层级", "Tier", "info", 6),
    ("stage", "阶段", "Stage", "info", 8),
    ("reason", "原因", "Reason", "info", 22),
    ("script_step", "第几次联系", "Contact no.", "info", 8),
    ("channel", "渠道", "Channel", "info", 8),
    ("time_window", "联系时间", "Time window", "info", 20),
    ("script", "话术", "Script", "info", 70),
    ("bundle", "套餐", "Bundle", "info", 36),
    ("outcome", "结果", "Outcome", "fill", 16),
    ("contact_date", "联系日期", "Contact date", "fill", 12),
    ("attempts", "拨打次数", "Attempts", "fill", 8),
    ("notes", "备注", "Notes", "fill", 30),
]
DATE_WINDOW_DAYS = 180  # contact dates must fall within the round date and this many days after it
INSTRUCTIONS = [
    ("每位坐席只填写自己的工作表，每行一位客户。请按“联系时间”和“渠道”联系客户。",
     "Each agent fills in only their own sheet, one row per customer. Contact customers by the channel and in the time window shown."),
    ("“话术”列：说 = 开场要说的话，问 = 要了解的问题（委婉地问，不要生硬追问原因），给 = 可以提供的方案或套餐。",
     "Script column: Say = what to open with, Ask = what to find out (ask gently, never bluntly why they left), Offer = the plan or bundle you may offer."),
    ("结果请从下拉框选择；联系日期填实际联系的日期；拨打次数填 0-20 的整数。",
     "Pick the outcome from the dropdown; the contact date is the day you reached (or tried) the customer; attempts is a whole number 0-20."),
    ("客户要求不再联系时，结果选“勿再联系 Do not contact”：以后所有轮次都不会再联系该客户。",
     "If the customer asks not to be contacted again, choose 'Do not contact': no later round will contact them."),
    ("请勿修改客户编号、表头或隐藏的工作表；可以筛选和排序。",
     "Do not change customer IDs, headers or the hidden sheets; filtering and sorting are fine."),
]


class CallWorkbookError(InputError):
    """A filled-in call workbook could not be read; the message lists every problem with its cell address."""


def sheet_name(name: str, taken: set[str]) -> str:
    """A valid, unique sheet name (<= 31 characters, without []:*?/\\')."""
    base = re.sub(r"[\[\]:*?/\\']", "_", str(name)).strip() or "agent"
    base = base[:31]
    out, k = base, 2
    lower = {t.lower() for t in taken}
    while out.lower() in lower or out in SYSTEM_SHEETS:
        suffix = f"~{k}"
        out, k = base[: 31 - len(suffix)] + suffix, k + 1
    taken.add(out)
    return out


def _columns(privacy: ContactPrivacy) -> list[tuple[str, str, str, str, int]]:
    """The layout for a privacy profile: COLUMNS without the fields the profile leaves out."""
    return [c for c in COLUMNS if privacy.keeps(c[0])]


def _headers(columns: list[tuple[str, str, str, str, int]]) -> list[str]:
    """Bilingual headers: '客户编号 Customer ID' (the same in both languages, so read-back never depends on it)."""
    return [f"{zh} {en}" for _, zh, en, _, _ in columns]


def call_rows(assignments: pd.DataFrame, details: pd.DataFrame, playbook: Playbook, language: str = "zh",
              privacy: str | ContactPrivacy | None = None) -> pd.DataFrame:
    """The agent-facing rows (treatment arm only), texts rendered in ``language``, in priority order;
    ``privacy`` masks phones and leaves names out (of the columns and of the scripts)."""
    privacy = contact_privacy(privacy)
    a = assignments[assignments["arm"] == "treatment"].copy()
    if "priority" in a.columns:
        a = a.sort_values(["agent", "priority"], kind="stable")
    d = details.drop_duplicates("customer_id") if details is not None and len(details) else pd.DataFrame(
        {"customer_id": pd.Series(dtype="object")})
    d = protect_contacts(d.assign(customer_id=d["customer_id"].astype(str)), privacy)
    a = a.assign(customer_id=a["customer_id"].astype(str)).merge(
        d[[c for c in ("customer_id", "name", "phone", "store") if c in d.columns]], on="customer_id", how="left")
    for c in ("name", "phone", "store"):
        if c not in a.columns:
            a[c] = None
    lang = language
    reason_lab = _reason_labels(lang)
    out = pd.DataFrame({"customer_id": a["customer_id"], "agent": a["agent"].astype(str)})
    if privacy.keeps("name"):
        out["name"] = a["name"]
    out["phone"] = a["phone"]
    out["tier"] = a["tier"]
    out["stage"] = [label(STAGE_LABELS, s, lang) for s in a["stage"]]
    out["reason"] = [f"{reason_lab.get(r, r)} ({label(SOURCE_LABELS, s, lang)})" for r, s in
                     zip(a["reason"], a["reason_source"])]
    out["script_step"] = a["script_step"]
    out["channel"] = [label(CHANNEL_LABELS, c, lang) for c in a["channel"]]
    windows = _window_lookup(playbook)
    out["time_window"] = [windows.get(w, {}).get(lang, w) if isinstance(w, str) else "" for w in a["time_window"]]
    out["script"] = [script_text(render_script(playbook, f, int(s), col, lang, name=n, agent=ag, bundle=b,
                                               valid_until=v, store=st), lang)
                     for f, s, col, n, ag, b, v, st in zip(a["reason_family"], a["script_step"], a["colour"],
                                                           a["name"], a["agent"], a["bundle"], a["valid_until"],
                                                           a["store"])]
    out["bundle"] = [bundle_text(playbook, b, v, lang) for b, v in zip(a["bundle"], a["valid_until"])]
    return out.reset_index(drop=True)


def _reason_labels(lang: str) -> dict[str, str]:
    from workbench.surveys.taxonomy import load_reason_taxonomy

    tax = load_reason_taxonomy()
    return dict(zip(tax["code"], tax["label_zh" if lang == "zh" else "label_en"]))


def _window_lookup(playbook: Playbook) -> dict[str, dict[str, str]]:
    texts = [playbook.time_default, *playbook.time_preferred.values(), *playbook.time_by_channel.values()]
    return {t.zh: {"zh": t.zh, "en": t.en} for t in texts}


def write_call_workbook(assignments: pd.DataFrame, details: pd.DataFrame, playbook: Playbook, path: str | Path, *,
                        round_id: str, round_date: Any, language: str = "zh",
                        privacy: str | ContactPrivacy | None = None,
                        created_at: dt.datetime | None = None) -> Path:
    """Write the call-team workbook of a round's treatment arm to ``path`` (see the module docstring)."""
    privacy = contact_privacy(privacy)
    rows = call_rows(assignments, details, playbook, language, privacy)
    round_date = pd.Timestamp(round_date).date()
    columns = _columns(privacy)
    headers = _headers(columns)
    keys = [c[0] for c in columns]
    col = {k: j for j, k in enumerate(keys)}
    outcome_labels = [outcome_label(c) for c in OUTCOMES]
    agents = list(dict.fromkeys(rows["agent"]))
    path = Path(path)
    big = len(rows) > 20_000
    with excel_workbook(path) as wb:
        if big:
            wb.constant_memory = True  # stream rows to disk: 200,000 rows stay well under the memory budget
        head = wb.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1, "text_wrap": True, "valign": "top",
                              "locked": True})
        wrap = wb.add_format({"text_wrap": True, "valign": "top"})
        bold = wb.add_format({"bold": True, "valign": "top"})
        fill = wb.add_format({"locked": False, "bg_color": "#FFF9E6", "border": 1, "border_color": "#DDDDDD",
                              "valign": "top"})
        fill_date = wb.add_format({"locked": False, "bg_color": "#FFF9E6", "border": 1, "border_color": "#DDDDDD",
                                   "num_format": "yyyy-mm-dd", "valign": "top"})
        text_fmt = wb.add_format({"valign": "top"})
        protect_opts = {"autofilter": True, "sort": True, "format_columns": True, "format_rows": True,
                        "select_locked_cells": True, "select_unlocked_cells": True}

        taken: set[str] = set(SYSTEM_SHEETS)
        names = {a: sheet_name(a, taken) for a in agents}

        # summary: live counts per agent and outcome, with a native chart
        ws = wb.add_worksheet(SUMMARY_SHEET)
        sum_head = ["坐席 Agent", "客户数 Customers", *outcome_labels, "未填写 Not filled in"]
        for j, h in enumerate(sum_head):
            ws.write_string(0, j, h, head)
        ws.set_column(0, 0, 14)
        ws.set_column(1, len(sum_head) - 1, 12)
        counts = rows.groupby("agent", sort=False).size()
        last_row = {a: int(counts[a]) + 1 for a in agents}
        out_col = column_letter(col["outcome"])
        for i, a in enumerate(agents, 1):
            ref = f"'{names[a]}'!${out_col}$2:${out_col}${last_row[a]}"
            ws.write_string(i, 0, a)
            ws.write_number(i, 1, int(counts[a]))
            for k, lab in enumerate(outcome_labels):
                ws.write_formula(i, 2 + k, f'=COUNTIF({ref},"{lab}")', None, 0)
            ws.write_formula(i, len(sum_head) - 1, f"=B{i + 1}-SUM(C{i + 1}:{column_letter(len(sum_head) - 2)}{i + 1})",
                             None, int(counts[a]))
        total = len(agents) + 1
        ws.write_string(total, 0, "合计 Total", bold)
        for j in range(1, len(sum_head)):
            letter = column_letter(j)
            value = int(counts.sum()) if j in (1, len(sum_head) - 1) else 0
            if agents:
                ws.write_formula(total, j, f"=SUM({letter}2:{letter}{total})", bold, value)
            else:  # nobody to call: a plain 0, not a reversed range
                ws.write_number(total, j, 0, bold)
        chart = wb.add_chart({"type": "column", "subtype": "stacked"})
        for j in range(2, len(sum_head)):
            chart.add_series({"name": [SUMMARY_SHEET, 0, j], "categories": [SUMMARY_SHEET, 1, 0, len(agents), 0],
                              "values": [SUMMARY_SHEET, 1, j, len(agents), j]})
        chart.set_title({"name": f"联系结果 Contact outcomes — {round_id}"})
        chart.set_y_axis({"name": "客户数 Customers"})
        chart.set_size({"width": 900, "height": 420})
        ws.insert_chart(total + 2, 0, chart)
        ws.freeze_panes(1, 1)
        ws.protect("", protect_opts)

        ws = wb.add_worksheet(INSTRUCTIONS_SHEET)
        ws.set_column(0, 0, 6)
        ws.set_column(1, 2, 70)
        for i, (k, v) in enumerate([("round", round_id), ("date", round_date.isoformat()),
                                    ("playbook", f"{playbook.label.zh} / {playbook.label.en}")]):
            ws.write_string(i, 0, k, bold)
            ws.write_string(i, 1, v, wrap)
        r = 4
        for k, (zh, en) in enumerate(INSTRUCTIONS, 1):
            ws.write_string(r, 0, str(k), bold)
            ws.write_string(r, 1, zh, wrap)
            ws.write_string(r, 2, en, wrap)
            r += 1
        r += 1
        for code, (zh, en) in OUTCOMES.items():
            ws.write_string(r, 0, "", bold)
            ws.write_string(r, 1, f"{zh} ({code})", wrap)
            ws.write_string(r, 2, f"{en} ({code})", wrap)
            r += 1

        list_ref = f"='{LISTS_SHEET}'!$A$2:$A${len(outcome_labels) + 1}"
        info_cols = [k for k, _, _, kind, _ in columns if kind != "fill"]
        for a in agents:
            mine = rows[rows["agent"] == a]
            ws = wb.add_worksheet(names[a])
            n = len(mine)
            last = max(n, 1)
            for j, (k, zh, en, kind, width) in enumerate(columns):
                w = max(width, display_width(headers[j]) // 2 + 2)
                if kind == "fill":
                    ws.set_column(j, j, w, fill_date if k == "contact_date" else fill)
                else:
                    ws.set_column(j, j, w, wrap if k in ("script", "bundle", "reason", "time_window") else text_fmt)
            for j, h in enumerate(headers):
                ws.write_string(0, j, h, head)
            ws.set_default_row(48)
            ws.set_row(0, 30)
            ws.data_validation(1, col["outcome"], last, col["outcome"], {
                "validate": "list", "source": list_ref, "error_title": "请从下拉框选择 Pick from the list",
                "error_message": "结果必须是下拉框中的一项 / The outcome must be one of the list"})
            ws.data_validation(1, col["contact_date"], last, col["contact_date"], {
                "validate": "date", "criteria": "between", "minimum": round_date,
                "maximum": round_date + dt.timedelta(days=DATE_WINDOW_DAYS),
                "error_title": "日期 Date", "error_message": f"{round_date} – "
                f"{round_date + dt.timedelta(days=DATE_WINDOW_DAYS)}"})
            ws.data_validation(1, col["attempts"], last, col["attempts"], {
                "validate": "integer", "criteria": "between", "minimum": 0, "maximum": 20})
            data = {k: mine[k].tolist() for k in info_cols}
            for i in range(n):
                for k in info_cols:
                    v = data[k][i]
                    if v is None or v is pd.NA or (isinstance(v, float) and v != v):
                        continue
                    j = col[k]
                    if k in ("tier", "script_step"):
                        ws.write_number(i + 1, j, int(v))
                    else:
                        ws.write_string(i + 1, j, cell_text(v))
            ws.freeze_panes(1, 2)
            ws.autofilter(0, 0, last, len(columns) - 1)
            ws.protect("", protect_opts)

        ws = wb.add_worksheet(LISTS_SHEET)
        ws.write_string(0, 0, "outcome")
        ws.write_string(0, 1, "code")
        for i, (code, lab) in enumerate(zip(OUTCOMES, outcome_labels), 1):
            ws.write_string(i, 0, lab)
            ws.write_string(i, 1, code)
        ws.hide()
        ws = wb.add_worksheet(COLUMNS_SHEET)
        for j, h in enumerate(("header", "key", "kind")):
            ws.write_string(0, j, h)
        for i, ((k, _, _, kind, _), h) in enumerate(zip(columns, headers), 1):
            ws.write_string(i, 0, h)
            ws.write_string(i, 1, k)
            ws.write_string(i, 2, kind)
        ws.hide()
        ws = wb.add_worksheet(ROWS_SHEET)
        for j, h in enumerate(("sheet", "agent", "customer_id")):
            ws.write_string(0, j, h)
        sheet_col = rows["agent"].map(names).tolist()
        for i, (s, a, c) in enumerate(zip(sheet_col, rows["agent"].tolist(), rows["customer_id"].tolist()), 1):
            ws.write_string(i, 0, s)
            ws.write_string(i, 1, a)
            ws.write_string(i, 2, c)
        ws.hide()
        ws = wb.add_worksheet(META_SHEET)
        meta = [("layout_version", LAYOUT_VERSION), ("kind", "winback_call_workbook"), ("round_id", round_id),
                ("round_date", round_date.isoformat()), ("playbook", playbook.id), ("language", language),
                ("privacy", privacy.name), ("masked_phones", str(privacy.mask_phones)),
                ("created_at", (created_at or dt.datetime.now()).isoformat(timespec="seconds"))]
        ws.write_string(0, 0, "key")
        ws.write_string(0, 1, "value")
        for i, (k, v) in enumerate(meta, 1):
            ws.write_string(i, 0, k)
            ws.write_string(i, 1, v)
        ws.hide()
        wb.worksheets()[0].activate()
    return path


def write_round_workbook(db: str | Path | None, round_id: str, path: str | Path, *, language: str = "zh",
                         privacy: str | ContactPrivacy | None = None, playbook: Playbook | None = None) -> Path:
    """The call-team workbook of a stored round (reads its assignments and the customers' names and phones);
    ``privacy`` is the profile of :mod:`workbench.privacy` (``outside_call_centre`` masks and drops names)."""
    from workbench.campaigns.rounds import read_round

    a = read_round(db, round_id)
    pb = playbook or load_playbook(_playbook_ref(db, round_id))
    ids = a.loc[a["arm"] == "treatment", "customer_id"].astype(str)
    with connect(db, read_only=True) as con:
        con.register("_ids", pd.DataFrame({"customer_id": ids}))
        details = con.sql("SELECT c.customer_id, c.name, c.phone, c.store FROM customers c "
                          "JOIN _ids USING (customer_id)").df()
    return write_call_workbook(a, details, pb, path, round_id=round_id, round_date=a["round_date"].iloc[0]
                               if len(a) else dt.date.today(), language=language, privacy=privacy)


def _playbook_ref(db: str | Path | None, round_id: str) -> str:
    with connect(db, read_only=True) as con:
        rows = con.execute("SELECT playbook, playbook_file FROM rounds WHERE round_id = ?", [round_id]).fetchall()
    if not rows:
        raise NotFound(f"no round {round_id!r} in {db}")
    name, file = rows[0]
    return file if file and Path(file).exists() else name


# --------------------------------------------------------------------------- read-back


@dataclass(frozen=True)
class CallResults:
    """``attempts``: one row per customer with an outcome (round_id, customer_id, agent, sheet, outcome,
    attempt_date, attempts, notes, cell); ``assigned``: every customer id the workbook was given (sheet, agent,
    customer_id, ``returned``: whether its row came back; an import replaces stored results of those only)."""

    round_id: str
    attempts: pd.DataFrame
    assigned: pd.DataFrame


def _frame(wb, name: str) -> pd.DataFrame:
    rows = list(wb[name].iter_rows(values_only=True))
    if not rows:
        return pd.DataFrame()
    width = len(rows[0])
    return pd.DataFrame([list(r)[:width] for r in rows[1:]], columns=[str(h) for h in rows[0]])


def _text(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v).strip()


def _parse_date(v: Any) -> dt.date | None:
    if isinstance(v, dt.datetime):
        return v.date()
    if isinstance(v, dt.date):
        return v
    if isinstance(v, (int, float)) and not isinstance(v, bool) and 20000 < v < 80000:
        return (dt.datetime(1899, 12, 30) + dt.timedelta(days=float(v))).date()  # an Excel serial typed as a number
    text = _text(v)
    m = re.fullmatch(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?:[ T].*)?", text)
    if m:
        try:
            return dt.date(int(m[1]), int(m[2]), int(m[3]))
        except ValueError:
            return None
    return None


def read_call_workbook(path: str | Path) -> CallResults:
    """Read a filled-in call workbook (all or nothing; see the module docstring for the checks)."""
    import openpyxl

    path = Path(path)
    if not path.is_file():
        raise CallWorkbookError(f"{path}: no such file")
    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # zip/xml errors: not an xlsx at all (an empty or renamed file, a .xls, a CSV)
        raise CallWorkbookError(f"{path.name}: cannot be opened as an xlsx workbook ({type(exc).__name__}: {exc}); "
                                "save it from Excel or LibreOffice as .xlsx") from exc
    problems: list[str] = []
    try:
        for name in (COLUMNS_SHEET, ROWS_SHEET, LISTS_SHEET, META_SHEET):
            if name not in wb.sheetnames:
                raise CallWorkbookError(f"{path.name}: sheet {name!r} is missing: not a workbench call workbook")
        meta = {str(k): _text(v) for k, v in _frame(wb, META_SHEET).itertuples(index=False)}
        if meta.get("kind") != "winback_call_workbook":
            raise CallWorkbookError(f"{path.name}: not a win-back call workbook (sheet {META_SHEET!r})")
        round_id = meta["round_id"]
        round_date = dt.date.fromisoformat(meta["round_date"])
        last_day = round_date + dt.timedelta(days=DATE_WINDOW_DAYS)
        by_header = {str(h): str(k) for h, k, _ in _frame(wb, COLUMNS_SHEET).itertuples(index=False)}
        lists = _frame(wb, LISTS_SHEET)
        to_code: dict[str, str] = {}
        for lab, code in lists.itertuples(index=False):
            zh, en = OUTCOMES[str(code)]
            for t in (lab, code, zh, en):
                to_code[_text(t).lower()] = str(code)
        assigned = _frame(wb, ROWS_SHEET).astype(str)
        given = {s: set(g["customer_id"]) for s, g in assigned.groupby("sheet")}
        agent_of = dict(zip(assigned["sheet"], assigned["agent"]))
        out = []
        present: set[str] = set()  # customers whose rows came back (a deleted row keeps its stored result)
        problems += [f"sheet {s!r} is missing (deleted or renamed?): its customers' results cannot be read"
                     for s in given if s not in wb.sheetnames]
        for sheet in wb.sheetnames:
            if sheet in SYSTEM_SHEETS or sheet not in given:
                if sheet not in SYSTEM_SHEETS:
                    problems.append(f"sheet {sheet!r}: not an agent sheet of this workbook (sheets must keep their names)")
                continue
            it = wb[sheet].iter_rows(values_only=True)
            header = next(it, None)
            if header is None:
                continue
            colmap: dict[str, int] = {}
            for j, h in enumerate(header):
                key = by_header.get(_text(h))
                if key:
                    colmap[key] = j
                elif _text(h):
                    problems.append(f"sheet {sheet!r} cell {column_letter(j)}1: unknown header {_text(h)!r} "
                                    "(headers must stay as written)")
            missing = [k for k in ("customer_id", "outcome", "contact_date", "attempts", "notes") if k not in colmap]
            if missing:
                problems.append(f"sheet {sheet!r}: column(s) {missing} are missing (headers must stay as written)")
                continue

            def cell(key: str, i: int) -> str:
                return f"sheet {sheet!r} cell {column_letter(colmap[key])}{i}"

            seen: set[str] = set()
            for i, row in enumerate(it, start=2):
                def val(key: str) -> Any:
                    j = colmap.get(key)
                    return row[j] if j is not None and j < len(row) else None
                cid = _text(val("customer_id"))
                filled = {k: val(k) for k in ("outcome", "contact_date", "attempts", "notes")}
                if not cid:
                    if any(_text(v) for v in filled.values()):
                        problems.append(f"{cell('customer_id', i)}: results without a customer ID")
                    continue
                if cid not in given[sheet]:
                    problems.append(f"{cell('customer_id', i)}: customer ID {cid!r} was not given to this sheet "
                                    f"(customer IDs must not be edited)")
                    continue
                if cid in seen:
                    problems.append(f"{cell('customer_id', i)}: customer ID {cid!r} appears twice")
                    continue
                seen.add(cid)
                present.add(cid)
                otext = _text(filled["outcome"])
                raw_date = filled["contact_date"]
                if not otext:
                    typed = [n for k, n in (("contact_date", "a contact date"), ("attempts", "attempts"),
                                            ("notes", "notes")) if _text(filled[k])]
                    if typed:
                        problems.append(f"{cell('outcome', i)}: {' and '.join(typed)} filled in but no outcome "
                                        "(pick one from the list, e.g. not reached)")
                    continue
                code = to_code.get(otext.lower())
                if code is None:
                    problems.append(f"{cell('outcome', i)}: {otext!r} is not one of the outcomes "
                                    f"({', '.join(outcome_label(c) for c in OUTCOMES)})")
                    continue
                day = _parse_date(raw_date)
                if not _text(raw_date):
                    problems.append(f"{cell('contact_date', i)}: the contact date is missing")
                    continue
                if day is None:
                    problems.append(f"{cell('contact_date', i)}: {_text(raw_date)!r} is not a date (use 2026-11-05)")
                    continue
                if not round_date <= day <= last_day:
                    problems.append(f"{cell('contact_date', i)}: {day} is outside the round "
                                    f"({round_date} to {last_day})")
                    continue
                attempts = None
                atext = _text(filled["attempts"])
                if atext:
                    if not re.fullmatch(r"\d+", atext) or int(atext) > 20:
                        problems.append(f"{cell('attempts', i) if 'attempts' in colmap else sheet}: {atext!r} is not "
                                        f"a whole number from 0 to 20")
                        continue
                    attempts = int(atext)
                out.append({"round_id": round_id, "customer_id": cid, "agent": agent_of.get(sheet, sheet),
                            "sheet": sheet, "outcome": code, "attempt_date": day, "attempts": attempts,
                            "notes": _text(filled["notes"]) or None,
                            "cell": f"{column_letter(colmap['outcome'])}{i}"})
    finally:
        wb.close()
    if problems:
        raise CallWorkbookError(f"{path.name}: {len(problems)} problem(s), nothing imported:\n  "
                                + "\n  ".join(problems[:100]))
    cols = ["round_id", "customer_id", "agent", "sheet", "outcome", "attempt_date", "attempts", "notes", "cell"]
    assigned = assigned.assign(returned=assigned["customer_id"].isin(present))
    return CallResults(round_id, pd.DataFrame(out, columns=cols), assigned)


def import_call_workbook(db: str | Path | None, path: str | Path) -> pd.DataFrame:
    """Store a filled-in workbook's outcomes in ``contact_attempts`` (replacing what an earlier import of the
    same round and customers stored) and its do-not-contact requests in ``do_not_contact``; one transaction.

    Returns the attempts stored. The round's assignments fix each attempt's channel.
    """
    res = read_call_workbook(path)
    path = Path(path)
    with connect(db) as con:
        rows = con.execute("SELECT customer_id, channel, arm FROM assignments WHERE round_id = ?",
                           [res.round_id]).df()
        if not len(rows):
            raise CallWorkbookError(f"{path.name}: round {res.round_id!r} is not in the store {db}")
        arm = dict(zip(rows["customer_id"].astype(str), rows["arm"]))
        wrong = sorted(c for c in res.assigned["customer_id"] if arm.get(c) != "treatment")
        if wrong:
            raise CallWorkbookError(f"{path.name}: {len(wrong)} customer(s) of the workbook are not in the round's "
                                    f"treatment arm (e.g. {wrong[:3]}); nothing imported")
        att = res.attempts.assign(channel=res.attempts["customer_id"].map(dict(zip(rows["customer_id"].astype(str),
                                                                                  rows["channel"]))),
                                  source_file=path.name)
        att = att[["round_id", "customer_id", "attempt_date", "channel", "agent", "outcome", "notes", "source_file",
                   "attempts"]]
        ids = pd.DataFrame({"customer_id": res.assigned.loc[res.assigned["returned"], "customer_id"].astype(str)})
        con.register("_att", att)
        con.register("_ids", ids)
        try:
            with transaction(con):
                con.execute("DELETE FROM contact_attempts WHERE round_id = ? AND customer_id IN (SELECT customer_id FROM _ids)",
                            [res.round_id])
                con.execute("INSERT INTO contact_attempts BY NAME SELECT *, now()::TIMESTAMP AS imported_at FROM _att")
                con.execute("""INSERT OR IGNORE INTO do_not_contact
                               SELECT customer_id, round_id, source_file, now()::TIMESTAMP FROM _att
                               WHERE outcome = 'do_not_contact'""")
        finally:
            con.unregister("_att")
            con.unregister("_ids")
    return att.reset_index(drop=True)


def outcome_counts(attempts: pd.DataFrame) -> pd.DataFrame:
    """Outcomes per agent as a tidy frame (agent, outcome, customers)."""
    if not len(attempts):
        return pd.DataFrame(columns=["agent", "outcome", "customers"])
    return attempts.groupby(["agent", "outcome"]).size().rename("customers").reset_index()


__all__ = ["CallResults", "CallWorkbookError", "import_call_workbook", "read_call_workbook", "write_call_workbook",
           "write_round_workbook", "call_rows", "outcome_counts"]
