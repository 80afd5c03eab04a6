"""Design a survey end to end: target customers, sample size, stratified sample, store rows and field files.

The notebook ``notebooks/survey_design.ipynb`` and the demo job call these
functions; each step is also usable on its own with a plain DataFrame.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from workbench.data.store import connect, read_table, transaction
from workbench.privacy import ContactPrivacy, protect_contacts
from workbench.surveys.lint import lint_template
from workbench.surveys.phone_workbook import write_phone_workbook
from workbench.surveys.printable import write_questionnaire
from workbench.surveys.sampling import (ShareSampleSize, assign_interviewers, sample_makeup, sample_size_share,
                                        stratified_sample)
from workbench.surveys.template import Survey, load_template
from workbench.surveys.xlsform import write_xlsform

#: Columns the survey stage adds to the store's tables (idempotent; run inside ``connect()``).
_STORE_COLUMNS = [
    "ALTER TABLE survey_sample ADD COLUMN IF NOT EXISTS case_id VARCHAR",
    "ALTER TABLE surveys ADD COLUMN IF NOT EXISTS design JSON",
]


def latest_scores(db: str | Path | None) -> pd.DataFrame | None:
    """The latest ``customer_scores`` via ``workbench.scoring.store.read_scores``; None when nothing was scored
    yet (callers then fall back to customers only)."""
    try:
        from workbench.scoring.store import read_scores  # built by the scoring stage
    except ImportError:
        return None
    scores = read_scores(db)
    return scores if len(scores) else None


def target_population(db: str | Path | None = None, segment: str | None = None, *,
                      customers: pd.DataFrame | None = None, scores: pd.DataFrame | None = None,
                      exclude_do_not_contact: bool = True) -> pd.DataFrame:
    """Customers (joined with their latest scores when there are any) that match ``segment``.

    ``segment`` is a pandas query, e.g. ``"stage in ['lost', 'sleeping'] and tier <= 3"``. Customers
    flagged do_not_contact are always left out. ``attrs['scores']`` says whether scores were joined.
    """
    cust = customers if customers is not None else read_table("customers", db)
    sc = scores if scores is not None else (latest_scores(db) if customers is None else None)
    df = cust.copy()
    joined = sc is not None and len(sc) > 0
    if joined:
        keep = [c for c in sc.columns if c not in df.columns or c == "customer_id"]
        df = df.merge(sc[keep], on="customer_id", how="left")
    if exclude_do_not_contact and "do_not_contact" in df.columns:
        df = df[~df["do_not_contact"].fillna(False).astype(bool)]
    if segment and segment.strip():
        try:
            df = df.query(segment, engine="python")
        except Exception as exc:
            raise ValueError(f"target segment {segment!r} could not be applied: {exc}; "
                             f"available columns: {sorted(df.columns)}") from exc
    df = df.reset_index(drop=True)
    df.attrs["scores"] = bool(joined)
    return df


@dataclass
class SurveyDesign:
    """A designed survey: the template, the size calculation, the drawn sample and what was written."""

    survey_id: str
    survey: Survey
    size: ShareSampleSize
    sample: pd.DataFrame          # main + reserve cases with case_id, interviewer, design_weight, caller fields
    makeup: pd.DataFrame          # population vs sample per stratum
    params: dict[str, Any]
    files: dict[str, Path] = field(default_factory=dict)


def make_survey_id(template_id: str, seed: int, when: dt.date | None = None) -> str:
    return f"{template_id}_{(when or dt.date.today()):%Y%m%d}_s{seed}"


def design_survey(template: str | Path | Survey, population: pd.DataFrame, *, strata: Sequence[str] = (),
                  margin: float = 0.05, confidence: float = 0.95, p: float = 0.5, response_rate: float = 0.3,
                  allocation: str = "proportional", sd_column: str | None = None, reserve_share: float = 0.2,
                  interviewers: Sequence[str] = ("interviewer_1",), seed: int = 0, survey_id: str | None = None,
                  segment: str | None = None, min_per_stratum: int = 1) -> SurveyDesign:
    """Size and draw the sample for ``template`` from ``population`` (one row per customer).

    The number of customers to contact is the completes needed for ±``margin`` on a share, with the
    finite population correction, divided by ``response_rate``. Templates must pass the lint.
    """
    survey = template if isinstance(template, Survey) else load_template(template)
    problems = lint_template(survey)
    errors = problems[problems["severity"] == "error"]
    if len(errors):
        raise ValueError(f"template {survey.id} fails the lint:\n{errors.to_string(index=False)}")
    if population.empty:
        raise ValueError(f"no customers match the target segment {segment!r}: nothing to sample")
    strata = [c for c in strata if c]
    size = sample_size_share(margin, confidence, p, population=len(population), response_rate=response_rate)
    sample = stratified_sample(population, strata, size.contacts, seed=seed, allocation=allocation,
                               reserve_share=reserve_share, sd_column=sd_column, min_per_stratum=min_per_stratum)
    sample = assign_interviewers(sample, interviewers)
    caller = [c for c in ("name", "phone", "preferred_time") if c in population.columns]
    if caller:
        info = population[["customer_id", *caller]].copy()
        info["customer_id"] = info["customer_id"].astype(str)
        sample = sample.merge(info, on="customer_id", how="left")
    sid = survey_id or make_survey_id(survey.id, seed)
    params = {"template": survey.id, "segment": segment, "strata": list(strata), "margin": margin,
              "confidence": confidence, "p": p, "response_rate": response_rate, "allocation": allocation,
              "sd_column": sd_column, "reserve_share": reserve_share, "interviewers": list(interviewers),
              "seed": seed, "population": len(population), "completes": size.completes, "contacts": size.contacts,
              "capped": size.capped, "scores_joined": bool(population.attrs.get("scores", False))}
    return SurveyDesign(sid, survey, size, sample, sample_makeup(population, sample, strata), params)


def save_design(design: SurveyDesign, db: str | Path | None = None) -> None:
    """Write the survey (``surveys``) and its sample with design weights (``survey_sample``), replacing a
    previous design with the same survey id."""
    s = design.sample
    rows = pd.DataFrame({
        "survey_id": design.survey_id, "customer_id": s["customer_id"].astype(str), "stratum": s["stratum"],
        "role": s["role"], "reserve_rank": s["reserve_rank"].astype("Int64"),
        "design_weight": s["design_weight"].astype(float), "interviewer": s["interviewer"],
        "seed": s["seed"].astype("int64"), "case_id": s["case_id"]})
    now = dt.datetime.now().replace(microsecond=0)
    definition = json.dumps(design.survey.to_dict(), ensure_ascii=False, default=str)
    params = json.dumps({**design.params, "incentive": design.survey.incentive,
                         "fieldwork": design.survey.fieldwork}, ensure_ascii=False, default=str)
    with connect(db) as con:
        for stmt in _STORE_COLUMNS:
            con.execute(stmt)
        with transaction(con):
            con.execute("DELETE FROM survey_sample WHERE survey_id = ?", [design.survey_id])
            con.execute("DELETE FROM surveys WHERE survey_id = ?", [design.survey_id])
            con.execute("INSERT INTO surveys (survey_id, template, title_en, title_zh, definition, created_at, design) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?)",
                        [design.survey_id, design.survey.id, design.survey.title["en"], design.survey.title["zh"],
                         definition, now, params])
            con.register("_sample_rows", rows)
            con.execute("INSERT INTO survey_sample (survey_id, customer_id, stratum, role, reserve_rank, design_weight, "
                        "interviewer, seed, case_id) SELECT survey_id, customer_id, stratum, role, reserve_rank, "
                        "design_weight, interviewer, seed, case_id FROM _sample_rows")
            con.unregister("_sample_rows")


def export_design(design: SurveyDesign, output_dir: str | Path, *, language: str = "zh",
                  privacy: str | ContactPrivacy | None = None) -> dict[str, Path]:
    """Write the field files into ``output_dir/<survey_id>/``: XLSForm (+ cases.csv), call workbook,
    printable questionnaire, sample and make-up CSVs. ``privacy`` (:mod:`workbench.privacy`) decides what
    contact data the interviewers' files carry."""
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", design.survey_id)
    out = Path(output_dir) / safe
    out.mkdir(parents=True, exist_ok=True)
    files = {
        "xlsform": write_xlsform(design.survey, out / f"{safe}_xlsform.xlsx", survey_id=design.survey_id,
                                 cases=protect_contacts(design.sample, privacy)),
        "cases_csv": out / "cases.csv",
        "call_workbook": write_phone_workbook(design.survey, design.sample, out / f"{safe}_calls_{language}.xlsx",
                                              survey_id=design.survey_id, language=language,
                                              privacy=privacy, seed=design.params.get("seed")),
        "questionnaire": write_questionnaire(design.survey, out / f"{safe}_questionnaire_{language}.html",
                                             language, survey_id=design.survey_id),
    }
    design.files.update(files)
    return files


