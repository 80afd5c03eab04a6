"""Check imported answers against what was fielded: the survey definition and its sample.

Problems found (each with file, sheet, spreadsheet row, column and why): unknown answer codes, more answers
than a question allows, numbers out of range, answers to questions the skip logic hides, missing required
answers in completed interviews, cases or customers not in the sample, answers without a status, and
duplicate submissions (two submissions for one case; one submission id with different answers). A
submission exported twice with the same id and the same answers is kept once (overlapping exports).

All checks are vectorised over a wide frame (one row per submission, one column per question) so a
100,000-submission export validates in seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from workbench.analysis.answers import KEY_COLUMNS, TIME_COLUMNS, AnswerFile, answer_columns, answer_times
from workbench.analysis.survey_store import FieldedSurvey
from workbench.data.problems import Problem
from workbench.surveys.template import Condition, Question, Survey, skip_hint

CHOICE_LIKE = ("single_choice", "multiple_choice", "ranking", "rating", "yes_no")


def _cond_value(v: object) -> str:
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def _condition_mask(survey: Survey, cond: Condition, values: pd.DataFrame) -> pd.Series:
    ref = survey.question(cond.question)
    v = values[cond.question].astype(str) if cond.question in values.columns else \
        pd.Series("", index=values.index, dtype=object)
    if cond.values is not None:
        wanted = {_cond_value(x) for x in cond.values}
        if ref.type == "number":
            num = pd.to_numeric(v, errors="coerce")
            return num.isin([float(x) for x in cond.values])
        if ref.type == "multiple_choice":
            pattern = r"(?:^|\s)(?:" + "|".join(sorted(map(_escape, wanted))) + r")(?:\s|$)"
            return v.str.contains(pattern, regex=True)
        return v.isin(wanted)
    num = pd.to_numeric(v, errors="coerce")
    ok = num.notna()
    if cond.min is not None:
        ok &= num >= cond.min
    if cond.max is not None:
        ok &= num <= cond.max
    return ok.fillna(False).astype(bool)


def _escape(s: str) -> str:
    import re

    return re.escape(s)


def visibility(survey: Survey, values: pd.DataFrame) -> pd.DataFrame:
    """Whether each answer column was shown to each submission, given its answers (skip logic; ``<q>_other``
    only when the 'other' choice was picked)."""
    out = {}
    for q in survey.questions:
        if not q.asks:
            continue
        mask = pd.Series(True, index=values.index)
        for cond in q.show_if:
            mask &= _condition_mask(survey, cond, values)
        out[q.name] = mask
        other = q.other_choice
        if other is not None:
            picked = _condition_mask(survey, Condition(q.name, (other.name,)), values) if q.type != "multiple_choice" \
                else values[q.name].astype(str).str.contains(rf"(?:^|\s){_escape(other.name)}(?:\s|$)", regex=True)
            out[f"{q.name}_other"] = mask & picked
    return pd.DataFrame(out, index=values.index)


@dataclass
class Checked:
    """Submissions that passed (``meta`` with sample columns added, ``values``), every problem, and counts of
    what was left out and why."""

    meta: pd.DataFrame
    values: pd.DataFrame
    problems: list[Problem]
    left_out: pd.DataFrame = field(default_factory=pd.DataFrame)   # reason, rows
    duplicates_dropped: int = 0
    not_called: int = 0


def _where(f: AnswerFile, sheet: str, q: str) -> tuple[str | None, str | None]:
    return f.where.get((sheet, q), (None, None))


def _source_column(f: AnswerFile, sheet: str, names: tuple[str, ...], default: str) -> str:
    """The first of ``names`` that is a column of this file's sheet (where a meta value was read from)."""
    return next((n for n in names if (sheet, n) in f.where), default)


def _problem(files: dict[str, AnswerFile], meta: pd.DataFrame, idx, column: str, reason: str, value: str | None = None,
             kind: str = "") -> tuple[Problem, str]:
    r = meta.loc[idx]
    if column in ("case_id", "customer_id"):  # name the id column the file has (case or customer)
        names = ("case_id", "customer_id", "customer_ref") if column == "case_id" else \
            ("customer_id", "customer_ref", "case_id")
        column = _source_column(files[r["file"]], r["sheet"], names, column)
    letter, header = _where(files[r["file"]], r["sheet"], column)
    return Problem(r["file"], reason, sheet=r["sheet"] or None, row=int(r["row"]), column=column, header=header,
                   letter=letter or None, value=value), kind


