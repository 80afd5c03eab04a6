"""Import survey answers into the store: read, validate against the fielded survey, write all or nothing.

``import_responses(db, survey_id, files)`` reads every file (interview workbook, Kobo/ODK export, plain
CSV/xlsx), checks all submissions together and either writes them or raises
:class:`~workbench.data.problems.ImportValidationError` listing every problem (file, sheet, row, column,
why) with the store untouched. With ``valid_rows_only=True`` the submissions with problems are left out
instead and the result says how many and why. Re-importing replaces a case's earlier answers (keyed on
survey and case), so importing the same file twice changes nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from workbench.analysis.answers import AnswerReadError, answer_columns, answer_times, read_answer_file
from workbench.analysis.survey_store import FieldedSurvey, load_fielded_survey
from workbench.analysis.validate import check_answers, drop_bad_rows
from workbench.data.problems import ImportValidationError, Problem
from workbench.data.store import connect, transaction


@dataclass
class ResponseImport:
    """What an import did: cases new / updated / unchanged, answers written, what was left out and why."""

    survey_id: str
    files: list[str]
    cases_read: int
    cases_new: int
    cases_updated: int
    cases_unchanged: int
    answers_written: int
    statuses: dict[str, int]
    left_out: pd.DataFrame = field(default_factory=pd.DataFrame)   # reason, rows (valid-rows-only)
    rows_left_out: int = 0
    duplicates_dropped: int = 0
    not_called: int = 0
    problems: list[Problem] = field(default_factory=list)           # the problems of the rows left out

    def summary(self) -> str:
        s = (f"{self.survey_id}: {self.cases_read:,} case(s) read from {len(self.files)} file(s): {self.cases_new:,} new, "
             f"{self.cases_updated:,} updated, {self.cases_unchanged:,} unchanged; {self.answers_written:,} answers; "
             + ", ".join(f"{k} {v:,}" for k, v in sorted(self.statuses.items())))
        if self.duplicates_dropped:
            s += f"; {self.duplicates_dropped:,} repeated export row(s) kept once"
        if self.not_called:
            s += f"; {self.not_called:,} row(s) without a status skipped (not called yet)"
        if self.rows_left_out:
            s += f"\n{self.rows_left_out:,} row(s) with problems left out: " + ", ".join(
                f"{r.reason} {r.rows:,}" for r in self.left_out.itertuples(index=False))
        return s


def _frames(fielded: FieldedSurvey, meta: pd.DataFrame, values: pd.DataFrame, now: dt.datetime
            ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(cases, answers): one row per case with its status and a hash of status + answers; answers as
    (case_id, question, answer) only - the rest is joined on in SQL."""
    sid = fielded.survey_id
    interviewer = meta["interviewer"].where(meta["interviewer"] != "", meta["assigned_interviewer"].fillna(""))
    values = values.reindex(columns=answer_columns(fielded.survey), fill_value="")
    digest = pd.util.hash_pandas_object(values.assign(_status=meta["status"].to_numpy()), index=False)
    cases = pd.DataFrame({
        "survey_id": sid, "case_id": meta["case_id"].to_numpy(), "customer_id": meta["customer_id"].to_numpy(),
        "status": meta["status"].to_numpy(), "interviewer": interviewer.to_numpy(),
        "attempts": pd.to_numeric(meta["attempts"].replace("", None), errors="raise").astype("Int32").to_numpy(),
        "answered_at": answer_times(meta["answered_at"]).to_numpy(), "source_file": meta["file"].to_numpy(),
        "source_sheet": meta["sheet"].to_numpy(), "source_row": meta["row"].astype("int32").to_numpy(),
        "submission_key": meta["key"].to_numpy(), "imported_at": now,
        "answer_hash": digest.astype("uint64").map("{:016x}".format).to_numpy()})
    arr = values.to_numpy(dtype=object)
    rows, cols = np.nonzero(arr != "")
    answers = pd.DataFrame({"case_id": cases["case_id"].to_numpy()[rows],
                            "question": np.asarray(values.columns, dtype=object)[cols], "answer": arr[rows, cols]})
    return cases, answers


