"""Pipeline hooks for the runner tests (imported by name from configs, also in worker processes)."""

from __future__ import annotations

from pathlib import Path


def build_store(business_dir: Path, business: str, log, *, customers: int = 300, seed: int = 0) -> None:
    """Build a demo store at ``business_dir/workbench.duckdb`` without writing export files."""
    from workbench.data.demo import build_demo_db

    build_demo_db(Path(business_dir) / "workbench.duckdb", business, customers, seed=seed)
    log(f"built a {business} demo store of {customers} customers")


def write_marker(business_dir: Path, business: str, log, *, folder: str, store: str = "", fail_for: str = "") -> None:
    """Write a small file naming the store into ``folder``; raise for the store named ``fail_for``."""
    if store and store == fail_for:
        raise RuntimeError(f"injected failure for store {store}")
    target = Path(folder)
    target.mkdir(parents=True, exist_ok=True)
    (target / "marker.txt").write_text(f"{business} {store}\n", encoding="utf-8")
