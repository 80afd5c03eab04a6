"""The main job on the bundled demo data: build each demo business's store and write its results.

Everything is built in a temporary folder beside the target and swapped into
place at the end, so a failed demo run leaves the previous ``outputs/demo``
untouched.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path

from workbench.data.demo import BUSINESSES, DEMO_AS_OF, build_demo_db
from workbench.data.summary import customer_table, data_summary
from workbench.paths import outputs_dir
from workbench.reports.files import excel_workbook, write_frame

#: Extra steps later stages add to the demo: f(business_dir, business, log) run after the import.
DemoStep = Callable[[Path, str, Callable[[str], None]], None]


def write_data_summary(db: Path, target: Path) -> None:
    """The imported-data summary workbook: one sheet per aspect."""
    with excel_workbook(target) as wb:
        for name, frame in data_summary(db).items():
            write_frame(wb, name, frame)


def write_customer_table(db: Path, target: Path) -> None:
    with excel_workbook(target) as wb:
        write_frame(wb, "customers", customer_table(db))


def _surveys_step(business_dir: Path, business: str, log: Callable[[str], None]) -> None:
    from workbench.surveys.design import design_demo_surveys

    designs = design_demo_surveys(business_dir / "workbench.duckdb", business_dir / "surveys", as_of=DEMO_AS_OF)
    log(f"{business}: designed {len(designs)} survey(s) with field exports under {business_dir / 'surveys'}")


def demo_steps() -> list[tuple[str, DemoStep]]:
    """The steps of the demo job after the data import, in order."""
    from workbench.scoring.demo_step import scoring_demo_step

    return [("scoring", scoring_demo_step), ("survey design", _surveys_step)]


def run_demo(out: str | Path | None = None, n_customers: dict[str, int] | None = None, seed: int = 0,
             log: Callable[[str], None] = print) -> Path:
    """Build the demo stores and results under ``out`` (default ``outputs/demo``); returns the folder."""
    target = Path(out) if out else outputs_dir() / "demo"
    tmp = target.with_name(f".{target.name}.partial")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    for business in BUSINESSES:
        started = time.perf_counter()
        bdir = tmp / business
        db = bdir / "workbench.duckdb"
        data = build_demo_db(db, business, (n_customers or {}).get(business), seed=seed,
                             files_dir=bdir / "input_files")
        write_data_summary(db, bdir / "data_summary.xlsx")
        write_customer_table(db, bdir / "customers.xlsx")
        log(f"{business}: {len(data.customers):,} customers, {len(data.transactions):,} transactions, "
            f"{len(data.events):,} events imported as of {DEMO_AS_OF} ({time.perf_counter() - started:.1f} s)")
        for name, step in demo_steps():
            started = time.perf_counter()
            step(bdir, business, log)
            log(f"{business}: {name} done ({time.perf_counter() - started:.1f} s)")
    old = target.with_name(f".{target.name}.old")
    if old.exists():
        shutil.rmtree(old)
    if target.exists():
        target.rename(old)
    tmp.rename(target)
    if old.exists():
        shutil.rmtree(old)
    return target
