"""Shared fixtures: a phone-brand demo store (3,000 customers) scored, with the demo surveys designed and
exported, plus its planted truth; tests that write copy the store first."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from workbench.data.demo import DEMO_AS_OF, build_demo_db
from workbench.scoring.pipeline import score_customers
from workbench.surveys.design import SurveyDesign, design_demo_surveys

SEED = 3


@dataclass
class Study:
    folder: Path
    db: Path
    designs: list[SurveyDesign]
    truth: pd.DataFrame

    @property
    def churn(self) -> SurveyDesign:
        return next(d for d in self.designs if d.survey.id == "phone_young_attrition")

    @property
    def satisfaction(self) -> SurveyDesign:
        return next(d for d in self.designs if d.survey.id == "satisfaction_short")

    def copy_db(self, target: Path) -> Path:
        shutil.copy(self.db, target)
        return target


@pytest.fixture(scope="session")
def study(tmp_path_factory) -> Study:
    folder = tmp_path_factory.mktemp("phone_study")
    db = folder / "workbench.duckdb"
    data = build_demo_db(db, "phone_brand", n_customers=3_000, seed=SEED, files_dir=folder / "files")
    score_customers(db, DEMO_AS_OF, "phone_brand", with_clv=False)
    designs = design_demo_surveys(db, folder / "surveys", as_of=DEMO_AS_OF)
    return Study(folder, db, designs, data.truth)
