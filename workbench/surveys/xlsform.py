"""Export a survey template as an XLSForm for ODK Collect / KoboToolbox (survey, choices, settings sheets).

Both languages are written as ``label::Chinese (zh)`` and ``label::English (en)``.
"Other" is an explicit choice plus a ``<question>_other`` text question (never
``or_other``). Every submission carries ``survey_id`` and the interviewer-entered
``case_id``, which must match the ``cases.csv`` written beside the form (attach
it as form media): a hidden ``pulldata`` pre-load looks the case up and the
form refuses a case id that is not on the list, so every answer joins back to
the sample (``survey_sample.case_id``). Web forms (Enketo) can pre-fill the case
id from the link: ``?d[/<form_id>/case_id]=C0001``.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd

from workbench.reports.files import atomic_path, excel_workbook, write_frame
from workbench.surveys.template import Question, Survey

LANGUAGE_NAMES = {"zh": "Chinese (zh)", "en": "English (en)"}
CASES_FILE = "cases"
_RISKY_START = ("=", "+", "-", "@", "\t", "\r")


def lang_column(prefix: str, lang: str) -> str:
    return f"{prefix}::{LANGUAGE_NAMES.get(lang, f'{lang} ({lang})')}"


def _texts(prefix: str, text: dict[str, str] | None, languages: tuple[str, ...]) -> dict[str, str]:
    return {lang_column(prefix, lang): (text or {}).get(lang, "") for lang in languages} if text else {}


def _literal(value: str) -> str:
    return "'" + str(value).replace("'", "") + "'"


def relevant_expression(survey: Survey, q: Question) -> str:
    """The XPath ``relevant`` for a question's skip logic ('' when always shown)."""
    parts = []
    for c in q.show_if:
        ref = survey.question(c.question)
        var = "${" + c.question + "}"
        if c.values is not None and ref.type == "number":
            parts.append("(" + " or ".join(f"{var} = {float(v):g}" for v in c.values) + ")")
        elif c.values is not None:
            parts.append("(" + " or ".join(f"selected({var}, {_literal(v)})" for v in c.values) + ")")
        else:
            num = var if ref.type == "number" else f"number({var})"
            bounds = [f"{num} >= {c.min:g}"] if c.min is not None else []
            bounds += [f"{num} <= {c.max:g}"] if c.max is not None else []
            parts.append("(" + " and ".join(bounds) + ")")
    return " and ".join(parts)


