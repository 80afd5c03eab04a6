"""A designed survey as the analysis needs it: the stored definition, the sample with weights, the strata.

The survey stage stores the validated template as JSON (``surveys.definition``) and the drawn sample in
``survey_sample``; answers are always checked against what was actually fielded, not against a template
file that may have changed since.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from workbench.data.store import connect
from workbench.errors import NotFound
from workbench.surveys.template import Choice, Condition, Question, Survey


def survey_from_dict(d: dict[str, Any]) -> Survey:
    """Rebuild a :class:`Survey` from ``Survey.to_dict()`` (as stored in ``surveys.definition``)."""
    qs = []
    for q in d["questions"]:
        q = dict(q)
        q["choices"] = tuple(Choice(**c) for c in q.get("choices") or ())
        q["show_if"] = tuple(Condition(c["question"], tuple(c["values"]) if c.get("values") is not None else None,
                                       c.get("min"), c.get("max")) for c in q.get("show_if") or ())
        q["scale_labels"] = {int(k): v for k, v in (q.get("scale_labels") or {}).items()}
        q["lint_ignore"] = tuple(q.get("lint_ignore") or ())
        qs.append(Question(**q))
    top = {k: v for k, v in d.items() if k != "questions"}
    top["languages"] = tuple(top.get("languages") or ("zh", "en"))
    return Survey(questions=tuple(qs), **top)


@dataclass(frozen=True)
class FieldedSurvey:
    """What was fielded: ``survey`` (the definition), ``sample`` (survey_sample rows: case_id, customer_id,
    stratum, role, reserve_rank, design_weight, interviewer) and ``design`` (the stored design parameters)."""

    survey_id: str
    survey: Survey
    sample: pd.DataFrame
    design: dict[str, Any]


def load_fielded_survey(db: str | Path | None, survey_id: str) -> FieldedSurvey:
    """Read one survey's definition and sample from the store (KeyError naming the known ids if absent)."""
    with connect(db, read_only=True) as con:
        cols = {r[0] for r in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'surveys'").fetchall()}
        design_col = ", design" if "design" in cols else ", NULL AS design"
        rows = con.execute(f"SELECT definition{design_col} FROM surveys WHERE survey_id = ?", [survey_id]).fetchall()
        if not rows:
            known = [r[0] for r in con.execute("SELECT survey_id FROM surveys ORDER BY survey_id").fetchall()]
            raise NotFound(f"no survey {survey_id!r} in the store; known: {', '.join(known) or 'none'}")
        sample = con.execute("SELECT * FROM survey_sample WHERE survey_id = ? ORDER BY case_id, customer_id",
                             [survey_id]).df()
    definition, design = rows[0]
    survey = survey_from_dict(json.loads(definition) if isinstance(definition, str) else definition)
    design = json.loads(design) if isinstance(design, str) else (design or {})
    if "case_id" not in sample.columns:
        sample["case_id"] = pd.NA
    sample["customer_id"] = sample["customer_id"].astype(str)
    return FieldedSurvey(survey_id, survey, sample, design)


def list_surveys(db: str | Path | None) -> pd.DataFrame:
    """The surveys in the store (survey_id, template, title_zh, title_en, created_at)."""
    with connect(db, read_only=True) as con:
        return con.execute("SELECT survey_id, template, title_zh, title_en, created_at FROM surveys "
                           "ORDER BY created_at, survey_id").df()
