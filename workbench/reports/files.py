"""Writing files people open, safely: atomic replacement and formula-proof Excel workbooks.

Every workbook the workbench writes goes through :func:`excel_workbook`, which
turns off xlsxwriter's habit of turning text that starts with ``=`` into a
formula (or text that looks like a URL into a link), so a customer's name or
note can never become a formula. Files are written to a temporary name beside
the target and moved into place only when complete, so a failed write leaves
the previous file intact.

An xlsx cell holds at most 32,767 characters and xlsxwriter cuts longer text
silently; :func:`cell_text` cuts it visibly instead (the cell ends with a note
giving the full length), and :func:`write_frame` writes all text through it.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import xlsxwriter

#: Options for every xlsxwriter workbook (also usable as ``pd.ExcelWriter(engine_kwargs={"options": ...})``).
SAFE_XLSX_OPTIONS = {"strings_to_formulas": False, "strings_to_urls": False, "nan_inf_to_errors": True}
#: The most characters an xlsx cell holds (Excel's limit; xlsxwriter cuts longer strings without a word).
XLSX_CELL_LIMIT = 32_767


@contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; move it onto ``target`` only if the block succeeds."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=f".part{target.suffix}", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp_path, 0o666 & ~umask)  # mkstemp makes 0600; outputs are for people to open
        os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


@contextmanager
def excel_workbook(target: str | Path) -> Iterator[xlsxwriter.Workbook]:
    """An xlsxwriter workbook with formula/URL conversion off, written atomically to ``target``."""
    with atomic_path(target) as tmp:
        wb = xlsxwriter.Workbook(str(tmp), SAFE_XLSX_OPTIONS)
        try:
            yield wb
        finally:
            wb.close()


def cell_text(value: object) -> str:
    """``value`` as text for one xlsx cell: whole when it fits, else cut to the cell limit and ending with
    a note of the full length, so a reader never mistakes a cut note or answer for the whole of it."""
    text = str(value)
    if len(text) <= XLSX_CELL_LIMIT:
        return text
    note = f" …[已截断 cut: {XLSX_CELL_LIMIT:,} of {len(text):,} characters fit in an xlsx cell]"
    return text[: XLSX_CELL_LIMIT - len(note)] + note


def display_width(text: object) -> int:
    """Width of text in Excel columns: CJK and full-width characters count double."""
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in str(text))


def write_frame(wb: xlsxwriter.Workbook, sheet_name: str, df, *, freeze: bool = True,
                autofilter: bool = True, max_width: int = 60, index: bool = False):
    """Write a DataFrame as a plain sheet: bold frozen header, filters, widths that fit Chinese text.

    Dates are written as Excel dates, missing values as empty cells, text always as text (never a formula
    or link; over-long text cut visibly by :func:`cell_text`). Returns the worksheet.
    """
    import datetime as dt

    import pandas as pd

    if index:
        df = df.reset_index()
    ws = wb.add_worksheet(sheet_name)
    head = wb.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1, "text_wrap": True, "valign": "top"})
    date_fmt = wb.add_format({"num_format": "yyyy-mm-dd"})
    for j, name in enumerate(df.columns):
        ws.write_string(0, j, cell_text(name), head)
        values = df.iloc[:, j]
        width = display_width(name)
        for i, v in enumerate(values.tolist(), start=1):
            if v is None or (isinstance(v, float) and v != v) or v is pd.NA or v is pd.NaT:
                continue
            if isinstance(v, (pd.Timestamp, dt.datetime, dt.date)):
                ws.write_datetime(i, j, pd.Timestamp(v).to_pydatetime(), date_fmt)
                width = max(width, 10)
            elif isinstance(v, bool):
                ws.write_boolean(i, j, v)
            elif isinstance(v, (int, float)) and not isinstance(v, bool):
                ws.write_number(i, j, v)
                width = max(width, len(f"{v:,.2f}") if isinstance(v, float) else len(str(v)))
            else:
                ws.write_string(i, j, cell_text(v))
                if i <= 500:
                    width = max(width, display_width(v))
        ws.set_column(j, j, min(max_width, width + 2))
    if freeze:
        ws.freeze_panes(1, 0)
    if autofilter and len(df.columns):
        ws.autofilter(0, 0, max(len(df), 1), len(df.columns) - 1)
    return ws