def _choice_problems(q: Question, v: pd.Series) -> list[tuple[object, str, str, str]]:
    """(index, value, reason, kind) for bad choice answers in one column (each distinct text checked once)."""
    out = []
    allowed = [c.name for c in q.answers]
    allowed_set = set(allowed)
    labels = {lab: c.name for c in q.answers for lab in c.label.values()}
    nonempty = v[v != ""]
    if nonempty.empty:
        return out
    bad_texts = {}
    for text in pd.unique(nonempty.to_numpy(dtype=object)):
        codes = str(text).split()
        reasons = []
        for code in codes:
            if code not in allowed_set:
                hint = f" (that is the label of {labels[code]!r}: export choice names, not labels)" if code in labels else ""
                shown = ", ".join(allowed[:12]) + (" ..." if len(allowed) > 12 else "")
                reasons.append((code, f"unknown answer code for {q.name}{hint}; allowed: {shown}", "unknown code"))
        if q.type in ("single_choice", "rating", "yes_no") and len(codes) > 1:
            reasons.append((text, f"{q.name} takes one answer, got {len(codes)}", "too many answers"))
        elif q.type == "multiple_choice" and q.max_choices and len(codes) > q.max_choices:
            reasons.append((text, f"{q.name} takes at most {q.max_choices} answers, got {len(codes)}", "too many answers"))
        if len(set(codes)) != len(codes):
            reasons.append((text, f"the same answer is given twice for {q.name}", "repeated answer"))
        if reasons:
            bad_texts[text] = reasons
    if bad_texts:
        for idx, text in nonempty[nonempty.isin(list(bad_texts))].items():
            out += [(idx, value, reason, kind) for value, reason, kind in bad_texts[text]]
    return out


def _number_problems(q: Question, v: pd.Series) -> list[tuple[object, str, str, str]]:
    nonempty = v[v != ""]
    num = pd.to_numeric(nonempty, errors="coerce")
    out = [(i, nonempty[i], f"{q.name} needs a number", "not a number") for i in num[num.isna()].index]
    ok = num.dropna()
    if q.min is not None:
        out += [(i, nonempty[i], f"{q.name} must be at least {q.min:g}", "out of range") for i in ok[ok < q.min].index]
    if q.max is not None:
        out += [(i, nonempty[i], f"{q.name} must be at most {q.max:g}", "out of range") for i in ok[ok > q.max].index]
    if q.integer:
        out += [(i, nonempty[i], f"{q.name} must be a whole number", "not a whole number")
                for i in ok[(ok % 1) != 0].index]
    return out


