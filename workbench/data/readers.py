"""Read CSV and XLSX exports into an all-text staging table, keeping track of spreadsheet rows.

Real exports from dealer-management and clinic systems come in UTF-8, UTF-8
with a byte-order mark, GB18030/GBK or UTF-16 ("Unicode text"), with Chinese
or English headers and a comma, semicolon, tab or pipe between fields. The
reader detects the encoding and delimiter, maps headers to canonical column
names through the schema's alias map, and loads every value as text into a
temporary DuckDB table; typing and validation happen afterwards in one place
(``importer``). CSVs are read by DuckDB's parallel reader (files that are not
UTF-8 are transcoded first, streaming), XLSX files by openpyxl.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from workbench.data.problems import Problem, column_letter
from workbench.data.schema import Table, fold_header
from workbench.errors import InputError

SNIFF_BYTES = 1 << 16
HEADER_SEARCH_ROWS = 10


class ReadError(InputError):
    """A file could not be read at all (encoding, emptiness, header); carries its problems."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("; ".join(str(p) for p in problems))


@dataclass
class Staged:
    """A file loaded into temporary table ``name`` with text columns named canonically.

    The table's ``rowid`` numbers the data records in file order (blank lines
    skipped); :meth:`rows` turns these ordinals into the row numbers a
    spreadsheet shows.
    """

    file: Path
    table: Table
    name: str
    sheet: str | None
    columns: dict[str, tuple[str, str]]          # canonical -> (header as written, letter)
    ignored: list[str] = field(default_factory=list)
    encoding: str | None = None
    record_rows: list[int] | None = None          # xlsx: sheet row of each record
    _csv_rows: list[int] | None = None
    delimiter: str = ","
    source: str | None = None                     # csv: SELECT over read_csv, not yet materialised

    def materialise(self, con: duckdb.DuckDBPyConnection) -> None:
        """Load the text into temporary table ``name`` (rowid = record ordinal), if not already there."""
        if self.source is None:
            return
        try:
            con.execute(f"CREATE OR REPLACE TEMP TABLE {self.name} AS {self.source}")
        except duckdb.Error as exc:
            raise ReadError([csv_error(self.label, str(exc))]) from None
        self.source = None

    @property
    def relation(self) -> str:
        """SQL to select the staged text columns from (a subquery or the materialised table)."""
        return f"({self.source})" if self.source is not None else self.name

    @property
    def label(self) -> str:
        return self.file.name

    def rows(self, ordinals: list[int]) -> list[int]:
        """Spreadsheet row numbers (header = row 1) for record ordinals."""
        if self.record_rows is not None:
            return [self.record_rows[o] for o in ordinals]
        if self._csv_rows is None:
            self._csv_rows = _csv_record_rows(self.file, self.encoding or "utf-8", self.delimiter)
        return [self._csv_rows[o] if o < len(self._csv_rows) else o + 2 for o in ordinals]

    def problem(self, reason: str, *, ordinal: int | None = None, column: str | None = None,
                value: str | None = None) -> Problem:
        header, letter = self.columns.get(column, (None, None)) if column else (None, None)
        row = self.rows([ordinal])[0] if ordinal is not None else None
        return Problem(self.label, reason, sheet=self.sheet, row=row, column=column,
                       header=header, letter=letter, value=value)


# --- encodings -----------------------------------------------------------------------------

def _mostly_utf8(sample: bytes) -> bool:
    """Whether text that is not valid UTF-8 still reads mostly as UTF-8: at least 8 non-ASCII characters
    decode, twice as many as fail. GBK/GB18030 text decodes as UTF-8 only by rare accident (a few percent
    of its characters; never this much in 140,000 simulated small files), so this marks a UTF-8 file with
    some rows saved in another encoding."""
    text = sample.decode("utf-8", errors="replace")
    bad = text.count("\ufffd")
    good = sum(1 for c in text if c > "\x7f") - bad
    return good >= 8 and good >= 2 * bad


