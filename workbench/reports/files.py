"""Writing files people open, safely: atomic replacement and formula-proof Excel workbooks.

Every workbook the workbench writes goes through :func:`excel_workbook`, which
turns off xlsxwriter's habit of turning text that starts with ``=`` into a
formula (or text that looks like a URL into a link), so a customer's name or
note can never become a formula. Files are written to a temporary name beside
the target (``.<name>.<pid>-<random>.part<suffix>``, hidden), flushed to disk and
moved into place only when complete, so a failed, killed or disk-full write
leaves the previous file intact; the temporary file of a writer that was
killed is removed by the next write of the same file. :func:`write_error_message`
turns a failed write (disk full, file too large, not writable) into a paragraph
for people.

An xlsx cell holds at most 32,767 characters and xlsxwriter cuts longer text
silently; :func:`cell_text` cuts it visibly instead (the cell ends with a note
giving the full length), and :func:`write_frame` writes all text through it.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import xlsxwriter

#: Options for every xlsxwriter workbook (also usable as ``pd.ExcelWriter(engine_kwargs={"options": ...})``).
SAFE_XLSX_OPTIONS = {"strings_to_formulas": False, "strings_to_urls": False, "nan_inf_to_errors": True}
#: The most characters an xlsx cell holds (Excel's limit; xlsxwriter cuts longer strings without a word).
XLSX_CELL_LIMIT = 32_767


def _part_prefix(target: Path) -> str:
    return f".{target.stem}."


def _part_suffix(target: Path) -> str:
    return f".part{target.suffix}"


def _remove_stale_parts(target: Path) -> None:
    """Remove temporary files of earlier writes of ``target`` whose writer is dead (killed mid-write)."""
    prefix, suffix = _part_prefix(target), _part_suffix(target)
    try:
        candidates = [p for p in target.parent.iterdir() if p.name.startswith(prefix) and p.name.endswith(suffix)]
    except OSError:
        return
    for part in candidates:
        pid = part.name[len(prefix):-len(suffix)].split("-", 1)[0]
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            os.kill(int(pid), 0)
            continue  # its writer is alive (still writing)
        except ProcessLookupError:
            pass
        except OSError:
            continue  # alive, owned by someone else
        with contextlib.suppress(OSError):
            part.unlink()


def _fsync(path: Path) -> None:
    """Flush ``path`` to disk: a full disk then fails here, before the old file is replaced, not later."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; flush it and move it onto ``target`` only if the block succeeds.

    The temporary name is hidden and carries the writer's pid, so the next write of ``target`` removes what a
    killed writer left behind."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_parts(target)
    fd, tmp = tempfile.mkstemp(prefix=f"{_part_prefix(target)}{os.getpid()}-", suffix=_part_suffix(target),
                               dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp_path, 0o666 & ~umask)  # mkstemp makes 0600; outputs are for people to open
        _fsync(tmp_path)
        os.replace(tmp_path, target)
    except Exception as exc:
        code = write_error_code(exc)
        if code is not None and (getattr(exc, "filename", None) in (None, str(tmp_path)) or str(tmp_path) in str(exc)):
            # A write of ours failed (disk full, not writable): name the file people asked for, not our temp name.
            raise OSError(code, os.strerror(code), str(target)) from exc
        raise
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


#: errno -> (what went wrong, what to do), for :func:`write_error_message`.
WRITE_ERRORS: dict[int, tuple[str, str]] = {
    errno.ENOSPC: ("the disk is full (no space left on device)",
                   "free space on that disk, or point the outputs (--outputs, --out) or the store (--db) to another "
                   "disk, and run the command again"),
    errno.EDQUOT: ("the disk quota is used up (disk full for this user)",
                   "free space within the quota or ask for a larger one, then run the command again"),
    errno.EFBIG: ("the file grew past the largest file size allowed for this process (disk full for this file: "
                  "ulimit -f or the file system's limit)",
                  "raise the file size limit (ulimit -f unlimited) or write to another disk, then run the command "
                  "again"),
    errno.EACCES: ("it is not writable (permission denied)",
                   "give this user write permission on that folder, or choose a writable folder (--outputs, --out, "
                   "--db), then run the command again"),
    errno.EPERM: ("it is not writable (operation not permitted)",
                  "give this user write permission on that folder, or choose a writable folder (--outputs, --out, "
                  "--db), then run the command again"),
    errno.EROFS: ("it is on a read-only file system (not writable)",
                  "choose a folder on a writable disk (--outputs, --out, --db), then run the command again"),
}
#: The C library's wording of those errors, for errors known only by their text (DuckDB, a notebook's kernel).
_STRERROR = {os.strerror(code).lower(): code for code in WRITE_ERRORS}
_QUOTED = re.compile(r"""["'“]([^"'”]*[/\\][^"'”]*)["'”]""")


def write_error_code(exc: BaseException | str) -> int | None:
    """The errno of a failed write (disk full, file too large, not writable) in ``exc``, or None for other
    errors. Works on ``OSError`` and on errors known by their text only (DuckDB's IO errors, a notebook
    kernel's ``OSError: [Errno 28] ...``)."""
    if isinstance(exc, OSError) and exc.errno in WRITE_ERRORS:
        return exc.errno
    text = str(exc).lower()
    match = re.search(r"\[errno (\d+)\]", text)
    if match and int(match.group(1)) in WRITE_ERRORS:
        return int(match.group(1))
    return next((code for words, code in _STRERROR.items() if words in text), None)


def write_error_message(exc: BaseException | str, path: str | Path | None = None) -> str | None:
    """One paragraph for people about a write that failed because the disk is full or the place is not
    writable: what failed, which path, why, that earlier results are intact, and what to do. None when
    ``exc`` is another kind of error."""
    code = write_error_code(exc)
    if code is None:
        return None
    why, todo = WRITE_ERRORS[code]
    if path is None:
        path = getattr(exc, "filename", None)
        if path is None:
            found = _QUOTED.findall(str(exc))
            path = found[-1] if found else None
    verb = "write"
    if code in (errno.EACCES, errno.EPERM) and path and os.path.exists(path) and not os.access(path, os.R_OK):
        verb, why = "read", why.replace("not writable", "not readable")
    where = f"could not {verb} {path}" if path else f"could not {verb} a file"
    return (f"{where}: {why}. Nothing was half-written: files are replaced only once complete and the store "
            f"keeps only finished work, so earlier results are unchanged. To fix it: {todo}. "
            f"(System message: {str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__})")


def save_figure(fig: Any, target: str | Path, **kwargs: Any) -> Path:
    """Save a matplotlib figure to ``target`` through :func:`atomic_path`, so a notebook killed mid-save (or a
    full disk) never leaves a cut image where people look for the chart."""
    target = Path(target)
    with atomic_path(target) as tmp:
        fig.savefig(tmp, format=target.suffix.lstrip(".") or "png", **kwargs)
    return target


def file_sha256(path: str | Path) -> str:
    """The SHA-256 of a file's bytes, read in 1 MiB chunks (input checksums in the import log and manifest)."""
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def export_html(notebook: str | Path, target: str | Path) -> Path:
    """An executed notebook as HTML without code or prompts (the report staff open in a browser), written
    atomically (nbconvert ``HTMLExporter(exclude_input=True)``)."""
    import nbformat
    from nbconvert import HTMLExporter

    nb = nbformat.read(str(notebook), as_version=4)
    exporter = HTMLExporter(exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True)
    body, _ = exporter.from_notebook_node(nb)
    with atomic_path(target) as tmp:
        tmp.write_text(body, encoding="utf-8")
    return Path(target)
