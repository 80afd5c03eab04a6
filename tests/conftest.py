"""Shared fixtures: a small seeded demo store built once per test session (once per xdist worker); and the
order in which test files run."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from workbench.data.demo import DEMO_AS_OF, DemoData, build_demo_db


def pytest_collection_modifyitems(config, items):
    """Test files with slow (end-to-end) tests first, then the rest, each file kept whole and in its own order.
    ``make test`` hands whole files to the xdist workers in this order (``--dist loadfile
    --no-loadscope-reorder``): the long files start early and the short ones fill in at the end, instead of
    one long file starting last on one worker while the others sit idle."""
    slow_files = {item.path for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.path not in slow_files)


@pytest.fixture(scope="session")
def demo_store(tmp_path_factory) -> tuple[Path, DemoData]:
    """A dealership demo store with 1,500 customers (seed 11) and the data it was built from."""
    folder = tmp_path_factory.mktemp("demo_store")
    db = folder / "workbench.duckdb"
    data = build_demo_db(db, "dealership", n_customers=1_500, seed=11, files_dir=folder / "files")
    return db, data


@pytest.fixture(scope="session")
def scored_store(demo_store, tmp_path_factory) -> Path:
    """The shared 1,500-customer dealership store, copied and scored as of the demo date (read-only use:
    tests that write copy it first)."""
    from workbench.scoring import score_customers

    db, _ = demo_store
    target = tmp_path_factory.mktemp("scored_store") / "workbench.duckdb"
    shutil.copy(db, target)
    score_customers(target, DEMO_AS_OF, "dealership")
    return target


@pytest.fixture
def db(tmp_path) -> Path:
    """Path of a fresh, empty store."""
    return tmp_path / "store.duckdb"