def detect_encoding(path: Path, sample: bytes) -> str:
    """Pick the encoding of a text export: BOMs first, then UTF-8, then GB18030 (a superset of GBK)."""
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if b"\x00" in sample:
        raise ReadError([Problem(path.name, "contains NUL bytes: this is a binary file or UTF-16 text "
                                 "without a byte-order mark; save it as CSV (UTF-8) and try again")])
    final = len(sample) < SNIFF_BYTES
    try:
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=final)
        return "utf-8"
    except UnicodeDecodeError as exc:
        line = sample[: exc.start].count(b"\n") + 1
    if _mostly_utf8(sample):
        # Most of the text reads as UTF-8 but this line does not (saved as GBK?); reading the whole file as
        # GB18030 would turn the UTF-8 text into mojibake without a word.
        raise ReadError([Problem(path.name, "mixes encodings: the file is UTF-8 text but this row is not "
                                 "(GBK/GB18030?); save the whole file as CSV (UTF-8) and try again", row=line)])
    try:
        codecs.getincrementaldecoder("gb18030")().decode(sample, final=final)
        return "gb18030"
    except UnicodeDecodeError:
        pass
    raise ReadError([Problem(path.name, "cannot be read as UTF-8 or GB18030/GBK text (the first byte that is not "
                             "UTF-8 is on this line: the file mixes encodings, or is not text); save it as CSV "
                             "(UTF-8) from the source system or Excel and try again", row=line)])


def _transcode(path: Path, encoding: str, tmpdir: Path) -> Path:
    """Stream a non-UTF-8 file into a UTF-8 copy; a bad byte is reported with its line number."""
    out = tmpdir / (path.stem + ".utf8.csv")
    line = 1
    with open(path, "rb") as src, open(out, "w", encoding="utf-8", newline="") as dst:
        decoder = codecs.getincrementaldecoder(encoding)()
        while True:
            chunk = src.read(1 << 22)
            try:
                text = decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError as exc:
                # In the multi-byte encodings we transcode, byte 0x0A only ever means a newline.
                line += chunk[: exc.start].count(b"\n")
                raise ReadError([Problem(path.name, f"is not valid {encoding} text (byte 0x{chunk[exc.start]:02X}); "
                                         "the file mixes encodings or is damaged", row=line)]) from None
            line += text.count("\n")
            dst.write(text)
            if not chunk:
                break
    return out


# --- header mapping ------------------------------------------------------------------------

def map_headers(table: Table, headers: list[str], label: str, sheet: str | None
                ) -> tuple[dict[str, tuple[str, int]], list[str], list[Problem]]:
    """Match headers to canonical columns; returns (canonical -> (header, position)), ignored, problems."""
    lookup = table.header_map()
    found: dict[str, tuple[str, int]] = {}
    ignored: list[str] = []
    problems: list[Problem] = []
    for pos, raw in enumerate(headers):
        text = "" if raw is None else str(raw).strip()
        if not text:
            continue
        canonical = lookup.get(fold_header(text))
        if canonical is None:
            ignored.append(text)
        elif canonical in found:
            first, first_pos = found[canonical]
            problems.append(Problem(label, f"columns {column_letter(first_pos)} '{first}' and "
                                    f"{column_letter(pos)} '{text}' both mean {canonical}; keep one",
                                    sheet=sheet, row=1))
        else:
            found[canonical] = (text, pos)
    for col in table.required:
        if col.name not in found:
            accepted = ", ".join(repr(s) for s in col.spellings()[:8])
            problems.append(Problem(label, f"required column {col.name!r} is missing (accepted headers include "
                                    f"{accepted}); the header row has: {', '.join(repr(h) for h in headers if h)}",
                                    sheet=sheet, row=1))
    return found, ignored, problems


def _header_elsewhere(table: Table, rows: list[list[object]]) -> int | None:
    """If a later row (not row 1) holds the required headers, its 1-based row number."""
    lookup = table.header_map()
    need = {c.name for c in table.required}
    for i, row in enumerate(rows[1:HEADER_SEARCH_ROWS], start=2):
        names = {lookup.get(fold_header(v)) for v in row if v not in (None, "")}
        if need <= names:
            return i
    return None


