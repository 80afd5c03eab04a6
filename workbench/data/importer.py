"""Import customer, transaction and event files into the store: validated, all-or-nothing, idempotent.

Each file is staged as text (``readers``), typed and checked column by column
from the declarative schema in one SQL pass, then checked across rows (duplicate
keys, unknown customers). Every problem of every file is collected before
anything is written; only when there are none do all files land in one
transaction. Rows carry a key (the file's id column, or the row's content plus
its occurrence number) so re-importing a file, or an overlapping export, adds
nothing twice.
"""

from __future__ import annotations

import hashlib
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from workbench.data.problems import ImportValidationError, Problem
from workbench.data.readers import ReadError, Staged, stage_file
from workbench.data.schema import Column, Table, load_schema
from workbench.data.store import connect

EXAMPLES_PER_PROBLEM = 20
DATE_FORMATS = ["%Y-%m-%d", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S",
                "%Y/%m/%d", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M", "%Y.%m.%d", "%Y%m%d"]
_FULLWIDTH = ("０１２３４５６７８９．，－＋", "0123456789.,-+")


@dataclass
class ImportResult:
    """What one file added to the store."""

    file: str
    table: str
    sheet: str | None
    rows_read: int
    inserted: int
    updated: int
    skipped: int
    ignored_columns: list[str] = field(default_factory=list)
    encoding: str | None = None


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _sql_str(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _numeric_text(raw: str, money: bool) -> str:
    """SQL normalising a number written by people: full-width digits, thousands separators, currency."""
    expr = f"translate(trim({raw}), '{_FULLWIDTH[0]}', '{_FULLWIDTH[1]}')"
    strip = [",", " "] + (["¥", "￥", "RMB", "rmb", "元", "CNY"] if money else [])
    for s in strip:
        expr = f"replace({expr}, {_sql_str(s)}, '')"
    return expr


def parse_expr(col: Column, raw: str) -> tuple[str, list[tuple[str, str]]]:
    """SQL for a column's typed value and its checks [(condition, reason)] over text ``raw``."""
    present = f"(nullif(trim({raw}), '') IS NOT NULL)"
    checks: list[tuple[str, str]] = []
    t = col.type
    if t == "id":
        value = (f"CASE WHEN regexp_full_match(trim({raw}), '[0-9]+\\.0+') THEN split_part(trim({raw}), '.', 1) "
                 f"ELSE nullif(trim({raw}), '') END")
    elif t == "text":
        value = f"nullif(trim({raw}), '')"
    elif t == "date":
        norm = (f"replace(replace(replace(translate(trim({raw}), '{_FULLWIDTH[0]}', '{_FULLWIDTH[1]}'), "
                "'年', '-'), '月', '-'), '日', '')")
        fmts = "[" + ", ".join(_sql_str(f) for f in DATE_FORMATS) + "]"
        value = f"CAST(try_strptime({norm}, {fmts}) AS DATE)"
        checks.append((f"{present} AND {value} IS NULL",
                       "is not a date; write dates year first, e.g. 2024-03-05, 2024/3/5 or 2024年3月5日"))
        checks.append((f"{value} IS NOT NULL AND (year({value}) < 1900 OR year({value}) > 2100)",
                       "is not a plausible date (year outside 1900-2100)"))
    elif t in ("money", "integer", "number"):
        num = f"TRY_CAST({_numeric_text(raw, t == 'money')} AS DOUBLE)"
        if t == "money":
            value = f"CAST(round({num}, 2) AS DECIMAL(14,2))"
            checks.append((f"{present} AND {num} IS NULL", "is not an amount (expected a number such as 1,280.50)"))
            checks.append((f"{num} < 0", "is negative; amounts must be 0 or more (record refunds in the source "
                                        "system, not as negative sales)"))
            checks.append((f"{num} >= 1e12", "is too large to be an amount"))
        elif t == "integer":
            value = f"CAST({num} AS BIGINT)"
            checks.append((f"{present} AND ({num} IS NULL OR {num} <> floor({num}))", "is not a whole number"))
        else:
            value = num
            checks.append((f"{present} AND {num} IS NULL", "is not a number"))
        if col.min is not None:
            checks.append((f"{num} < {col.min}", f"is below the minimum {col.min}"))
        if col.max is not None:
            checks.append((f"{num} > {col.max}", f"is above the maximum {col.max}"))
    elif t == "enum":
        whens = []
        for canonical, spellings in col.values.items():
            words = {canonical.lower(), *(s.lower() for s in spellings)}
            whens.append(f"WHEN lower(trim({raw})) IN ({', '.join(_sql_str(w) for w in sorted(words))}) "
                         f"THEN {_sql_str(canonical)}")
        value = f"CASE {' '.join(whens)} END"
        allowed = ", ".join(col.values)
        checks.append((f"{present} AND {value} IS NULL", f"is not one of the allowed values ({allowed})"))
    elif t == "boolean":
        value = (f"CASE WHEN lower(trim({raw})) IN ('1','true','yes','y','是','t','√') THEN true "
                 f"WHEN lower(trim({raw})) IN ('0','false','no','n','否','f','×') THEN false END")
        checks.append((f"{present} AND {value} IS NULL", "is not yes/no (是/否, yes/no, 1/0)"))
    else:  # pragma: no cover - the schema loader refuses unknown types
        raise ValueError(t)
    if col.required:
        checks.insert(0, (f"NOT {present}", "is empty; this column is required"))
    return value, checks


def _typed_name(staged: Staged) -> str:
    return staged.name + "_typed"


def _type_and_check(con: duckdb.DuckDBPyConnection, staged: Staged) -> list[Problem]:
    """Create the typed table for a staged file and return every per-cell problem (capped examples)."""
    table = staged.table
    cols = [table.columns[c] for c in table.columns if c in staged.columns]
    blank = " AND ".join(f"coalesce(trim({_q(c.name)}), '') = ''" for c in cols)
    selects = ["rowid AS _ord"]
    checks: list[tuple[str, str, str]] = []  # (column, condition, reason)
    for col in cols:
        value, col_checks = parse_expr(col, _q(col.name))
        selects.append(f"{value} AS {_q(col.name)}")
        checks += [(col.name, cond, reason) for cond, reason in col_checks]
    problem_cols = []
    for i, (_, cond, _) in enumerate(checks):
        selects.append(f"({cond}) IS TRUE AS _p{i}")
        problem_cols.append(f"_p{i}")
    typed = _typed_name(staged)
    con.execute(f"CREATE OR REPLACE TEMP TABLE {typed} AS SELECT {', '.join(selects)} "
                f"FROM {staged.name} WHERE NOT ({blank})")
    if not problem_cols:
        return []
    counts = con.execute(f"SELECT {', '.join(f'count_if({p})' for p in problem_cols)} FROM {typed}").fetchall()[0]
    problems: list[Problem] = []
    for i, n in enumerate(counts):
        if not n:
            continue
        column, _, reason = checks[i]
        examples = con.execute(
            f"SELECT t._ord, s.{_q(column)} FROM {typed} t JOIN {staged.name} s ON s.rowid = t._ord "
            f"WHERE t._p{i} ORDER BY t._ord LIMIT {EXAMPLES_PER_PROBLEM}").fetchall()
        for ordinal, raw in examples:
            problems.append(staged.problem(reason, ordinal=ordinal, column=column, value=raw))
        if n > len(examples):
            problems.append(staged.problem(f"... and {n - len(examples):,} more row(s) where the value {reason}",
                                           column=column))
    return problems


def _key_problems(con: duckdb.DuckDBPyConnection, staged: Staged) -> list[Problem]:
    """Duplicate keys inside one file (customers twice, a transaction id on two rows)."""
    problems: list[Problem] = []
    typed = _typed_name(staged)
    for key in staged.table.key:
        if key not in staged.columns:
            continue
        dups = con.execute(
            f"SELECT {_q(key)}, list(_ord ORDER BY _ord) FROM {typed} WHERE {_q(key)} IS NOT NULL "
            f"GROUP BY 1 HAVING count(*) > 1 ORDER BY min(_ord) LIMIT {EXAMPLES_PER_PROBLEM}").fetchall()
        for value, ordinals in dups:
            rows = staged.rows(ordinals)
            problems.append(staged.problem(
                f"appears on rows {', '.join(map(str, rows))}; each {key} may appear only once in a file",
                ordinal=ordinals[1], column=key, value=value))
    return problems


def _reference_problems(con: duckdb.DuckDBPyConnection, staged: Staged) -> list[Problem]:
    """Values that must exist in another table (a transaction's customer) but do not."""
    problems: list[Problem] = []
    typed = _typed_name(staged)
    for col in staged.table.columns.values():
        if not col.references or col.name not in staged.columns:
            continue
        ref = load_schema()[col.references]
        ref_key = ref.key[0]
        missing_sql = (f"FROM {typed} t WHERE t.{_q(col.name)} IS NOT NULL AND NOT EXISTS "
                       f"(SELECT 1 FROM {_q(ref.name)} r WHERE r.{_q(ref_key)} = t.{_q(col.name)})")
        n = con.execute(f"SELECT count(*) {missing_sql}").fetchall()[0][0]
        if not n:
            continue
        reason = f"is not a known {ref.name[:-1] if ref.name.endswith('s') else ref.name}; import {ref.name} first"
        examples = con.execute(f"SELECT t._ord, t.{_q(col.name)} {missing_sql} ORDER BY t._ord "
                               f"LIMIT {EXAMPLES_PER_PROBLEM}").fetchall()
        for ordinal, value in examples:
            problems.append(staged.problem(reason, ordinal=ordinal, column=col.name, value=value))
        if n > len(examples):
            problems.append(staged.problem(f"... and {n - len(examples):,} more row(s) whose value {reason}",
                                           column=col.name))
    return problems


def _land(con: duckdb.DuckDBPyConnection, staged: Staged, import_id: int) -> tuple[int, int, int]:
    """Insert (or update) the typed rows of one file; returns (inserted, updated, skipped)."""
    table = staged.table
    typed = _typed_name(staged)
    cols = [c for c in table.columns if c in staged.columns]
    key_col = table.key[0] if table.key else None
    content = [c for c in cols if c != key_col]
    row_text = "concat_ws('\x1f', " + ", ".join(f"coalesce(CAST({_q(c)} AS VARCHAR), '')" for c in content) + ")"
    if key_col in staged.columns and not table.key_optional:
        key_expr = f"{_q(key_col)}"
    else:
        digest = f"md5({row_text})"
        occurrence = f"row_number() OVER (PARTITION BY {digest} ORDER BY _ord)"
        content_key = f"'h:' || {digest} || '#' || {occurrence}"
        key_expr = (f"coalesce({_q(key_col)}, {content_key})" if key_col in staged.columns else content_key)
    con.execute(f"CREATE OR REPLACE TEMP TABLE {typed}_k AS SELECT *, {key_expr} AS _key FROM {typed}")
    target = _q(table.name)
    total = con.execute(f"SELECT count(*) FROM {typed}_k").fetchall()[0][0]
    updated = 0
    if table.on_duplicate_key == "update":
        updated = con.execute(f"SELECT count(*) FROM {typed}_k k JOIN {target} t ON t._key = k._key").fetchall()[0][0]
        if updated:
            sets = ", ".join(f"{_q(c)} = k.{_q(c)}" for c in cols if c != key_col)
            if sets:
                con.execute(f"UPDATE {target} SET {sets}, _import_id = {import_id} FROM {typed}_k k "
                            f"WHERE {target}._key = k._key")
    col_list = ", ".join(_q(c) for c in cols)
    before = con.execute(f"SELECT count(*) FROM {target}").fetchall()[0][0]
    con.execute(f"INSERT INTO {target} ({col_list}, _key, _import_id) SELECT {col_list}, _key, {import_id} "
                f"FROM {typed}_k k WHERE NOT EXISTS (SELECT 1 FROM {target} t WHERE t._key = k._key)")
    inserted = con.execute(f"SELECT count(*) FROM {target}").fetchall()[0][0] - before
    return inserted, updated, total - inserted - updated


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def import_files(table: str, files: list[str | Path], db: str | Path | None = None, *,
                 sheet: str | None = None, encoding: str | None = None,
                 memory_limit: str | None = None) -> list[ImportResult]:
    """Validate ``files`` for ``table`` and import them all in one transaction, or raise.

    Raises :class:`ImportValidationError` listing every problem in every file;
    in that case the store is unchanged.
    """
    schema = load_schema()
    if table not in schema:
        raise ValueError(f"unknown table {table!r}; importable tables are {sorted(schema)}")
    spec: Table = schema[table]
    paths = [Path(f) for f in files]
    if not paths:
        raise ValueError("no files given")
    problems: list[Problem] = []
    staged: list[Staged] = []
    results: list[ImportResult] = []
    with connect(db, memory_limit=memory_limit) as con, tempfile.TemporaryDirectory() as tmp:
        con.execute(f"SET temp_directory = {_sql_str(tmp)}")
        for i, path in enumerate(paths):
            try:
                s = stage_file(con, path, spec, f"_stage{i}", sheet=sheet, encoding=encoding)
            except ReadError as exc:
                problems += exc.problems
                continue
            file_problems = _type_and_check(con, s)
            file_problems += _key_problems(con, s)
            file_problems += _reference_problems(con, s)
            problems += file_problems
            staged.append(s)
        if len({p.resolve() for p in paths}) < len(paths):
            problems.append(Problem(", ".join(p.name for p in paths), "the same file is named twice"))
        if problems:
            raise ImportValidationError(problems)
        con.execute("BEGIN TRANSACTION")
        try:
            next_id = con.execute("SELECT coalesce(max(import_id), 0) + 1 FROM imports").fetchall()[0][0]
            for s in staged:
                import_id = next_id
                next_id += 1
                inserted, updated, skipped = _land(con, s, import_id)
                rows_read = inserted + updated + skipped
                con.execute("INSERT INTO imports VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, now())",
                            [import_id, table, s.file.name, s.sheet, file_sha256(s.file), rows_read,
                             inserted, updated, skipped])
                results.append(ImportResult(s.file.name, table, s.sheet, rows_read, inserted, updated, skipped,
                                            s.ignored, s.encoding))
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    return results
