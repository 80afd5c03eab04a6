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

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from workbench.data.problems import ImportValidationError, Problem
from workbench.data.purge import scrub_purged
from workbench.data.readers import ReadError, Staged, csv_error, stage_file
from workbench.data.schema import Column, Table, load_schema
from workbench.data.store import connect, quote_identifier as _q, require_room, transaction
from workbench.paths import default_db_path
from workbench.reports.files import file_sha256

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


def _sql_str(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _numeric_text(raw: str, money: bool) -> str:
    """SQL normalising a number written by people: full-width digits, thousands separators, currency."""
    expr = f"translate(trim({raw}), '{_FULLWIDTH[0]}', '{_FULLWIDTH[1]}')"
    strip = [",", " "] + (["¥", "￥", "RMB", "rmb", "元", "CNY"] if money else [])
    for s in strip:
        expr = f"replace({expr}, {_sql_str(s)}, '')"
    return expr


def parse_expr(col: Column, raw: str) -> str:
    """SQL turning the text ``raw`` into the column's typed value (NULL when it cannot be read).

    Each parser tries the plain cast first and falls back to the slower
    normalisation (full-width digits, separators, Chinese dates) only where
    the plain cast fails. Numbers stay DOUBLE here and are range-checked
    before they are cast to the table's type on insert.
    """
    t = f"trim({raw})"
    kind = col.type
    if kind == "id":
        return (f"CASE WHEN ends_with({t}, '.0') AND regexp_full_match({t}, '[0-9]+\\.0+') "
                f"THEN split_part({t}, '.', 1) ELSE nullif({t}, '') END")
    if kind == "text":
        return f"nullif({t}, '')"
    if kind == "date":
        norm = (f"replace(replace(replace(translate({t}, '{_FULLWIDTH[0]}', '{_FULLWIDTH[1]}'), "
                "'年', '-'), '月', '-'), '日', '')")
        fmts = "[" + ", ".join(_sql_str(f) for f in DATE_FORMATS) + "]"
        return f"coalesce(TRY_CAST({t} AS DATE), CAST(try_strptime({norm}, {fmts}) AS DATE))"
    if kind in ("money", "integer", "number"):
        return f"coalesce(TRY_CAST({t} AS DOUBLE), TRY_CAST({_numeric_text(raw, kind == 'money')} AS DOUBLE))"
    if kind == "enum":
        whens = []
        for canonical, spellings in col.values.items():
            words = {canonical.lower(), *(s.lower() for s in spellings)}
            whens.append(f"WHEN lower({t}) IN ({', '.join(_sql_str(w) for w in sorted(words))}) "
                         f"THEN {_sql_str(canonical)}")
        exact = ", ".join(_sql_str(v) for v in col.values)
        return f"CASE WHEN {raw} IN ({exact}) THEN {raw} {' '.join(whens)} END"
    if kind == "boolean":
        return (f"CASE WHEN lower({t}) IN ('1','true','yes','y','是','t','√') THEN true "
                f"WHEN lower({t}) IN ('0','false','no','n','否','f','×') THEN false END")
    raise ValueError(kind)  # pragma: no cover - the schema loader refuses unknown types


def column_checks(col: Column, v: str, present: str) -> list[tuple[str, str]]:
    """The checks of a typed column as [(SQL condition that marks a bad value, reason)].

    ``v`` names the typed value and ``present`` a flag saying the cell was not blank.
    """
    checks: list[tuple[str, str]] = []
    if col.required:
        checks.append((f"NOT {present}", "is empty; this column is required"))
    kind = col.type
    if kind == "date":
        checks.append((f"{present} AND {v} IS NULL",
                       "is not a date; write dates year first, e.g. 2024-03-05, 2024/3/5 or 2024年3月5日"))
        checks.append((f"year({v}) < 1900 OR year({v}) > 2100", "is not a plausible date (year outside 1900-2100)"))
    elif kind == "money":
        checks.append((f"{present} AND {v} IS NULL", "is not an amount (expected a number such as 1,280.50)"))
        checks.append((f"{v} < 0", "is negative; amounts must be 0 or more (record refunds in the source "
                                   "system, not as negative sales)"))
        checks.append((f"{v} >= 1e12", "is too large to be an amount"))
    elif kind == "integer":
        checks.append((f"{present} AND ({v} IS NULL OR {v} <> floor({v}) OR abs({v}) > 2e9)", "is not a whole number"))
    elif kind == "number":
        checks.append((f"{present} AND {v} IS NULL", "is not a number"))
    elif kind == "enum":
        checks.append((f"{present} AND {v} IS NULL", f"is not one of the allowed values ({', '.join(col.values)})"))
    elif kind == "boolean":
        checks.append((f"{present} AND {v} IS NULL", "is not yes/no (是/否, yes/no, 1/0)"))
    if kind in ("integer", "number", "money"):
        if col.min is not None:
            checks.append((f"{v} < {col.min}", f"is below the minimum {col.min}"))
        if col.max is not None:
            checks.append((f"{v} > {col.max}", f"is above the maximum {col.max}"))
    return checks


def _typed_name(staged: Staged) -> str:
    return staged.name + "_typed"


def _typed_select(staged: Staged, with_ordinals: bool) -> tuple[str, dict[str, list[tuple[str, str]]]]:
    """The SELECT that types a staged file, and the checks per column over the typed table.

    The typed table holds each column's value and a ``_p_<column>`` flag (the
    cell was not blank); checks then run on these cheap columns instead of
    re-parsing text.
    """
    table = staged.table
    cols = [table.columns[c] for c in table.columns if c in staged.columns]
    blank = " AND ".join(f"coalesce(trim({_q(c.name)}), '') = ''" for c in cols)
    selects = ["rowid AS _ord"] if with_ordinals else []
    checks: dict[str, list[tuple[str, str]]] = {}
    for col in cols:
        selects.append(f"{parse_expr(col, _q(col.name))} AS {_q(col.name)}")
        col_checks = column_checks(col, _q(col.name), _q("_p_" + col.name))
        if col_checks:
            selects.append(f"(nullif(trim({_q(col.name)}), '') IS NOT NULL) AS {_q('_p_' + col.name)}")
            checks[col.name] = col_checks
    return f"SELECT {', '.join(selects)} FROM {staged.relation} WHERE NOT ({blank})", checks


def _fast_check(con: duckdb.DuckDBPyConnection, staged: Staged) -> bool:
    """Type a file straight from its reader and say whether it is clean.

    Most imports are clean, so this path reads the file once and keeps only the
    typed table. When anything is wrong the caller takes the detailed path,
    which keeps the text and record numbers to say where.
    """
    sql, checks = _typed_select(staged, with_ordinals=False)
    typed = _typed_name(staged)
    try:
        con.execute(f"CREATE OR REPLACE TEMP TABLE {typed} AS {sql}")
    except duckdb.Error as exc:
        raise ReadError([csv_error(staged.label, str(exc))]) from None
    counts = [f"count_if(({cond}) IS TRUE)" for col_checks in checks.values() for cond, _ in col_checks]
    for key in staged.table.key:
        if key in staged.columns:
            counts.append(f"count({_q(key)}) - count(DISTINCT {_q(key)})")
    if counts and any(con.execute(f"SELECT {', '.join(counts)} FROM {typed}").fetchall()[0]):
        return False
    return not any(n for n, _, _ in _missing_references(con, staged))


def _type_and_check(con: duckdb.DuckDBPyConnection, staged: Staged) -> list[Problem]:
    """Type a file keeping record numbers, and return every per-cell problem (capped examples).

    A cell is reported under the first check it fails, all cells of the file at once.
    """
    staged.materialise(con)
    sql, checks = _typed_select(staged, with_ordinals=True)
    typed = _typed_name(staged)
    con.execute(f"CREATE OR REPLACE TEMP TABLE {typed} AS {sql}")
    problems: list[Problem] = []
    for column, col_checks in checks.items():
        whens = " ".join(f"WHEN {cond} THEN {i}" for i, (cond, _) in enumerate(col_checks))
        status = f"CASE {whens} END"
        counts = con.execute(f"SELECT {status} AS s, count(*) FROM {typed} WHERE s IS NOT NULL "
                             f"GROUP BY 1 ORDER BY 1").fetchall()
        for code, n in counts:
            reason = col_checks[code][1]
            examples = con.execute(
                f"SELECT b._ord, s.{_q(column)} FROM (SELECT _ord FROM {typed} WHERE ({status}) = {code} "
                f"ORDER BY _ord LIMIT {EXAMPLES_PER_PROBLEM}) b JOIN {staged.name} s ON s.rowid = b._ord "
                f"ORDER BY b._ord").fetchall()
            for ordinal, raw in examples:
                problems.append(staged.problem(reason, ordinal=ordinal, column=column, value=raw))
            if n > len(examples):
                problems.append(staged.problem(f"... and {n - len(examples):,} more row(s) where the value {reason}",
                                               column=column))
    return sorted(problems, key=lambda p: (p.row is None, p.row or 0, p.letter or ""))


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


def _missing_references(con: duckdb.DuckDBPyConnection, staged: Staged) -> list[tuple[int, Column, Table]]:
    """(count, column, referenced table) for each column whose values must exist in another table."""
    out = []
    typed = _typed_name(staged)
    for col in staged.table.columns.values():
        if not col.references or col.name not in staged.columns:
            continue
        ref = load_schema()[col.references]
        n = con.execute(f"SELECT count(*) {_missing_sql(typed, col, ref)}").fetchall()[0][0]
        out.append((n, col, ref))
    return out


def _missing_sql(typed: str, col: Column, ref: Table) -> str:
    return (f"FROM {typed} t WHERE t.{_q(col.name)} IS NOT NULL AND NOT EXISTS "
            f"(SELECT 1 FROM {_q(ref.name)} r WHERE r.{_q(ref.key[0])} = t.{_q(col.name)})")


def _reference_problems(con: duckdb.DuckDBPyConnection, staged: Staged) -> list[Problem]:
    """Values that must exist in another table (a transaction's customer) but do not."""
    problems: list[Problem] = []
    typed = _typed_name(staged)
    for n, col, ref in _missing_references(con, staged):
        if not n:
            continue
        reason = f"is not a known {ref.name[:-1] if ref.name.endswith('s') else ref.name}; import {ref.name} first"
        examples = con.execute(f"SELECT t._ord, t.{_q(col.name)} {_missing_sql(typed, col, ref)} ORDER BY t._ord "
                               f"LIMIT {EXAMPLES_PER_PROBLEM}").fetchall()
        for ordinal, value in examples:
            problems.append(staged.problem(reason, ordinal=ordinal, column=col.name, value=value))
        if n > len(examples):
            problems.append(staged.problem(f"... and {n - len(examples):,} more row(s) whose value {reason}",
                                           column=col.name))
    return problems


def _land(con: duckdb.DuckDBPyConnection, staged: Staged, import_id: int) -> tuple[int, int, int]:
    """Insert (or update) the typed rows of one file; returns (inserted, updated, skipped).

    The row key is the file's key column when every row has one; otherwise the
    row's content plus its occurrence number among identical rows of the file.
    """
    table = staged.table
    typed = _typed_name(staged)
    cols = [c for c in table.columns if c in staged.columns]
    key_col = table.key[0] if table.key else None
    has_full_key = key_col in staged.columns and not con.execute(
        f"SELECT count(*) FROM {typed} WHERE {_q(key_col)} IS NULL").fetchall()[0][0]
    if has_full_key:
        source = f"(SELECT *, {_q(key_col)} AS _key FROM {typed})"
    else:
        content = [c for c in cols if c != key_col]
        row_text = "concat_ws(chr(31), " + ", ".join(f"coalesce(CAST({_q(c)} AS VARCHAR), '')" for c in content) + ")"
        source = (f"(SELECT *, 'h:' || _digest || '#' || row_number() OVER (PARTITION BY _digest) "
                  f"AS _key FROM (SELECT *, md5({row_text}) AS _digest FROM {typed}))")
    target = _q(table.name)
    total = con.execute(f"SELECT count(*) FROM {typed}").fetchall()[0][0]
    updated = 0
    if table.on_duplicate_key == "update":
        con.execute(f"CREATE OR REPLACE TEMP TABLE {typed}_k AS SELECT * FROM {source}")
        source = f"{typed}_k"
        updated = con.execute(f"SELECT count(*) FROM {source} k JOIN {target} t ON t._key = k._key").fetchall()[0][0]
        sets = ", ".join(f"{_q(c)} = k.{_q(c)}" for c in cols if c != key_col)
        if updated and sets:
            con.execute(f"UPDATE {target} SET {sets}, _import_id = {import_id} FROM {source} k "
                        f"WHERE {target}._key = k._key")
    col_list = ", ".join(_q(c) for c in cols)
    before = con.execute(f"SELECT count(*) FROM {target}").fetchall()[0][0]
    con.execute(f"INSERT INTO {target} ({col_list}, _key, _import_id) SELECT {col_list}, _key, {import_id} "
                f"FROM {source} k WHERE NOT EXISTS (SELECT 1 FROM {target} t WHERE t._key = k._key)")
    inserted = con.execute(f"SELECT count(*) FROM {target}").fetchall()[0][0] - before
    return inserted, updated, total - inserted - updated


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
    db = Path(db) if db else default_db_path()
    with connect(db, memory_limit=memory_limit) as con, tempfile.TemporaryDirectory() as tmp:
        for i, path in enumerate(paths):
            try:
                s = stage_file(con, path, spec, f"_stage{i}", sheet=sheet, encoding=encoding, tmpdir=Path(tmp))
                if not _fast_check(con, s):
                    problems += _type_and_check(con, s) + _key_problems(con, s) + _reference_problems(con, s)
            except ReadError as exc:
                problems += exc.problems
                continue
            staged.append(s)
        if len({p.resolve() for p in paths}) < len(paths):
            problems.append(Problem(", ".join(p.name for p in paths), "the same file is named twice"))
        if problems:
            raise ImportValidationError(problems)
        require_room(db, 2 * sum(s.file.stat().st_size for s in staged),
                     f"importing {len(staged)} file(s)")
        with transaction(con):
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
            if con.execute("SELECT count(*) FROM purged_customers").fetchall()[0][0]:
                scrub_purged(con)  # an erased customer's data stays erased, whatever the export brings back
    return results
