"""The response-analysis step of the demo job: simulate fieldwork on the demo surveys, import, analyse.

For each survey the survey step designed (stored, with exports under ``<business_dir>/surveys/<id>/``):
simulate the calls from the demo's planted truth, fill the call-team workbook (churn survey) or write a
KoboToolbox export (satisfaction survey, as if sent as a WeChat link), import the answers, and run
``notebooks/response_analysis.ipynb`` into ``<business_dir>/analysis/`` (executed notebook with the
generated conclusion, analysis workbook).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path


def analysis_demo_step(business_dir: Path, business: str, log: Callable[[str], None] = print, *,
                       seed: int = 0) -> list[Path]:
    """Simulate, import and analyse the demo surveys of one business; returns the executed notebooks."""
    from workbench.analysis.importer import import_responses
    from workbench.analysis.simulate import demo_truth, export_rows, fill_phone_workbook, simulate_fieldwork, write_export
    from workbench.analysis.survey_store import list_surveys, load_fielded_survey
    from workbench.data.store import read_table
    from workbench.runner.notebooks import run_notebook

    business_dir = Path(business_dir)
    db = business_dir / "workbench.duckdb"
    out = business_dir / "analysis"
    truth = demo_truth(db, business, seed=seed)
    customers = read_table("customers", db, columns=["customer_id", "birth_year"])
    executed = []
    for k, sid in enumerate(list_surveys(db)["survey_id"]):
        fielded = load_fielded_survey(db, sid)
        folder = business_dir / "surveys" / re.sub(r"[^A-Za-z0-9_.-]", "_", sid)
        fw = simulate_fieldwork(fielded.survey, fielded.sample, truth, customers=customers, seed=seed + 101 * k)
        workbooks = sorted(folder.glob("*_calls_*.xlsx"))
        if fielded.survey.id == "satisfaction_short" or not workbooks:
            answers = write_export(export_rows(fielded.survey, sid, fw, fielded.sample, style="kobo", seed=seed),
                                   out / "fieldwork" / f"{sid}_kobo.xlsx")
        else:
            answers = fill_phone_workbook(workbooks[0], out / "fieldwork" / f"{workbooks[0].stem}_filled.xlsx", fw)
        result = import_responses(db, sid, [answers])
        log(f"{business}: {result.summary()}")
        nb = run_notebook("response_analysis.ipynb", out / f"{sid}_analysis.ipynb",
                          {"db": str(db), "survey_id": sid, "files": [], "output_dir": str(out)})
        executed.append(nb)
    log(f"{business}: analysed {len(executed)} survey(s) into {out}")
    return executed