def check_answers(files: list[AnswerFile], fielded: FieldedSurvey) -> Checked:
    """Validate the submissions of ``files`` together (duplicates are looked for across files)."""
    survey = fielded.survey
    cols = answer_columns(survey)
    by_name = {f.file: f for f in files}
    if len(by_name) != len(files):
        names = [f.file for f in files]
        dup = sorted({n for n in names if names.count(n) > 1})
        raise ValueError(f"two files share the name(s) {dup}; rename one so problems can be told apart")
    problems: list[tuple[Problem, str]] = [(p, "unreadable value") for f in files for p in f.problems]
    meta = pd.concat([f.meta for f in files], ignore_index=True)
    values = pd.concat([f.values.reindex(columns=cols, fill_value="") for f in files], ignore_index=True)
    values = values.fillna("").astype(str)
    meta = meta.fillna("")
    for c in ("case_id", "customer_id", "status", "key", "survey_ref"):
        meta[c] = meta[c].astype(str).str.strip()
    answered = (values != "").any(axis=1)

    # rows nobody called: nothing to import
    not_called = (meta["status"] == "") & ~answered
    for idx in meta.index[(meta["status"] == "") & answered]:
        problems.append(_problem(by_name, meta, idx, "status", "answers but no status: pick completed, refused, "
                                 "not reached or call back", kind="no status"))
    meta, values = meta[~not_called], values[~not_called]

    # when and how often, as typed: an unreadable time or count is not dropped silently
    times = answer_times(meta["answered_at"])
    for idx in meta.index[(meta["answered_at"].astype(str).str.strip() != "") & times.isna()]:
        col = _source_column(by_name[meta.at[idx, "file"]], meta.at[idx, "sheet"], TIME_COLUMNS, "answered_at")
        problems.append(_problem(by_name, meta, idx, col, "is not a date (write it year first: 2026-11-05 or "
                                 "2026-11-05 14:30)", value=meta.at[idx, "answered_at"], kind="bad date"))
    attempts = meta["attempts"].astype(str).str.strip()
    count = pd.to_numeric(attempts.where(attempts.str.fullmatch(r"\d+(?:\.0+)?"), None), errors="coerce")
    for idx in meta.index[(attempts != "") & ~count.between(0, 99)]:
        problems.append(_problem(by_name, meta, idx, "attempts", "is not a whole number of call attempts (0-99)",
                                 value=meta.at[idx, "attempts"], kind="bad attempts"))

    # survey and sample
    wrong = meta.index[(meta["survey_ref"] != "") & (meta["survey_ref"] != fielded.survey_id)]
    for idx in wrong:
        problems.append(_problem(by_name, meta, idx, "survey_id", f"belongs to survey {meta.at[idx, 'survey_ref']!r}, "
                                 f"not {fielded.survey_id!r}", value=meta.at[idx, "survey_ref"], kind="other survey"))
    sample = fielded.sample[["case_id", "customer_id", "stratum", "design_weight", "role", "interviewer"]].rename(
        columns={"interviewer": "assigned_interviewer"})
    sample = sample.assign(case_id=sample["case_id"].astype(str), customer_id=sample["customer_id"].astype(str))
    by_case = sample.set_index("case_id")
    by_customer = sample.set_index("customer_id")
    has_case = meta["case_id"] != ""
    case_ok = meta["case_id"].isin(by_case.index)
    cust_from_case = meta["case_id"].map(by_case["customer_id"]).fillna("")
    case_from_cust = meta["customer_id"].map(by_customer["case_id"]).fillna("")
    for idx in meta.index[has_case & ~case_ok]:
        problems.append(_problem(by_name, meta, idx, "case_id", f"case is not in the sample of {fielded.survey_id}",
                                 value=meta.at[idx, "case_id"], kind="not in sample"))
    mismatch = has_case & case_ok & (meta["customer_id"] != "") & (meta["customer_id"] != cust_from_case)
    for idx in meta.index[mismatch]:
        problems.append(_problem(by_name, meta, idx, "customer_id", f"case {meta.at[idx, 'case_id']} is customer "
                                 f"{cust_from_case[idx]} in the sample, not this one", value=meta.at[idx, "customer_id"],
                                 kind="not in sample"))
    no_case = ~has_case
    for idx in meta.index[no_case & (meta["customer_id"] != "") & (case_from_cust == "")]:
        problems.append(_problem(by_name, meta, idx, "customer_id", f"customer is not in the sample of "
                                 f"{fielded.survey_id}", value=meta.at[idx, "customer_id"], kind="not in sample"))
    for idx in meta.index[no_case & (meta["customer_id"] == "")]:
        problems.append(_problem(by_name, meta, idx, "case_id", "no case ID or customer ID", kind="not in sample"))
    meta.loc[no_case, "case_id"] = case_from_cust[no_case]
    meta.loc[has_case, "customer_id"] = cust_from_case[has_case].where(cust_from_case[has_case] != "",
                                                                       meta.loc[has_case, "customer_id"])

    # the same submission exported twice: keep one if identical, else refuse
    dropped = 0
    keyed = meta["key"] != ""
    if keyed.any():
        sig = pd.util.hash_pandas_object(values, index=False).astype(str) + "|" + meta["status"] + "|" + meta["case_id"]
        grp = pd.DataFrame({"key": meta["key"], "sig": sig})[keyed]
        first_of_key = ~grp.duplicated("key", keep="first")
        same = grp.duplicated(["key", "sig"], keep="first")
        drop_idx = grp.index[same & ~first_of_key]
        differ = grp.index[~same & ~first_of_key]
        first_row = meta.loc[grp.index[first_of_key]].set_index(grp.loc[first_of_key, "key"])
        for idx in differ:
            f = first_row.loc[meta.at[idx, "key"]]
            key_col = _source_column(by_name[meta.at[idx, "file"]], meta.at[idx, "sheet"], KEY_COLUMNS, "key")
            problems.append(_problem(by_name, meta, idx, key_col,
                                     f"submission id {meta.at[idx, 'key']!r} appears again with different answers "
                                     f"(first at {f['file']}, row {f['row']})", kind="duplicate submission"))
        dropped = len(drop_idx)
        meta, values = meta.drop(index=drop_idx), values.drop(index=drop_idx)

    # two submissions for one case
    dup = meta[(meta["case_id"] != "") & meta.duplicated("case_id", keep=False)]
    if len(dup):
        firsts = dup.groupby("case_id", sort=False).head(1).set_index("case_id")
        for idx in dup.index[dup.duplicated("case_id", keep="first")]:
            f = firsts.loc[meta.at[idx, "case_id"]]
            where = f"{f['file']}" + (f", sheet '{f['sheet']}'" if f["sheet"] else "") + f", row {f['row']}"
            problems.append(_problem(by_name, meta, idx, "case_id", f"duplicate submission for case "
                                     f"{meta.at[idx, 'case_id']} (first at {where})", value=meta.at[idx, "case_id"],
                                     kind="duplicate submission"))

    # answers against the questions
    vis = visibility(survey, values)
    completed = meta["status"] == "completed"
    for q in survey.questions:
        if not q.asks:
            continue
        for name in ([q.name, f"{q.name}_other"] if q.other_choice is not None else [q.name]):
            v = values[name]
            nonempty = v != ""
            hidden = nonempty & ~vis[name]
            rule = skip_hint(survey, q, "en") if name == q.name else f"ask only if {q.name} = {q.other_choice.name}"
            for idx in meta.index[hidden]:
                problems.append(_problem(by_name, meta, idx, name, f"answered although the skip logic hides it "
                                         f"({rule})", value=v[idx], kind="skipped question answered"))
            if name == q.name and q.required:
                for idx in meta.index[completed & vis[name] & ~nonempty]:
                    problems.append(_problem(by_name, meta, idx, name, f"required answer missing in a completed "
                                             f"interview", kind="missing required"))
        v = values[q.name]
        bad = _choice_problems(q, v) if q.type in CHOICE_LIKE else _number_problems(q, v) if q.type == "number" else []
        for idx, value, reason, kind in bad:
            problems.append(_problem(by_name, meta, idx, q.name, reason, value=value, kind=kind))

    located = [p for p, _ in problems]
    left = pd.DataFrame([(p.file, p.sheet or "", p.row, kind) for p, kind in problems],
                        columns=["file", "sheet", "row", "reason"])
    out_meta = meta.merge(sample.drop(columns=["customer_id"]), on="case_id", how="left")
    out_meta.index = meta.index
    return Checked(out_meta, values, located, left, dropped, int(not_called.sum()))


def drop_bad_rows(checked: Checked) -> tuple[Checked, pd.DataFrame]:
    """Keep only submissions without problems; returns the result and (reason, rows) counts of those left out.

    Problems that are not about one row (a missing sheet, an unknown column) cannot be left out this way:
    the caller must refuse the import when any remain."""
    rows = checked.left_out.dropna(subset=["row"])
    rows = rows[rows["row"] > 1]
    bad = pd.MultiIndex.from_frame(rows[["file", "sheet", "row"]].astype({"row": "int64"}))
    key = pd.MultiIndex.from_frame(checked.meta[["file", "sheet", "row"]].astype({"row": "int64"}))
    keep = ~key.isin(bad)
    per_row = rows.drop_duplicates(["file", "sheet", "row", "reason"])
    summary = (per_row.groupby("reason").size().rename("rows").reset_index()
               .sort_values("rows", ascending=False, kind="stable").reset_index(drop=True))
    remaining = [p for p in checked.problems if p.row is None or p.row <= 1]
    out = Checked(checked.meta[keep], checked.values[keep], remaining, checked.left_out, checked.duplicates_dropped,
                  checked.not_called)
    return out, summary
