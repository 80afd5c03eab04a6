"""Audits of written xlsx files: every formula the file holds (cells, dropdown sources, conditional formats,
chart series, defined names) against an allowlist of shapes the workbench builds, text cells, links, and the
same workbook as LibreOffice reads it (converted to CSV headlessly).

Used by ``test_xlsx_exports.py``. Problems are strings naming file, sheet, cell and reason.
"""

from __future__ import annotations

import csv
import datetime as dt
import html
import math
import re
import shutil
import subprocess
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import openpyxl

# --------------------------------------------------------------------------- formulas

#: A cell or range reference, absolute or not: A1, $B$2, $C$2:$C$40.
_REF = r"\$?[A-Z]{1,3}\$?\d+(?::\$?[A-Z]{1,3}\$?\d+)?"
#: Formula shapes the workbench builds (``SHEET!`` stands for a checked reference to a sheet of the file).
ALLOWED_FORMULAS: dict[str, re.Pattern[str]] = {
    "sheet reference (dropdown list, chart series, filter range)": re.compile(rf"SHEET!{_REF}"),
    "count of an outcome label (call workbook summary)": re.compile(rf'COUNTIF\(SHEET!{_REF},"[^"]*"\)'),
    "not filled in = customers - outcomes (call workbook summary)": re.compile(r"[A-Z]{1,3}\d+-SUM\(" + _REF + r"\)"),
    "column total (call workbook summary)": re.compile(r"SUM\(" + _REF + r"\)"),
    "number (validation bound or date serial)": re.compile(r"-?\d+(?:\.\d+)?(?:[Ee][+-]?\d+)?"),
}
_FORMULA_XML = re.compile(r"<((?:c:)?(?:f|formula|formula1|formula2|definedName))(\s[^>]*)?>(.*?)</\1>", re.S)
#: A sheet reference: quoted ('My sheet'!, with '' for ') or plain (Sheet1!).
_SHEET_REF = re.compile(r"'((?:[^']|'')+)'!|(?<![\w'.])([^\s'!(),\"=+\-*/&<>^:;{}$]+)!")


@dataclass
class Formula:
    """One formula found in a workbook part."""

    file: str
    part: str          # e.g. xl/worksheets/sheet3.xml, xl/charts/chart1.xml, xl/workbook.xml
    kind: str          # f (cell), c:f (chart), formula1/2 (validation), formula (conditional format), definedName
    text: str
    shape: str = ""    # the allowlist entry it matched ("" if none)


def formulas(path: Path) -> list[Formula]:
    """Every formula text in the xlsx at ``path``, from its XML parts (openpyxl drops charts on load)."""
    out = []
    with zipfile.ZipFile(path) as z:
        for part in z.namelist():
            if part.endswith(".xml") and part.startswith("xl/"):
                xml = z.read(part).decode("utf-8")
                for m in _FORMULA_XML.finditer(xml):
                    out.append(Formula(path.name, part, m.group(1), html.unescape(m.group(3))))
    return out


def _sheet_refs(text: str, sheets: set[str]) -> tuple[str, list[str]]:
    """``text`` with every sheet reference replaced by ``SHEET!``, and the problems (unknown sheets)."""
    problems: list[str] = []

    def sub(m: re.Match[str]) -> str:
        name = m.group(1).replace("''", "'") if m.group(1) is not None else m.group(2)
        if name not in sheets:
            problems.append(f"refers to sheet {name!r}, which the workbook does not have")
        return "SHEET!"

    return _SHEET_REF.sub(sub, text), problems


