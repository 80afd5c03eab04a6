"""Shared helpers for the scoring tests: small hand-made frames and configs with explicit numbers."""

from __future__ import annotations

import copy
import datetime as dt
import importlib.util
from pathlib import Path

import pandas as pd
import pytest

from workbench.scoring.config import load_industry, parse_industry

AS_OF = dt.date(2026, 10, 31)


def day(offset: int) -> pd.Timestamp:
    """The date ``offset`` days from AS_OF (negative = before)."""
    return pd.Timestamp(AS_OF) + pd.Timedelta(days=offset)


def config_with(**changes):
    """The dealership config with top-level sections replaced (tests state their own numbers)."""
    raw = copy.deepcopy(load_industry("dealership").raw)
    raw.update(copy.deepcopy(changes))
    return parse_industry(raw, source="test-config")


@pytest.fixture
def explicit_config():
    return config_with(
        default_interval_days=180,
        stages={"active": 180, "silent": 365, "sleeping": 730},
        churn_index={"threshold": 50, "indicators": {
            "overdue": {"weight": 0.35, "low": 1.0, "high": 3.0},
            "frequency_drop": {"weight": 0.20, "low": 0.0, "high": 1.0},
            "spend_drop": {"weight": 0.20, "low": 0.0, "high": 1.0},
            "engagement_drop": {"weight": 0.10, "low": 0.0, "high": 1.0},
            "complaints": {"weight": 0.15, "low": 0.0, "high": 2.0}}},
        early_warning={"threshold": 40, "stages": ["active", "silent"], "indicators": {
            "overdue": {"weight": 0.30, "low": 1.0, "high": 2.0},
            "spend_drop": {"weight": 0.40, "low": 0.1, "high": 0.8},
            "complaints": {"weight": 0.30, "low": 0.0, "high": 1.0}}},
    )


@pytest.fixture(scope="session")
def lifetimes_datasets() -> Path:
    spec = importlib.util.find_spec("lifetimes")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("lifetimes is not installed (test extra)")
    return Path(list(spec.submodule_search_locations)[0]) / "datasets"


class Make:
    """Builders for small hand-made frames, handed to tests by the ``mk`` fixture."""

    as_of = AS_OF
    day = staticmethod(day)

    @staticmethod
    def tx(rows: list[tuple]) -> pd.DataFrame:
        return tx_frame(rows)

    @staticmethod
    def ev(rows: list[tuple]) -> pd.DataFrame:
        return ev_frame(rows)

    config_with = staticmethod(config_with)


@pytest.fixture
def mk() -> type[Make]:
    return Make


def tx_frame(rows: list[tuple]) -> pd.DataFrame:
    """Transactions from (customer_id, date, amount, spend_type) tuples."""
    df = pd.DataFrame(rows, columns=["customer_id", "date", "amount", "spend_type"])
    df["date"] = pd.to_datetime(df["date"])
    return df


def ev_frame(rows: list[tuple]) -> pd.DataFrame:
    """Events from (customer_id, date, kind, referred_customer_id) tuples."""
    df = pd.DataFrame(rows, columns=["customer_id", "date", "kind", "referred_customer_id"])
    df["date"] = pd.to_datetime(df["date"])
    return df
