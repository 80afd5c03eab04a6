"""The survey-design notebook runs end to end through papermill on a small demo store."""

from __future__ import annotations

import json

import pytest

from workbench.data.demo import DEMO_AS_OF, build_demo_db
from workbench.data.store import read_table
from workbench.runner.notebooks import run_notebook
from workbench.scoring.pipeline import score_customers


@pytest.mark.slow
def test_survey_design_notebook_runs(tmp_path):
    db = tmp_path / "store.duckdb"
    build_demo_db(db, "dealership", n_customers=400, seed=3, files_dir=tmp_path / "files")
    score_customers(db, DEMO_AS_OF, "dealership", with_clv=False)
    out = tmp_path / "out"
    executed = run_notebook("survey_design.ipynb", tmp_path / "survey_design.out.ipynb", {
        "db": str(db), "template": "car_aftersales_churn", "segment": "stage in ['lost', 'sleeping']",
        "strata": ["tier", "age_band"], "margin": 0.1, "response_rate": 0.4, "language": "zh",
        "interviewers": ["王芳", "李强"], "seed": 5, "survey_id": "nb_test", "output_dir": str(out)}, timeout=300)
    nb = json.loads(executed.read_text(encoding="utf-8"))
    outputs = [o for c in nb["cells"] if c["cell_type"] == "code" for o in c.get("outputs", [])]
    assert any("image/png" in o.get("data", {}) for o in outputs)
    sample = read_table("survey_sample", db)
    assert (sample["survey_id"] == "nb_test").all() and len(sample) > 0
    assert sample["stratum"].str.startswith("tier=").all()          # stratified on the joined scores
    scores = read_table("customer_scores", db).set_index("customer_id")
    stages = scores.loc[sample["customer_id"], "stage"]
    assert stages.isin(["lost", "sleeping"]).all()
    folder = out / "nb_test"
    for name in ("nb_test_xlsform.xlsx", "nb_test_calls_zh.xlsx", "nb_test_questionnaire_zh.html", "cases.csv"):
        assert (folder / name).exists(), name
