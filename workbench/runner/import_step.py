"""The monthly import: load whatever new export files are in a drop folder into the store.

A business's systems (or a person) put export files into one folder. A file
belongs to the table its name says (``customers``, ``transactions``,
``events``; also 客户, 交易/消费, 事件/互动) or the sub-folder it sits in. Files whose
exact content was imported before (same SHA-256 in the store's ``imports``
log) are skipped, so the folder can keep old files and a re-run imports
nothing twice. Tables load in reference order (customers first); each table's
files land in one transaction or not at all (the importer's rule).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from workbench.data.importer import ImportResult, file_sha256, import_files
from workbench.data.store import connect
from workbench.data.summary import customer_table, data_summary
from workbench.reports.files import excel_workbook, write_frame

TABLE_ORDER = ("customers", "transactions", "events")
TABLE_WORDS = {
    "customers": ("customers", "customer", "客户", "会员"),
    "transactions": ("transactions", "transaction", "交易", "消费", "订单"),
    "events": ("events", "event", "事件", "互动"),
}
DATA_SUFFIXES = (".csv", ".txt", ".tsv", ".xlsx", ".xlsm")


def table_of(path: Path, folder: Path) -> str | None:
    """The table a drop-folder file belongs to: by its sub-folder, else by a word in its name."""
    rel = path.relative_to(folder)
    for part in [p.lower() for p in rel.parts[:-1]] + [path.stem.lower()]:
        hits = [t for t, words in TABLE_WORDS.items() if any(w in part for w in words)]
        if len(hits) == 1:
            return hits[0]
    return None


def find_drop_files(folder: str | Path, db: str | Path | None = None) -> pd.DataFrame:
    """Every file in the drop folder (and its sub-folders) with its table, checksum and status.

    status: ``new``; ``imported`` (this content is in the store's import log); ``ignored``
    (not a data file, or the name does not say which table), with the reason in ``note``.
    """
    folder = Path(folder)
    done: set[str] = set()
    if db is not None and Path(db).exists():
        with connect(db) as con:
            done = {r[0] for r in con.execute("SELECT DISTINCT sha256 FROM imports").fetchall()}
    rows = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        rel = path.relative_to(folder)
        if any(part.startswith(".") for part in rel.parts) or path.name.startswith("~$"):
            continue  # hidden files, partial writes and Excel lock files
        table = table_of(path, folder)
        sha = file_sha256(path)
        if path.suffix.lower() not in DATA_SUFFIXES:
            status, note = "ignored", f"not a data file ({path.suffix or 'no extension'})"
        elif table is None:
            status, note = "ignored", "name or folder does not say customers, transactions or events"
        elif sha in done:
            status, note = "imported", "same content imported before"
        else:
            status, note = "new", ""
        rows.append({"file": str(rel), "table": table, "bytes": path.stat().st_size, "sha256": sha,
                     "status": status, "note": note})
    frame = pd.DataFrame(rows, columns=["file", "table", "bytes", "sha256", "status", "note"])
    order = {t: i for i, t in enumerate(TABLE_ORDER)}
    return frame.sort_values(["table", "file"], key=lambda s: s.map(order) if s.name == "table" else s,
                             kind="stable", ignore_index=True)


def import_drop_folder(folder: str | Path, db: str | Path) -> pd.DataFrame:
    """Import the drop folder's new files into ``db``; one row per file (tidy), incl. skipped ones."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"drop folder {folder} does not exist")
    files = find_drop_files(folder, db)
    results: dict[str, ImportResult] = {}
    for table in TABLE_ORDER:
        new = files[(files["table"] == table) & (files["status"] == "new")]
        if new.empty:
            continue
        for r in import_files(table, [folder / f for f in new["file"]], db):
            results[r.file] = r
    out = files.drop(columns=["sha256"]).copy()
    by_name = {Path(f).name: f for f in out["file"]}
    for col in ("rows_read", "inserted", "updated", "skipped"):
        out[col] = pd.array([pd.NA] * len(out), dtype="Int64")
    for name, r in results.items():
        i = out.index[out["file"] == by_name.get(name, name)]
        out.loc[i, ["rows_read", "inserted", "updated", "skipped"]] = [r.rows_read, r.inserted, r.updated,
                                                                       r.skipped]
        out.loc[i, "status"] = "imported now"
    return out


def write_data_summary(db: str | Path, target: str | Path) -> Path:
    """The imported-data summary workbook: one sheet per aspect."""
    with excel_workbook(target) as wb:
        for name, frame in data_summary(db).items():
            write_frame(wb, name, frame)
    return Path(target)


def write_customer_table(db: str | Path, target: str | Path) -> Path:
    """The customer table with visits and spend."""
    with excel_workbook(target) as wb:
        write_frame(wb, "customers", customer_table(db))
    return Path(target)


def write_import_log(files: pd.DataFrame, target: str | Path) -> Path:
    """This run's drop-folder files and what happened to each."""
    with excel_workbook(target) as wb:
        write_frame(wb, "files", files)
    return Path(target)
