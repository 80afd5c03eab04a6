"""Synthetic rounds on private copies of the shared demo store (the shared store is never written)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from workbench.data.demo import DEMO_AS_OF

DEFINITION = {
    "contact": {"channel_cost": {"phone": 6, "sms": 0.1, "wechat": 0.5, "email": 0.05, "letter": 12, "visit": 150}},
    "bundles": {
        "care_plan": {"categories": ["maintenance", "brakes"], "cost": 400, "valid_days": 60},
        "tyre_pack": {"categories": ["tyres", "brakes"], "cost": 150, "valid_days": 60},
        "detail_card": {"categories": ["detailing", "car_wash"], "cost": 120, "valid_days": 60},
    },
}


def round_customers(truth: pd.DataFrame, seed: int = 1) -> pd.DataFrame:
    """Every demo customer as a round member with seeded segment columns and the planted reason."""
    rng = np.random.default_rng(seed)
    c = truth[["customer_id"]].copy()
    c["reason"] = truth["planted_reason"].astype("object").where(truth["planted_reason"].notna(), "other")
    c["reason_source"] = np.where(truth["planted_reason"].notna(), "known", "inferred")
    c["tier"] = rng.integers(1, 6, len(c))
    c["stage"] = rng.choice(["silent", "sleeping", "lost"], len(c), p=[.3, .3, .4])
    c["channel"] = rng.choice(["phone", "wechat", "sms", "letter"], len(c), p=[.4, .3, .2, .1])
    c["script_step"] = rng.choice([1, 2, 3], len(c), p=[.6, .3, .1])
    c["agent"] = rng.choice(["王芳", "李强", "张敏", "陈静"], len(c))
    c["bundle"] = rng.choice(list(DEFINITION["bundles"]), len(c))
    return c


@pytest.fixture
def store_copy(demo_store, tmp_path) -> tuple[Path, pd.DataFrame]:
    """A private copy of the 1,500-customer demo store and its planted truth."""
    db, data = demo_store
    target = tmp_path / "workbench.duckdb"
    shutil.copy(db, target)
    return target, data.truth


@pytest.fixture(scope="session")
def simulated_round(demo_store, tmp_path_factory):
    """A round of all 1,500 demo customers (30% holdout), three months simulated with the planted effect."""
    from workbench.evaluation.simulate import simulate_round, write_synthetic_round

    db, data = demo_store
    target = tmp_path_factory.mktemp("eval_round") / "workbench.duckdb"
    shutil.copy(db, target)
    customers = round_customers(data.truth)
    write_synthetic_round(target, customers, "R-planted", DEMO_AS_OF, campaign_id="demo_campaign",
                          holdout_share=0.3, seed=5, definition=DEFINITION)
    info = simulate_round(target, "R-planted", seed=4)
    return target, info, customers
