"""Shared fixtures: a small seeded demo store built once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench.data.demo import DemoData, build_demo_db


@pytest.fixture(scope="session")
def demo_store(tmp_path_factory) -> tuple[Path, DemoData]:
    """A dealership demo store with 1,500 customers (seed 11) and the data it was built from."""
    folder = tmp_path_factory.mktemp("demo_store")
    db = folder / "workbench.duckdb"
    data = build_demo_db(db, "dealership", n_customers=1_500, seed=11, files_dir=folder / "files")
    return db, data


@pytest.fixture
def db(tmp_path) -> Path:
    """Path of a fresh, empty store."""
    return tmp_path / "store.duckdb"