def formula_problems(path: Path, sheets: Iterable[str], hostile: Iterable[str]) -> tuple[list[Formula], list[str]]:
    """The formulas of ``path`` (shape filled in) and the problems: a shape not on the allowlist, a
    reference to a missing sheet, or any hostile text outside a checked sheet reference."""
    found, problems = formulas(path), []
    sheets = set(sheets)
    # a formula is stored without its "=" (and Excel drops a leading + or @): look for the text without them too
    hostile = sorted({v for h in hostile for v in (h, h.lstrip("=+@")) if len(v) >= 3})
    for f in found:
        body, refs = _sheet_refs(f.text.removeprefix("="), sheets)
        where = f"{f.file}: {f.part} <{f.kind}> {f.text[:120]!r}"
        problems += [f"{where}: {p}" for p in refs]
        f.shape = next((name for name, rx in ALLOWED_FORMULAS.items() if rx.fullmatch(body)), "")
        if not f.shape:
            problems.append(f"{where}: not a formula shape the workbench builds")
        leaked = [h for h in hostile if h in body]
        if leaked:
            problems.append(f"{where}: holds user text {leaked[0][:40]!r}")
    return found, problems


# --------------------------------------------------------------------------- cells

def sheet_names(path: Path) -> list[str]:
    """The sheet names of the workbook at ``path``."""
    wb = openpyxl.load_workbook(path, read_only=True)
    try:
        return list(wb.sheetnames)
    finally:
        wb.close()


@dataclass
class CellAudit:
    """What openpyxl reads from one workbook: counts, problems, and every string cell's text."""

    sheets: list[str] = field(default_factory=list)
    cells: int = 0
    formula_cells: int = 0
    strings: set[str] = field(default_factory=set)
    problems: list[str] = field(default_factory=list)


def audit_cells(path: Path, hostile: Iterable[str], cut_note: str) -> CellAudit:
    """Open ``path`` with openpyxl: every cell holding hostile text must be a plain string cell, no cell may
    carry a hyperlink, and a string of exactly the cell limit must end with ``cut_note`` (no silent cut)."""
    from workbench.reports.files import XLSX_CELL_LIMIT

    hostile = [h for h in hostile if h]
    wb = openpyxl.load_workbook(path)
    out = CellAudit(sheets=list(wb.sheetnames))
    try:
        for ws in wb.worksheets:
            for row in ws.iter_rows():
                for c in row:
                    if c.hyperlink is not None:
                        out.problems.append(f"{path.name}, sheet {ws.title!r}, cell {c.coordinate}: a hyperlink "
                                            f"to {c.hyperlink.target!r}")
                    if c.value is None:
                        continue
                    out.cells += 1
                    where = f"{path.name}, sheet {ws.title!r}, cell {c.coordinate}"
                    if c.data_type == "f":
                        out.formula_cells += 1
                    if not isinstance(c.value, str):
                        continue
                    if c.data_type == "s":
                        out.strings.add(c.value)
                    elif c.data_type != "f" and any(h in c.value for h in hostile):  # formulas: formula_problems
                        out.problems.append(f"{where}: hostile text stored as type {c.data_type!r}, not text: "
                                            f"{c.value[:60]!r}")
                    if len(c.value) >= XLSX_CELL_LIMIT and not c.value.endswith(cut_note):
                        out.problems.append(f"{where}: {len(c.value):,} characters without the cut note "
                                            "(text cut silently at the cell limit)")
    finally:
        wb.close()
    return out


# --------------------------------------------------------------------------- LibreOffice

CSV_FILTER = "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,false,false,false,-1"
ERRORS = ("Err:", "#NAME?", "#REF!", "#VALUE!", "#DIV/0!", "#N/A", "#NUM!", "#NULL!")


def soffice() -> str | None:
    """The LibreOffice binary, if installed."""
    return shutil.which("soffice") or shutil.which("libreoffice")


def convert_all(files: list[Path], outdir: Path, profile: Path, timeout: int = 240) -> dict[Path, Path]:
    """Convert every workbook to one CSV per sheet (``<stem>-<sheet>.csv``) in ONE soffice run (start-up is
    slow); files are staged under unique names first. Returns {original: staged copy}."""
    stage = outdir / "staged"
    stage.mkdir(parents=True, exist_ok=True)
    staged = {}
    for k, f in enumerate(files):
        staged[f] = stage / f"{k:03d}_{f.name}"
        shutil.copyfile(f, staged[f])
    cmd = [soffice(), f"-env:UserInstallation={profile.as_uri()}", "--headless", "--norestore",
           "--convert-to", CSV_FILTER, "--outdir", str(outdir), *map(str, staged.values())]
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if run.returncode != 0:
        raise RuntimeError(f"soffice failed ({run.returncode}): {run.stderr[-2000:]}")
    return staged