def _check_header_row(table: Table, label: str, sheet: str | None, rows: list[list[object]],
                      problems: list[Problem]) -> list[Problem]:
    at = _header_elsewhere(table, rows)
    if at and any(p.row == 1 and "required column" in p.reason for p in problems):
        return [Problem(label, f"row 1 is not the header row: the column headers are on row {at}. "
                        f"Delete the {at - 1} row(s) above the headers (titles, notes) so the headers are "
                        "on row 1", sheet=sheet, row=1)]
    return problems


# --- CSV -----------------------------------------------------------------------------------

def _sniff_delimiter(text: str) -> str:
    first = text.split("\n", 1)[0]
    counts = {d: first.count(d) for d in (",", "\t", ";", "|")}
    best = max(counts, key=counts.get)
    return best if counts[best] else ","


def csv_error(label: str, message: str) -> Problem:
    """Turn DuckDB's CSV parser error into a located problem (its line number is the sheet row)."""
    line = re.search(r"Line: (\d+)", message)
    cols = re.search(r"Expected Number of Columns: (\d+) Found: (\d+)", message)
    if cols:
        reason = (f"has {cols.group(2)} fields but the header has {cols.group(1)}; check for a missing "
                  "or extra separator or an unclosed quote")
    else:
        reason = "is not well-formed CSV: " + message.splitlines()[0]
    return Problem(label, reason, row=int(line.group(1)) if line else None)


def _csv_record_rows(path: Path, encoding: str, delimiter: str) -> list[int]:
    """Sheet row of every non-blank data record, as Excel numbers the rows of the CSV."""
    rows: list[int] = []
    with open(path, encoding=encoding, newline="") as fh:
        reader = csv.reader(fh, delimiter=delimiter)
        for rownum, record in enumerate(reader, start=1):
            if rownum == 1 or not record:
                continue
            rows.append(rownum)
    return rows


def stage_csv(con: duckdb.DuckDBPyConnection, path: Path, table: Table, name: str,
              encoding: str | None = None, tmpdir: Path | None = None) -> Staged:
    """Prepare a CSV for import: encoding, delimiter and headers checked, text read lazily.

    Files that are not UTF-8 are transcoded into ``tmpdir``, which must outlive the import.
    """
    label = path.name
    if not path.exists():
        raise ReadError([Problem(label, f"file not found: {path}")])
    with open(path, "rb") as fh:
        sample = fh.read(SNIFF_BYTES)
    if not sample.strip():
        raise ReadError([Problem(label, "file is empty: expected a header row and data rows")])
    enc = encoding or detect_encoding(path, sample)
    try:
        text = sample.decode(enc, errors="ignore" if len(sample) == SNIFF_BYTES else "strict")
    except (UnicodeDecodeError, LookupError) as exc:
        raise ReadError([Problem(label, f"cannot be decoded as {enc}: {exc}")]) from None
    text = text.lstrip("\ufeff")
    delim = _sniff_delimiter(text)
    head_rows = list(csv.reader(io.StringIO(text), delimiter=delim))[:HEADER_SEARCH_ROWS]
    if not head_rows or not any(head_rows[0]):
        raise ReadError([Problem(label, "row 1 is blank: the first row must hold the column headers", row=1)])
    headers = head_rows[0]
    found, ignored, problems = map_headers(table, headers, label, None)
    problems = _check_header_row(table, label, None, head_rows, problems)
    if problems:
        raise ReadError(problems)

    source = path
    if enc not in ("utf-8", "utf-8-sig"):
        source = _transcode(path, enc, tmpdir or Path(tempfile.gettempdir()))
    colspec = "{" + ", ".join(f"'c{i}': 'VARCHAR'" for i in range(len(headers))) + "}"
    select = ", ".join(f'c{pos} AS "{canon}"' for canon, (_, pos) in found.items())
    quoted = "'" + str(source).replace("'", "''") + "'"
    delim_sql = "'" + delim.replace("'", "''") + "'"
    sql = (f"SELECT {select} FROM read_csv({quoted}, delim={delim_sql}, quote='\"', escape='\"', header=false, "
           f"skip=1, columns={colspec}, auto_detect=false, encoding='utf-8')")
    return Staged(path, table, name, None, {c: (h, column_letter(p)) for c, (h, p) in found.items()},
                  ignored, enc, delimiter=delim, source=sql)