def xlsform_frames(survey: Survey, survey_id: str | None = None) -> dict[str, pd.DataFrame]:
    """The three XLSForm sheets as DataFrames (``survey``, ``choices``, ``settings``)."""
    langs = survey.languages
    form_id = survey_id or survey.id
    rows: list[dict[str, str]] = [
        {"type": "start", "name": "start"},
        {"type": "end", "name": "end"},
        {"type": "calculate", "name": "survey_id", "calculation": _literal(form_id)},
        {"type": "text", "name": "case_id", "required": "yes",
         **_texts("label", {"zh": "个案编号（见名单）", "en": "Case ID (from the call list)"}, langs),
         **_texts("hint", {"zh": "按名单上的个案编号填写，例如 C0001", "en": "As printed on the list, e.g. C0001"},
                  langs),
         "constraint": f"regex(., '^[A-Za-z0-9_-]+$') and pulldata('{CASES_FILE}', 'customer_id', 'case_id', .) != ''",
         **_texts("constraint_message", {"zh": "名单上没有这个个案编号", "en": "This case ID is not on the list"},
                  langs)},
        {"type": "calculate", "name": "customer_ref",
         "calculation": f"pulldata('{CASES_FILE}', 'customer_id', 'case_id', ${{case_id}})"},
        {"type": "calculate", "name": "stratum",
         "calculation": f"pulldata('{CASES_FILE}', 'stratum', 'case_id', ${{case_id}})"},
    ]
    if survey.intro:
        rows.append({"type": "note", "name": "intro", **_texts("label", survey.intro, langs),
                     **_texts("guidance_hint", survey.fieldwork, langs)})
    choices: list[dict[str, object]] = []
    need_yes_no = False
    for q in survey.questions:
        row: dict[str, str] = {"name": q.name, **_texts("label", q.label, langs), **_texts("hint", q.hint, langs)}
        if q.required:
            row["required"] = "yes"
        rel = relevant_expression(survey, q)
        if rel:
            row["relevant"] = rel
        if q.type in ("single_choice", "multiple_choice", "ranking", "rating"):
            kind = {"single_choice": "select_one", "multiple_choice": "select_multiple", "ranking": "rank",
                    "rating": "select_one"}[q.type]
            row["type"] = f"{kind} {q.name}"
            for c in q.answers:
                choices.append({"list_name": q.name, "name": c.name, **_texts("label", c.label, langs),
                                "reason": c.reason or "", "score": "" if c.score is None else c.score})
            if q.randomize:
                row["parameters"] = "randomize=true"
            if q.type == "rating" and q.scale == 5:
                row["appearance"] = "likert"
            if q.type == "multiple_choice" and q.max_choices:
                row["constraint"] = f"count-selected(.) <= {q.max_choices}"
                row.update(_texts("constraint_message", {"zh": f"最多选 {q.max_choices} 项",
                                                          "en": f"Choose at most {q.max_choices}"}, langs))
        elif q.type == "yes_no":
            row["type"] = "select_one yes_no"
            need_yes_no = True
        elif q.type == "number":
            row["type"] = "integer" if q.integer else "decimal"
            bounds = ([f". >= {q.min:g}"] if q.min is not None else []) + ([f". <= {q.max:g}"] if q.max is not None else [])
            if bounds:
                row["constraint"] = " and ".join(bounds)
                lo = "" if q.min is None else f"{q.min:g}"
                hi = "" if q.max is None else f"{q.max:g}"
                row.update(_texts("constraint_message", {"zh": f"请填写 {lo}–{hi} 之间的数", "en": f"Enter a number {lo}–{hi}"},
                                  langs))
        elif q.type == "free_text":
            row["type"] = "text"
        else:
            row["type"] = "note"
        rows.append(row)
        other = q.other_choice
        if other is not None:
            rel_other = f"selected(${{{q.name}}}, {_literal(other.name)})"
            rows.append({"type": "text", "name": f"{q.name}_other", "required": "yes",
                         **_texts("label", {"zh": f"请注明：{other.label['zh']}", "en": f"Please specify: {other.label['en']}"},
                                  langs),
                         "relevant": f"({rel}) and {rel_other}" if rel else rel_other})
    if need_yes_no:
        for name, lab in (("yes", {"zh": "是", "en": "Yes"}), ("no", {"zh": "否", "en": "No"})):
            choices.append({"list_name": "yes_no", "name": name, **_texts("label", lab, langs), "reason": "", "score": ""})
    if survey.closing or survey.incentive:
        closing = {g: " ".join(x for x in ((survey.closing or {}).get(g, ""), (survey.incentive or {}).get(g, "")) if x)
                   for g in langs}
        rows.append({"type": "note", "name": "closing", **_texts("label", closing, langs)})
    columns = ["type", "name"] + [lang_column("label", g) for g in langs] + [lang_column("hint", g) for g in langs] + \
        [lang_column("guidance_hint", g) for g in langs] + ["required", "relevant", "constraint"] + \
        [lang_column("constraint_message", g) for g in langs] + ["appearance", "parameters", "calculation"]
    survey_df = pd.DataFrame(rows).reindex(columns=columns).astype(object).fillna("")
    survey_df = survey_df.loc[:, [c for c in columns if (survey_df[c] != "").any() or c in ("type", "name")]]
    choice_cols = ["list_name", "name"] + [lang_column("label", g) for g in langs] + ["reason", "score"]
    choices_df = pd.DataFrame(choices).reindex(columns=choice_cols).astype(object).fillna("").astype(str)
    settings = pd.DataFrame([{"form_title": survey.title[survey.default_language], "form_id": form_id,
                              "version": survey.version.replace(".", ""),
                              "default_language": LANGUAGE_NAMES[survey.default_language]}])
    return {"survey": survey_df.astype(str), "choices": choices_df, "settings": settings.astype(str)}


def safe_csv_text(value: object) -> str:
    """Text for a CSV a person may open in Excel: a leading = + - @ gets a quote so it stays text."""
    text = "" if value is None or (isinstance(value, float) and value != value) else str(value)
    return "'" + text if text.startswith(_RISKY_START) else text


def write_xlsform(survey: Survey, path: str | Path, *, survey_id: str | None = None,
                  cases: pd.DataFrame | None = None) -> Path:
    """Write the XLSForm to ``path`` and, given the sample, ``cases.csv`` beside it (form media)."""
    path = Path(path)
    frames = xlsform_frames(survey, survey_id)
    with excel_workbook(path) as wb:
        for sheet, df in frames.items():
            write_frame(wb, sheet, df, autofilter=False)
    if cases is not None:
        write_cases_csv(cases, path.with_name(f"{CASES_FILE}.csv"))
    return path


def write_cases_csv(cases: pd.DataFrame, path: str | Path) -> Path:
    """The pre-load list for the form: case_id, customer_id, stratum, name (UTF-8 with BOM for Excel)."""
    path = Path(path)
    cols = [c for c in ("case_id", "customer_id", "stratum", "name") if c in cases.columns]
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8-sig", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(cols)
            for rec in cases[cols].itertuples(index=False):
                w.writerow([rec[0], *(safe_csv_text(v) for v in rec[1:])])
    return path