def _csv_cells(path: Path) -> dict[tuple[int, int], str]:
    with open(path, encoding="utf-8-sig", newline="") as fh:
        return {(r, c): v for r, row in enumerate(csv.reader(fh), 1) for c, v in enumerate(row, 1) if v != ""}


_NOT_FORMULA = object()


def _same(value: object, text: str, cached: object) -> str | None:
    """Why LibreOffice's ``text`` differs from openpyxl's ``value`` (None if it matches)."""
    if isinstance(value, str) and value.startswith("=") and cached is not _NOT_FORMULA:
        if text.startswith(ERRORS):
            return f"the formula gives {text!r} in LibreOffice"
        if cached is None:
            return None
        value = cached
    if isinstance(value, bool):
        return None if text == ("TRUE" if value else "FALSE") else f"{text!r} is not {value}"
    if isinstance(value, int | float):
        try:  # percent-formatted cells come out as shown ("12.5%")
            got = float(text[:-1]) / 100 if text.endswith("%") else float(text)
        except ValueError:
            return f"{text!r} is not the number {value}"
        return None if math.isclose(got, value, rel_tol=1e-9, abs_tol=1e-12) else f"{got} != {value}"
    if isinstance(value, dt.datetime | dt.date):
        return None if text.startswith(value.strftime("%Y-%m-%d")) else f"{text!r} is not the date {value}"
    if isinstance(value, str):
        return None if text == value else f"text differs: {text[:60]!r} != {value[:60]!r}"
    return f"unexpected value type {type(value).__name__}"


def compare_with_libreoffice(original: Path, staged: Path, outdir: Path) -> tuple[int, list[str]]:
    """Compare every non-empty cell openpyxl reads in ``original`` with the CSV LibreOffice wrote for each of
    its sheets (formula cells: LibreOffice's result must be no error and equal the cached value). Returns
    (cells compared, problems)."""
    wb = openpyxl.load_workbook(original)
    has_formulas = any(c.data_type == "f" for ws in wb.worksheets for row in ws.iter_rows() for c in row)
    cached_wb = openpyxl.load_workbook(original, data_only=True) if has_formulas else None  # cached results
    problems: list[str] = []
    n = 0
    try:
        for ws in wb.worksheets:
            csv_path = outdir / f"{staged.stem}-{ws.title}.csv"
            where = f"{original.name}, sheet {ws.title!r}"
            if not csv_path.exists():
                problems.append(f"{where}: LibreOffice wrote no CSV for this sheet")
                continue
            theirs = _csv_cells(csv_path)
            cached = cached_wb[ws.title] if cached_wb else None
            mine = {}
            for row in ws.iter_rows():
                for c in row:
                    if c.value is not None and c.value != "":
                        mine[(c.row, c.column)] = (c.value, cached.cell(c.row, c.column).value
                                                   if c.data_type == "f" else _NOT_FORMULA)
            for key in sorted(set(mine) | set(theirs)):
                cell = f"{where}, cell {openpyxl.utils.get_column_letter(key[1])}{key[0]}"
                if key not in theirs:
                    problems.append(f"{cell}: LibreOffice reads it as empty, openpyxl as {str(mine[key][0])[:60]!r}")
                elif key not in mine:
                    problems.append(f"{cell}: LibreOffice reads {theirs[key][:60]!r} where openpyxl finds nothing")
                else:
                    n += 1
                    why = _same(mine[key][0], theirs[key], mine[key][1])
                    if why:
                        problems.append(f"{cell}: {why}")
    finally:
        wb.close()
        if cached_wb:
            cached_wb.close()
    return n, problems