# --- XLSX ----------------------------------------------------------------------------------

def _cell_text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S") if value.time() != dt.time() else value.strftime("%Y-%m-%d")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return str(value)


def _unheaded_values(header: list[object], rows: list[list[object]], record_rows: list[int], label: str,
                     sheet: str) -> list[Problem]:
    """Columns that hold values under a blank header cell, typically a header merged over two columns.

    Which column such values belong to cannot be known, and ignoring them would drop data silently.
    """
    problems = []
    for j, h in enumerate(header):
        if h is not None and str(h).strip():
            continue
        first = next((k for k, r in enumerate(rows) if j < len(r) and r[j] is not None and str(r[j]).strip()), None)
        if first is not None:
            problems.append(Problem(label, f"column {column_letter(j)} holds values (first on row "
                                    f"{record_rows[first]}) but has no header of its own (a header cell merged over two "
                                    "columns?); give it its own header, or delete the column", sheet=sheet, row=1,
                                    letter=column_letter(j)))
    return problems


def stage_xlsx(con: duckdb.DuckDBPyConnection, path: Path, table: Table, name: str,
               sheet: str | None = None) -> Staged:
    """Load one sheet of an XLSX into temporary table ``name`` (all text), keeping sheet row numbers."""
    import openpyxl
    import pandas as pd

    label = path.name
    if not path.exists():
        raise ReadError([Problem(label, f"file not found: {path}")])
    if path.stat().st_size == 0:
        raise ReadError([Problem(label, "file is empty: expected a workbook with a header row and data rows")])
    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises several types for damaged files
        raise ReadError([Problem(label, f"cannot be opened as an Excel workbook (.xlsx): {exc}")]) from None
    try:
        if sheet is not None and sheet not in wb.sheetnames:
            raise ReadError([Problem(label, f"has no sheet {sheet!r}; its sheets are {wb.sheetnames}")])
        ws = wb[sheet] if sheet else wb.worksheets[0]
        rows: list[list[object]] = []
        record_rows: list[int] = []
        header: list[object] | None = None
        for rownum, values in enumerate(ws.iter_rows(values_only=True), start=1):
            cells = [_cell_text(v) for v in values]
            if header is None:
                header = cells
                head_rows = [cells]
                continue
            if len(head_rows) < HEADER_SEARCH_ROWS:
                head_rows.append(cells)
            if all(c is None or not str(c).strip() for c in cells):
                continue
            rows.append(cells)
            record_rows.append(rownum)
    finally:
        wb.close()
    if header is None or all(h is None for h in header):
        raise ReadError([Problem(label, "sheet is empty or row 1 is blank: the first row must hold the column "
                                 "headers", sheet=ws.title, row=1)])
    found, ignored, problems = map_headers(table, header, label, ws.title)
    problems = _check_header_row(table, label, ws.title, head_rows, problems) or _unheaded_values(
        header, rows, record_rows, label, ws.title)
    if problems:
        raise ReadError(problems)
    data = {canon: pd.array([r[pos] if pos < len(r) else None for r in rows], dtype="string")
            for canon, (_, pos) in found.items()}
    frame = pd.DataFrame(data)
    con.register("_xlsx_frame", frame)
    try:
        con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT * FROM _xlsx_frame")
    finally:
        con.unregister("_xlsx_frame")
    return Staged(path, table, name, ws.title, {c: (h, column_letter(p)) for c, (h, p) in found.items()},
                  ignored, None, record_rows=record_rows)


def stage_file(con: duckdb.DuckDBPyConnection, path: str | Path, table: Table, name: str, *,
               sheet: str | None = None, encoding: str | None = None, tmpdir: Path | None = None) -> Staged:
    """Stage a CSV/TXT or XLSX file by its extension."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        return stage_xlsx(con, path, table, name, sheet)
    if suffix in (".csv", ".txt", ".tsv"):
        return stage_csv(con, path, table, name, encoding, tmpdir)
    if suffix == ".xls":
        raise ReadError([Problem(path.name, "old Excel .xls files are not supported: save it as .xlsx or CSV")])
    raise ReadError([Problem(path.name, f"unsupported file type {suffix!r}: use .csv or .xlsx")])
