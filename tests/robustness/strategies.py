"""Shared hypothesis strategies and file writers for the importer property tests.

Every importer test renders the same intended values in many legitimate spellings (Chinese or English
headers in any case and separator, numbers with thousands separators or full-width digits, dates in the
formats people type, blank rows, awkward text) and in several file formats (CSV in UTF-8, UTF-8 with a BOM
or GB18030, and xlsx with text kept as text), then checks the store holds exactly the intended values; or
it corrupts one cell and checks the error names that cell and nothing was written.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import openpyxl
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from workbench.data.schema import fold_header, load_schema
from workbench.data.store import connect


def examples(n: int) -> settings:
    """Hypothesis settings for an importer property: ``n`` examples, reproducible (derandomized), no deadline
    (file I/O varies on CI machines). ``WORKBENCH_PROPERTY_SCALE=10`` tries ten times as many, for a deeper
    search by hand than CI's time budget allows."""
    scale = int(os.environ.get("WORKBENCH_PROPERTY_SCALE", "1"))
    return settings(max_examples=n * scale, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))


FULLWIDTH = str.maketrans("0123456789.,-", "０１２３４５６７８９．，－")
ENCODINGS = ("utf-8", "utf-8-sig", "gb18030", "xlsx")
#: Text a spreadsheet might run or link, emoji, quotes, a line break, very long text.
HOSTILE = ("=1+1", "+86 138 0000 0000", "-3", "@SUM(A1)", '=HYPERLINK("http://x","y")', "王伟😀", "👨‍👩‍👧 家",
           '"quoted, comma"', "第一行\n第二行", "x" * 2000, "长" * 3000)

texts = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Zl", "Zp", "Zs", "Co", "Cn")),
                min_size=1, max_size=40).filter(lambda t: t == t.strip())
awkward = st.one_of(texts, st.sampled_from(HOSTILE))
amounts = st.decimals(min_value=0, max_value=999_999, places=2, allow_nan=False)
dates = st.dates(min_value=dt.date(1990, 1, 1), max_value=dt.date(2030, 12, 31))
DATE_STYLES = 9


def spell_amount(value: Any, style: int) -> str:
    """A non-negative amount as people write it: plain, thousands separators, full-width, with a currency."""
    text = f"{value:.2f}"
    if style == 1:
        text = f"{value:,.2f}"
    elif style == 2:
        text = f"{value:,.2f}".translate(FULLWIDTH)
    elif style == 3:
        text = f"¥{value:,.2f}"
    return text


def spell_number(value: Any, style: int) -> str:
    """A number without currency: plain, thousands separators, full-width digits, padded with spaces."""
    text = f"{value}" if style in (0, 3) else f"{value:,}"
    if style == 2:
        text = text.translate(FULLWIDTH)
    return f"  {text} " if style == 3 else text


def spell_date(d: dt.date, style: int) -> str:
    """A date in one of the year-first spellings the importers accept."""
    return [d.isoformat(), f"{d.year}/{d.month}/{d.day}", f"{d.year}年{d.month}月{d.day}日", d.strftime("%Y%m%d"),
            f"{d.isoformat()} 10:30:00", f"{d.year}.{d.month:02d}.{d.day:02d}", f"{d.year}-{d.month}-{d.day}",
            f"{d.year}年{d.month}月{d.day}日".translate(FULLWIDTH), f"{d.year}/{d.month:02d}/{d.day:02d} 08:05"][style]


def header_for(table: str, column: str, pick: int) -> str:
    """One of the header spellings the schema accepts for ``column`` (canonical name or an alias)."""
    col = load_schema()[table].columns[column]
    spellings = col.spellings()
    return spellings[pick % len(spellings)]


def vary_header(header: str, style: int) -> str:
    """The same header as people retype it: other case, '_' or '-' for spaces, padded, full-width letters."""
    if style == 1:
        header = header.upper()
    elif style == 2:
        header = header.replace(" ", "_").title()
    elif style == 3:
        header = header.replace(" ", "-")
    elif style == 4:
        header = f"  {header} "
    elif style == 5:
        header = "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in header)  # full-width forms
    return header


def extra_headers(table: str) -> list[str]:
    """Headers that mean nothing to ``table`` (they must be ignored, not mapped)."""
    known = set(load_schema()[table].header_map())
    out = [h for h in ("备注说明X", "内部编码", "Unnamed: 9", "操作员 operator", "序号 No.") if fold_header(h) not in known]
    assert out
    return out


BLANK = object()  # a blank row: an empty line or a row of empty fields (CSV), an empty row (xlsx)


def write_table(folder: Path, stem: str, headers: Sequence[Any], rows: Sequence[Any], encoding: str, *,
                blank_style: int = 0, title: Sequence[str] = (), merge_header: tuple[int, int] | None = None) -> Path:
    """Write a header and rows as ``stem.csv`` in ``encoding`` or ``stem.xlsx`` (encoding 'xlsx').

    Rows are lists of cells (str for CSV; str, numbers, dates or bools for xlsx) or :data:`BLANK`. Strings are
    stored as text in xlsx even when they start with '='. ``title`` puts title rows above the header, each
    merged across the header's width; ``merge_header=(j, k)`` merges header cells j..k (0-based), as a
    header typed once over two columns.
    """
    width = len(headers)
    if encoding == "xlsx":
        path = folder / f"{stem}.xlsx"
        wb = openpyxl.Workbook()
        ws = wb.active
        r = 1
        for t in title:
            ws.cell(r, 1, t)
            ws.merge_cells(start_row=r, start_column=1, end_row=r, end_column=max(width, 2))
            r += 1
        for j, h in enumerate(headers, 1):
            if h not in (None, ""):
                ws.cell(r, j, h)
        if merge_header:
            ws.merge_cells(start_row=r, start_column=merge_header[0] + 1, end_row=r, end_column=merge_header[1] + 1)
        for row in rows:
            r += 1
            if row is BLANK:
                continue
            for j, v in enumerate(row, 1):
                if v is None or v == "":
                    continue
                cell = ws.cell(r, j, v)
                if isinstance(v, str):
                    cell.data_type = "s"  # text that starts with '=' is text, as Excel keeps typed-in text
        wb.save(path)
        return path
    assert not title and merge_header is None, "titles and merged cells exist only in xlsx"
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(headers)
    for row in rows:
        if row is BLANK:
            buf.write("\n" if blank_style == 0 else "," * (width - 1) + "\n")
        else:
            writer.writerow(["" if v is None else v for v in row])
    path = folder / f"{stem}.csv"
    path.write_bytes(buf.getvalue().encode(encoding))
    return path


def fresh_copy(base: Path, folder: Path, name: str = "s.duckdb") -> Path:
    """A private copy of a prepared store, so each example starts from the same state."""
    target = folder / name
    shutil.copyfile(base, target)
    return target


def snapshot(db: Path, tables: Sequence[str]) -> dict[str, list[tuple]]:
    """Every row of ``tables`` (sorted), to show that a refused import changed nothing."""
    with connect(db, read_only=True) as con:
        return {t: sorted(con.execute(f'SELECT * FROM "{t}"').fetchall(), key=repr) for t in tables}