def import_responses(db: str | Path | None, survey_id: str, files: Sequence[str | Path], *,
                     valid_rows_only: bool = False, encoding: str | None = None) -> ResponseImport:
    """Import answer files for ``survey_id`` (all or nothing unless ``valid_rows_only``)."""
    if not files:
        raise ValueError("no files to import")
    names = [Path(f).name for f in files]
    same = sorted({n for n in names if names.count(n) > 1})
    if same:  # problems name files by name: two files of one name could not be told apart
        raise ImportValidationError([Problem(n, "two files of this import have this name (from different "
                                             "folders?); rename one and import again") for n in same])
    fielded = load_fielded_survey(db, survey_id)
    read, problems = [], []
    for f in files:
        try:
            read.append(read_answer_file(f, fielded.survey, encoding=encoding))
        except AnswerReadError as exc:
            problems += exc.problems
    if problems:
        raise ImportValidationError(problems)
    checked = check_answers(read, fielded)
    left, n_left, left_problems = pd.DataFrame(columns=["reason", "rows"]), 0, []
    if checked.problems:
        if not valid_rows_only:
            raise ImportValidationError(checked.problems)
        left_problems = [p for p in checked.problems if p.row is not None and p.row > 1]
        checked, left = drop_bad_rows(checked)
        if checked.problems:  # file-level faults cannot be left out row by row
            raise ImportValidationError(checked.problems)
        n_left = len({(p.file, p.sheet, p.row) for p in left_problems})
    now = dt.datetime.now().replace(microsecond=0)
    cases, answers = _frames(fielded, checked.meta, checked.values, now)
    new = updated = unchanged = 0
    with connect(db) as con:
        with transaction(con):
            con.register("_new_cases", cases)
            con.register("_new_answers", answers)
            old = con.execute("SELECT case_id, status AS status_old, answer_hash AS hash_old FROM survey_cases "
                              "WHERE survey_id = ? AND case_id IN (SELECT case_id FROM _new_cases)", [survey_id]).df()
            both = cases[["case_id", "status", "answer_hash"]].merge(old, on="case_id", how="left")
            known = both["status_old"].notna()
            same = known & (both["answer_hash"] == both["hash_old"]) & (both["status"] == both["status_old"])
            new, unchanged = int((~known).sum()), int(same.sum())
            updated = int(known.sum()) - unchanged
            con.execute("DELETE FROM survey_responses WHERE survey_id = ? AND (case_id IN (SELECT case_id FROM _new_cases)"
                        " OR (case_id IS NULL AND customer_id IN (SELECT customer_id FROM _new_cases)))", [survey_id])
            con.execute("DELETE FROM survey_cases WHERE survey_id = ? AND case_id IN (SELECT case_id FROM _new_cases)",
                        [survey_id])
            con.execute("INSERT INTO survey_cases BY NAME SELECT * FROM _new_cases")
            con.execute("""INSERT INTO survey_responses BY NAME
                SELECT c.survey_id, c.customer_id, c.status, a.question, a.answer, c.interviewer, c.answered_at,
                       c.source_file, c.case_id, c.source_sheet, c.source_row, c.submission_key, c.imported_at
                FROM _new_answers a JOIN _new_cases c USING (case_id)""")
            next_id = con.execute("SELECT coalesce(max(import_id), 0) + 1 FROM imports").fetchall()[0][0]
            for k, f in enumerate(read):
                path = Path(next(x for x in files if Path(x).name == f.file))
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
                n = int((cases["source_file"] == f.file).sum())
                con.execute("INSERT INTO imports VALUES (?, 'survey_responses', ?, ?, ?, ?, ?, ?, ?, now())",
                            [next_id + k, f.file, None, digest, len(f.meta), n, 0, 0])
            con.unregister("_new_cases")
            con.unregister("_new_answers")
    return ResponseImport(survey_id, [f.file for f in read], len(cases), new, updated, unchanged, len(answers),
                          cases["status"].value_counts().to_dict(), left, n_left, checked.duplicates_dropped,
                          checked.not_called, left_problems)


def read_responses(db: str | Path | None, survey_id: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The stored cases (one row per case with status) and answers (tidy: case_id, customer_id, question,
    answer, status, interviewer) of one survey."""
    with connect(db, read_only=True) as con:
        cases = con.execute("SELECT * FROM survey_cases WHERE survey_id = ? ORDER BY case_id", [survey_id]).df()
        answers = con.execute("SELECT case_id, customer_id, status, question, answer, interviewer, answered_at "
                              "FROM survey_responses WHERE survey_id = ? ORDER BY case_id, question", [survey_id]).df()
    return cases, answers


def read_wide(db: str | Path | None, fielded: FieldedSurvey, status: str | None = "completed") -> pd.DataFrame:
    """One row per case (index case_id), one text column per answer column ('' when unanswered), pivoted in
    DuckDB; only cases with ``status`` (None: all)."""
    cols = answer_columns(fielded.survey)
    where = "survey_id = ?" + (" AND status = ?" if status else "")
    args = [fielded.survey_id] + ([status] if status else [])
    listed = ", ".join("'" + c.replace("'", "''") + "'" for c in cols)
    with connect(db, read_only=True) as con:
        df = con.execute(f"""PIVOT (SELECT case_id, question, answer FROM survey_responses WHERE {where})
                             ON question IN ({listed}) USING first(answer) GROUP BY case_id ORDER BY case_id""",
                         args).df()
    df = df.set_index("case_id").reindex(columns=cols)
    df.index = df.index.astype(str)
    return df.astype(object).where(df.notna(), "")


def answers_wide(fielded: FieldedSurvey, answers: pd.DataFrame) -> pd.DataFrame:
    """Tidy answers -> one row per case, one column per answer column ('' when not answered)."""
    cols = answer_columns(fielded.survey)
    if answers.empty:
        return pd.DataFrame(columns=cols, dtype=object).rename_axis("case_id")
    wide = answers.pivot(index="case_id", columns="question", values="answer")
    return wide.reindex(columns=cols).fillna("").astype(object)