def design_demo_surveys(db: str | Path, output_dir: str | Path, *, seed: int = 0, as_of: dt.date | None = None,
                        interviewers: Sequence[str] = ("王芳", "李强", "张敏")) -> list[SurveyDesign]:
    """Design the demo surveys for the demo job: the churn-reason survey for lost/sleeping customers
    (the young-customer study for a phone brand) plus the short satisfaction survey for active ones.

    Survey ids carry ``as_of`` (default: the demo date) so reruns replace, not add, designs."""
    if as_of is None:
        from workbench.data.demo import DEMO_AS_OF

        as_of = DEMO_AS_OF
    customers = read_table("customers", db)
    scores = latest_scores(db)
    pop_all = target_population(db, None, customers=customers, scores=scores)
    scored = bool(pop_all.attrs.get("scores"))
    phone = "product_model" in customers.columns and customers["product_model"].notna().mean() > 0.5
    designs = []
    if phone:
        churn_template, churn_segment = "phone_young_attrition", "age_band in ['<25', '25-29', '30-39']"
    else:
        churn_template, churn_segment = "car_aftersales_churn", None
    if scored:
        lost = "stage in ['lost', 'sleeping']"
        churn_segment = f"({churn_segment}) and {lost}" if churn_segment else lost
    strata = ["tier", "age_band"] if scored else ["age_band"]
    for template, segment, margin in ((churn_template, churn_segment, 0.08),
                                      ("satisfaction_short", "stage == 'active'" if scored else None, 0.10)):
        pop = target_population(db, segment, customers=customers, scores=scores)
        if pop.empty:
            continue
        d = design_survey(template, pop, strata=strata, margin=margin, response_rate=0.3, interviewers=interviewers,
                          seed=seed, segment=segment, survey_id=make_survey_id(template, seed, as_of))
        save_design(d, db)
        export_design(d, output_dir)
        designs.append(d)
    return designs
