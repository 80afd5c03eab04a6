"""Rounds run in other tools: import an assignments file so the evaluation treats the round like a native one.

Businesses also run e-mail or SMS pushes with a holdout in their own tools. Such a push is a round like any
other once the store knows who was in which arm: ``import_round(db, file, campaign=..., round_date=...)``
reads the tool's assignments file (CSV or XLSX; columns ``customer_id``, ``arm``, optional ``channel`` and
``contacted_on``, with Chinese or English headers) and writes, in one transaction:

* the campaign (``playbook 'external'``), if it is new;
* the round ``<campaign>-<YYYYMMDD>``: closed, seed 0, the file's holdout share, its name as ``source`` and
  ``window_days`` when given (else each customer's channel window, or the default window when some rows
  have no channel: the rule of :mod:`workbench.evaluation.rounds`);
* one assignment per row: ``arm`` treatment or holdout, ``arm_name`` the treatment arm as the file names it
  (a file may hold several treatment arms, each compared with the holdout), ``cohort_round`` the round;
* one contact attempt (outcome ``contacted``) per row with a ``contacted_on`` date. Holdout rows with a
  date are stored too, so the evaluation's contamination check shows them rather than hiding them.

The file is read by the shared readers (encodings, delimiters, header aliases) and checked like every
import (:mod:`workbench.data.importer`: typed cells, duplicate ids, unknown customers, the one date
parser), plus the round's own rules (arm labels, holdout share, contact dates on or after the round date,
cell and file size). Every problem is reported at once, each at its cell; when there is any, nothing is
written (:class:`~workbench.data.problems.ImportValidationError`).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import pandas as pd

# The importer's typed-cell, duplicate-key and unknown-reference checks, reused as they are (one rule each).
from workbench.data.importer import (EXAMPLES_PER_PROBLEM, _key_problems, _reference_problems, _type_and_check,
                                     _typed_name)
from workbench.data.problems import ImportValidationError, Problem
from workbench.data.readers import ReadError, Staged, stage_file
from workbench.data.schema import Column, Table, fold_header, load_schema
from workbench.data.store import connect, quote_identifier as _q, require_room, transaction
from workbench.paths import default_db_path
from workbench.scoring.config import CHANNELS

__all__ = ["HOLDOUT_LABELS", "EXCLUDED_LABELS", "MAX_FILE_BYTES", "MAX_CELL_CHARS", "MAX_TREATMENT_ARMS",
           "MIN_HOLDOUT_SHARE", "MAX_HOLDOUT_SHARE", "ImportedRound", "assignment_file_table", "arm_labels",
           "round_id_for", "check_campaign", "check_window_days", "parse_round_date", "import_round"]

#: Arm labels meaning "held out" (compared folded: case, width, spaces, ``_`` and ``-`` ignored).
HOLDOUT_LABELS = ("holdout", "hold-out", "control", "对照组", "对照", "控制组")
#: Labels of rows left out of a round: not an arm, so refused (delete those rows from the file).
EXCLUDED_LABELS = ("excluded", "exclude", "排除", "剔除")
MIN_HOLDOUT_SHARE, MAX_HOLDOUT_SHARE = 0.01, 0.99
#: Largest assignments file read (a million rows with four columns is about 40 MB).
MAX_FILE_BYTES = 256 * 2**20
#: Longest cell accepted (ids, arm labels, channels and dates are short; a longer cell is a pasted text).
MAX_CELL_CHARS = 200
#: More distinct treatment labels than this means the arm column holds something else (names, notes).
MAX_TREATMENT_ARMS = 10
CONTACT_OUTCOME = "contacted"
CONTACT_NOTE = "imported round"
_CAMPAIGN_RE = re.compile(r"[\w][\w.\-]{0,63}")
_STAGE = "_round_file"


@dataclass
class ImportedRound:
    """What :func:`import_round` wrote."""

    round_id: str
    campaign_id: str
    round_date: dt.date
    file: str
    sheet: str | None
    rows: int
    treated: int
    holdout: int
    arms: dict[str, int]               # treatment arm name (as the file writes it) -> customers
    contacts: int                      # contact attempts written (rows with a contact date)
    holdout_contacted: int             # of which holdout rows: the evaluation flags them as contamination
    window_days: int | None
    replaced: bool
    new_campaign: bool
    ignored_columns: list[str] = field(default_factory=list)
    encoding: str | None = None

    @property
    def holdout_share(self) -> float:
        return self.holdout / (self.treated + self.holdout)

    def summary(self) -> str:
        where = f" [{self.sheet}]" if self.sheet else ""
        arms = ", ".join(f"{k} {v:,}" for k, v in self.arms.items())
        window = (f"{self.window_days} days for every customer" if self.window_days is not None
                  else "each customer's channel window (the default where a row has no channel)")
        lines = [f"round {self.round_id}{' (replaced)' if self.replaced else ''} imported from {self.file}{where}: "
                 f"{self.rows:,} customers, {self.treated:,} treated ({arms}), {self.holdout:,} holdout "
                 f"({self.holdout_share:.1%}); {self.contacts:,} contact date(s); attribution window: {window}"]
        if self.new_campaign:
            lines.append(f"  new campaign {self.campaign_id!r} (external)")
        if self.ignored_columns:
            lines.append(f"  ignored columns: {', '.join(self.ignored_columns)}")
        if self.holdout_contacted:
            lines.append(f"  WARNING: {self.holdout_contacted:,} holdout customer(s) have a contact date; stored as "
                         "contact attempts, so the evaluation reports the holdout as contaminated")
        lines.append(f"  evaluate it: workbench evaluate --round {self.round_id} --out DIR")
        return "\n".join(lines)


# --- arguments -----------------------------------------------------------------------------

def round_id_for(campaign: str, round_date: dt.date) -> str:
    """The id of an imported round: ``f"{campaign}-{round_date:%Y%m%d}"``."""
    return f"{campaign}-{round_date:%Y%m%d}"


def check_campaign(name: str) -> str:
    """The campaign name, or ValueError: letters (any script), digits, ``_ - .``, at most 64 characters."""
    text = str(name).strip()
    if not _CAMPAIGN_RE.fullmatch(text):
        raise ValueError(f"campaign {name!r}: use letters, digits, '_', '-' or '.' (at most 64, no spaces)")
    return text


def check_window_days(days: Any) -> int | None:
    """An attribution window in whole days (1-366), or None; ValueError otherwise (the settings' own range)."""
    if days is None:
        return None
    try:
        value = int(str(days).strip())
    except ValueError:
        raise ValueError(f"window days {days!r}: expected a whole number of days") from None
    if not 1 <= value <= 366:
        raise ValueError(f"window days {value}: expected 1 to 366")
    return value


def parse_round_date(value: Any) -> dt.date:
    """The round date from a date or a ``YYYY-MM-DD`` string; ValueError otherwise."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        raise ValueError(f"round date {value!r}: expected YYYY-MM-DD, e.g. 2026-11-02") from None


# --- the file's columns --------------------------------------------------------------------

def _channel_spellings() -> dict[str, tuple[str, ...]]:
    """Channel -> accepted spellings: the customers table's channel spellings (zh/en) and the workbook labels."""
    from workbench.vocabulary import CHANNEL_LABELS

    schema = load_schema()["customers"].columns.get("preferred_channel")
    known = schema.values if schema is not None else {}
    return {ch: tuple(dict.fromkeys([*known.get(ch, ()), *CHANNEL_LABELS.get(ch, ())])) for ch in CHANNELS}


@lru_cache(maxsize=1)
def assignment_file_table() -> Table:
    """The columns of an assignments file, as a schema table the shared readers and checks understand."""
    customer_id = load_schema()["customers"].columns["customer_id"]
    columns = {
        "customer_id": Column("customer_id", "id", required=True, aliases=customer_id.aliases,
                              references="customers"),
        "arm": Column("arm", "text", required=True,
                      aliases=("组别", "分组", "组", "实验分组", "实验组别", "group", "variant", "test group",
                               "arm name")),
        "channel": Column("channel", "enum", values=_channel_spellings(),
                          aliases=("渠道", "联系渠道", "触达渠道", "发送渠道", "推送渠道", "contact channel",
                                   "medium")),
        "contacted_on": Column("contacted_on", "date",
                               aliases=("联系日期", "触达日期", "发送日期", "推送日期", "发送时间", "联系时间",
                                        "contacted", "contact date", "contacted at", "sent on", "sent at",
                                        "send date", "sent date", "date sent")),
    }
    return Table("round_assignments", "A round run in another tool: who was in which arm.", columns,
                 key=("customer_id",), key_optional=False, on_duplicate_key="skip")


def arm_labels(labels: Sequence[str]) -> pd.DataFrame:
    """Classify the arm labels of a file, in file order.

    Parameters
    ----------
    labels : the distinct non-empty labels of the arm column, in the order they first appear.

    Returns
    -------
    DataFrame with ``label`` (as given), ``arm`` (``treatment``, ``holdout`` or ``excluded``) and
    ``arm_name``: for treatment labels the first spelling of the arm (labels equal once folded, such as
    ``Email_A`` and ``email a``, are one arm), None otherwise.

    Examples
    --------
    >>> arm_labels(["联系组", "对照组", "Hold-out", "email_a", "EMAIL A"])[["arm", "arm_name"]].values.tolist()
    [['treatment', '联系组'], ['holdout', None], ['holdout', None], ['treatment', 'email_a'], ['treatment', 'email_a']]
    """
    hold = {fold_header(x) for x in HOLDOUT_LABELS}
    excluded = {fold_header(x) for x in EXCLUDED_LABELS}
    first: dict[str, str] = {}
    arms, names = [], []
    for label in labels:
        key = fold_header(label)
        arm = "holdout" if key in hold else "excluded" if key in excluded else "treatment"
        arms.append(arm)
        names.append(first.setdefault(key, str(label).strip()) if arm == "treatment" else None)
    return pd.DataFrame({"label": pd.Series(list(labels), dtype=object), "arm": pd.Series(arms, dtype=object),
                         "arm_name": pd.Series(names, dtype=object)})


# --- checks --------------------------------------------------------------------------------

def _row_problems(con, staged: Staged, where: str, column: str, reason: str, params: Sequence = ()) -> list[Problem]:
    """A problem per row matching ``where`` (over the typed rows ``t`` and the text ``s``), capped like the importer."""
    source = f"FROM {_typed_name(staged)} t JOIN {staged.name} s ON s.rowid = t._ord WHERE {where}"
    n = con.execute(f"SELECT count(*) {source}", list(params)).fetchall()[0][0]
    if not n:
        return []
    rows = con.execute(f"SELECT t._ord, s.{_q(column)} {source} ORDER BY t._ord LIMIT {EXAMPLES_PER_PROBLEM}",
                       list(params)).fetchall()
    problems = [staged.problem(reason, ordinal=o, column=column, value=v) for o, v in rows]
    if n > len(rows):
        problems.append(staged.problem(f"... and {n - len(rows):,} more row(s) where the value {reason}",
                                       column=column))
    return problems


def _column_problem(staged: Staged, column: str, reason: str) -> Problem:
    """A problem about a whole column, placed on its header cell (row 1)."""
    header, letter = staged.columns[column]
    return Problem(staged.label, reason, sheet=staged.sheet, row=1, column=column, header=header, letter=letter)


def _arm_check(con, staged: Staged) -> tuple[pd.DataFrame, list[Problem]]:
    """The file's arm labels classified (with counts), and the arm rules' problems."""
    typed = _typed_name(staged)
    counts = con.execute(f"SELECT arm, count(*) AS n FROM {typed} WHERE arm IS NOT NULL GROUP BY arm "
                         "ORDER BY min(_ord)").df()
    arms = arm_labels(counts["arm"].tolist()).assign(n=counts["n"].to_numpy())
    problems: list[Problem] = []
    bad = arms.loc[arms["arm"] == "excluded", "label"].tolist()
    if bad:
        con.register("_excluded", pd.DataFrame({"label": bad}))
        try:
            problems += _row_problems(con, staged, "t.arm IN (SELECT label FROM _excluded)", "arm",
                                      "marks a customer left out of the round, which is not an arm: delete the "
                                      "row (only treatment and holdout customers belong in the file)")
        finally:
            con.unregister("_excluded")
    n_hold = int(arms.loc[arms["arm"] == "holdout", "n"].sum())
    n_treat = int(arms.loc[arms["arm"] == "treatment", "n"].sum())
    names = arms.loc[arms["arm"] == "treatment", "arm_name"].unique().tolist()
    accepted = ", ".join(HOLDOUT_LABELS)
    if not len(arms):
        pass  # every arm cell is empty: reported cell by cell as required
    elif not n_hold:
        problems.append(_column_problem(staged, "arm", f"no row is in the holdout (holdout labels: {accepted}); a "
                                        "round without a holdout cannot be evaluated"))
    elif not n_treat:
        problems.append(_column_problem(staged, "arm", "every row is in the holdout (holdout share 100%): at least "
                                        "one treatment row is needed"))
    else:
        share = n_hold / (n_hold + n_treat)
        if not MIN_HOLDOUT_SHARE <= share <= MAX_HOLDOUT_SHARE:
            problems.append(_column_problem(
                staged, "arm", f"holdout share {share:.2%} ({n_hold:,} of {n_hold + n_treat:,} rows) is outside "
                f"{MIN_HOLDOUT_SHARE:.0%}-{MAX_HOLDOUT_SHARE:.0%}: check that the holdout rows are in the file "
                f"and labelled {accepted}"))
    if len(names) > MAX_TREATMENT_ARMS:
        shown = ", ".join(repr(n) for n in names[:5])
        problems.append(_column_problem(
            staged, "arm", f"holds {len(names):,} different treatment labels ({shown}, ...), more than "
            f"{MAX_TREATMENT_ARMS} arms: is this the arm column? Holdout rows are labelled {accepted}"))
    return arms, problems


def _validate(con, path: Path, round_date: dt.date, sheet: str | None, encoding: str | None,
              tmpdir: Path) -> tuple[Staged | None, pd.DataFrame, list[Problem]]:
    """Stage and check the file: (staged file, classified arms, every problem found)."""
    label = path.name
    if path.exists() and path.stat().st_size > MAX_FILE_BYTES:
        return None, pd.DataFrame(), [Problem(label, f"is {path.stat().st_size / 2**20:,.0f} MB, more than the "
                                              f"{MAX_FILE_BYTES / 2**20:,.0f} MB an assignments file may have "
                                              "(a million rows take about 40 MB): is it the right file?")]
    try:
        staged = stage_file(con, path, assignment_file_table(), _STAGE, sheet=sheet, encoding=encoding, tmpdir=tmpdir)
        problems = _type_and_check(con, staged)
    except ReadError as exc:
        return None, pd.DataFrame(), exc.problems
    typed = _typed_name(staged)
    if not con.execute(f"SELECT count(*) FROM {typed}").fetchall()[0][0]:
        return staged, pd.DataFrame(), [Problem(label, "has a header row but no data rows", sheet=staged.sheet,
                                                row=1)]
    for column in staged.columns:
        problems += _row_problems(con, staged, f"length(s.{_q(column)}) > {MAX_CELL_CHARS}", column,
                                  f"is longer than {MAX_CELL_CHARS} characters, too long for this column (a pasted text?)")
    problems += _key_problems(con, staged) + _reference_problems(con, staged)
    arms, arm_problems = _arm_check(con, staged)
    problems += arm_problems
    if "contacted_on" in staged.columns:
        problems += _row_problems(con, staged, "t.contacted_on < ?::DATE", "contacted_on",
                                  f"is before the round date {round_date}: contacts of this round happen on or after "
                                  "it (a wrong --date, or a row from an earlier push?)", [round_date])
    return staged, arms, sorted(problems, key=lambda p: (p.row is None, p.row or 0, p.letter or ""))


def _round_problems(con, label: str, round_id: str, replace: bool) -> list[Problem]:
    """Whether the round may be written: new, or imported before and ``replace`` given."""
    rows = con.execute("SELECT source FROM rounds WHERE round_id = ?", [round_id]).fetchall()
    if not rows:
        return []
    source = rows[0][0]
    if source in (None, "workbench"):
        return [Problem(label, f"round {round_id} exists and was planned in the workbench, not imported: it cannot "
                               "be replaced by a file; import under another --campaign or --date")]
    if not replace:
        return [Problem(label, f"round {round_id} exists already (imported from {source}); pass --replace to "
                               "replace it with this file")]
    return []


# --- the import ----------------------------------------------------------------------------

def _write(con, staged: Staged, arms: pd.DataFrame, *, round_id: str, campaign: str, round_date: dt.date,
           window_days: int | None, replace: bool) -> tuple[bool, int, int]:
    """Write campaign, round, assignments and contact attempts (inside the caller's transaction).

    Returns (new campaign, contact attempts written, of which holdout)."""
    typed = _typed_name(staged)
    channel = "t.channel" if "channel" in staged.columns else "NULL::VARCHAR"
    contacted = "t.contacted_on" if "contacted_on" in staged.columns else "NULL::DATE"
    n_hold = int(arms.loc[arms["arm"] == "holdout", "n"].sum())
    share = n_hold / int(arms["n"].sum())
    if replace:
        for table in ("contact_attempts", "assignments", "rounds"):
            con.execute(f"DELETE FROM {table} WHERE round_id = ?", [round_id])
    new_campaign = not con.execute("SELECT 1 FROM campaigns WHERE campaign_id = ?", [campaign]).fetchall()
    if new_campaign:
        con.execute("INSERT INTO campaigns (campaign_id, playbook, definition, created_at) "
                    "VALUES (?, 'external', ?, now()::TIMESTAMP)", [campaign, json.dumps({"source": "external"})])
    con.execute("""INSERT INTO rounds (round_id, campaign_id, round_date, budget, holdout_share, seed, status,
                                       created_at, playbook, closed_at, window_days, source)
                   VALUES (?, ?, ?, NULL, ?, 0, 'closed', now()::TIMESTAMP, 'external', now()::TIMESTAMP, ?, ?)""",
                [round_id, campaign, round_date, share, window_days, staged.label])
    con.execute(f"""INSERT INTO assignments (round_id, customer_id, arm, channel, arm_name, cohort_round)
                    SELECT ?, t.customer_id, m.arm, {channel}, m.arm_name, ?
                    FROM {typed} t JOIN _arm_map m ON m.label = t.arm ORDER BY t._ord""", [round_id, round_id])
    con.execute(f"""
        INSERT INTO contact_attempts (round_id, customer_id, attempt_date, channel, outcome, notes, source_file,
                                      attempts, imported_at)
        SELECT ?, t.customer_id, {contacted}, {channel}, ?, ?, ?, 1, now()::TIMESTAMP
        FROM {typed} t WHERE {contacted} IS NOT NULL ORDER BY t._ord""",
                [round_id, CONTACT_OUTCOME, CONTACT_NOTE, staged.label])
    n_contacts, n_hold_contacts = con.execute(f"""
        SELECT count(*), count(*) FILTER (WHERE m.arm = 'holdout')
        FROM {typed} t JOIN _arm_map m ON m.label = t.arm WHERE {contacted} IS NOT NULL""").fetchall()[0]
    return new_campaign, int(n_contacts), int(n_hold_contacts)


def import_round(db: str | Path | None, file: str | Path, *, campaign: str, round_date: Any,
                 window_days: int | None = None, sheet: str | None = None, encoding: str | None = None,
                 replace: bool = False) -> ImportedRound:
    """Import a round run in another tool from its assignments file, all or nothing.

    Parameters
    ----------
    db : the store (default ``$WORKBENCH_DB``, then ``outputs/workbench.duckdb``).
    file : CSV (any encoding the readers detect) or XLSX with ``customer_id``, ``arm`` (holdout labels
        :data:`HOLDOUT_LABELS`; any other label is a treatment arm, stored as ``arm_name``) and optional
        ``channel`` and ``contacted_on`` columns, Chinese or English headers.
    campaign : campaign id; created (playbook ``external``) when new. The round is ``<campaign>-<YYYYMMDD>``.
    round_date : the day the push went out (date or ``YYYY-MM-DD``): both arms' clocks start there.
    window_days : attribution window for every customer (1-366); None uses each customer's channel window.
    sheet, encoding : as for ``workbench import`` (default: the first sheet; the detected encoding).
    replace : replace a round imported before under the same id (a round planned in the workbench never is).

    Returns
    -------
    ImportedRound: counts per arm, contacts written, the holdout share.

    Raises
    ------
    ImportValidationError listing every problem (file, sheet, row, column, why); the store is unchanged.
    ValueError for a bad campaign name, date or window.

    Examples
    --------
    >>> r = import_round("store.duckdb", "push.csv", campaign="sms_nov", round_date="2026-11-02")  # doctest: +SKIP
    >>> evaluate_round("store.duckdb", r.round_id, months=3)  # doctest: +SKIP
    """
    campaign = check_campaign(campaign)
    round_date = parse_round_date(round_date)
    window_days = check_window_days(window_days)
    round_id = round_id_for(campaign, round_date)
    path = Path(file)
    db = Path(db) if db else default_db_path()
    with connect(db) as con, tempfile.TemporaryDirectory() as tmp:
        staged, arms, problems = _validate(con, path, round_date, sheet, encoding, Path(tmp))
        problems = _round_problems(con, path.name, round_id, replace) + problems
        if problems:
            raise ImportValidationError(problems)
        assert staged is not None
        replaced = bool(con.execute("SELECT 1 FROM rounds WHERE round_id = ?", [round_id]).fetchall())
        require_room(db, 2 * path.stat().st_size, f"importing round {round_id}")
        con.register("_arm_map", arms[arms["arm"] != "excluded"][["label", "arm", "arm_name"]])
        try:
            with transaction(con):
                new_campaign, contacts, hold_contacts = _write(
                    con, staged, arms, round_id=round_id, campaign=campaign, round_date=round_date,
                    window_days=window_days, replace=replaced)
        finally:
            con.unregister("_arm_map")
    treated = arms[arms["arm"] == "treatment"]
    return ImportedRound(
        round_id=round_id, campaign_id=campaign, round_date=round_date, file=path.name, sheet=staged.sheet,
        rows=int(arms["n"].sum()), treated=int(treated["n"].sum()),
        holdout=int(arms.loc[arms["arm"] == "holdout", "n"].sum()),
        arms={str(k): int(v) for k, v in treated.groupby("arm_name", sort=False)["n"].sum().items()},
        contacts=contacts, holdout_contacted=hold_contacts, window_days=window_days, replaced=replaced,
        new_campaign=new_campaign, ignored_columns=list(staged.ignored), encoding=staged.encoding)
