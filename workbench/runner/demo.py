"""The main job on the bundled demo data: the demo month (2026-10) of each demo business, through ``workbench run``.

Each business's month runs the pipeline in ``config/pipelines/demo.yaml`` (the
dealership) or ``demo_phone_brand.yaml``: a demo-only hook writes the seeded
export files into the month's drop folder, then the same notebooks as a real
monthly run import them, score, design surveys, and so on. The results carry
the monthly layout and ``run.json`` manifest under
``outputs/demo/<business>/2026-10/``. The whole of ``outputs/demo`` is built in a
temporary folder beside it and swapped into place at the end, so a failed demo
run leaves the previous one untouched.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

from workbench.data.demo import BUSINESSES, DEMO_AS_OF, generate, write_demo_files
from workbench.paths import outputs_dir
from workbench.runner.config import CONFIG_DIR
from workbench.runner.import_step import write_customer_table, write_data_summary  # noqa: F401 (kept API)
from workbench.runner.pipeline import replace_dir

#: Extra Python steps f(business_dir, business, log), run on a business's finished demo month folder.
DemoStep = Callable[[Path, str, Callable[[str], None]], None]
DEMO_MONTH = f"{DEMO_AS_OF:%Y-%m}"
DEMO_CONFIGS = {"dealership": CONFIG_DIR / "demo.yaml", "phone_brand": CONFIG_DIR / "demo_phone_brand.yaml"}


def write_demo_inputs(business_dir: Path, business: str, log: Callable[[str], None], *,
                      folder: str | Path | None = None, customers: int | None = None, seed: int = 0) -> dict:
    """Demo-only pipeline hook: write the business's seeded export files (XLSX/CSV, Chinese and English
    headers, GB18030 and UTF-8) into the drop folder, as its systems would."""
    data = generate(business, customers, seed=seed)
    files = write_demo_files(data, Path(folder) if folder else Path(business_dir) / "input_files")
    log(f"{business}: demo export files for {len(data.customers):,} customers, {len(data.transactions):,} "
        f"transactions, {len(data.events):,} events written")
    return files


def simulate_survey_answers(business_dir: Path, business: str, log: Callable[[str], None], *, survey_id: str,
                            survey_dir: str | Path, target: str | Path, seed: int = 0) -> Path:
    """Demo-only pipeline hook: the call team's fieldwork on a designed survey, simulated from the demo's
    planted reasons and written as the filled call workbook they would return (``target``); the analysis
    notebook imports it. The satisfaction survey (no call workbook) comes back as a KoboToolbox export."""
    from workbench.analysis.simulate import demo_truth, export_rows, fill_phone_workbook, simulate_fieldwork, write_export
    from workbench.analysis.survey_store import load_fielded_survey
    from workbench.data.store import read_table

    db = Path(business_dir) / "workbench.duckdb"
    fielded = load_fielded_survey(db, survey_id)
    customers = read_table("customers", db, columns=["customer_id", "birth_year"])
    fw = simulate_fieldwork(fielded.survey, fielded.sample, demo_truth(db, business, seed=seed), customers=customers,
                            seed=seed)
    workbooks = sorted(Path(survey_dir).glob("*_calls_*.xlsx"))
    if workbooks:
        path = fill_phone_workbook(workbooks[0], target, fw)
    else:
        path = write_export(export_rows(fielded.survey, survey_id, fw, fielded.sample, style="kobo", seed=seed),
                            target)
    log(f"{business}: simulated fieldwork on {survey_id} -> {Path(path).name}")
    return Path(path)


def simulate_round_outcomes(business_dir: Path, business: str, log: Callable[[str], None], *, months: int = 3,
                            seed: int = 0) -> dict:
    """Demo-only pipeline hook: the months after the newest campaign round, simulated from the demo's planted
    campaign effect (contact attempts, purchases, events), so the evaluation notebook has outcomes to measure."""
    from workbench.evaluation.rounds import latest_round
    from workbench.evaluation.simulate import simulate_round

    db = Path(business_dir) / "workbench.duckdb"
    round_id = latest_round(db)
    sim = simulate_round(db, round_id, seed=seed, horizon_days=months * 30, replace=True)
    log(f"{business}: simulated {months} months after round {round_id}: {sim['customers']:,} customers, "
        f"{sim['returned']:,} came back, data to {sim['data_end']}")
    return sim


def demo_steps() -> list[tuple[str, DemoStep]]:
    """Python steps run after a business's demo month, on its month folder (stages without a notebook)."""
    return []


def _demo_month(business: str, settings: dict, root: str, echo: bool) -> tuple[str, str, str, list[str], float]:
    """One business's demo month (in a worker process); returns status, message, month folder, log lines and
    seconds."""
    import time

    from workbench.runner.pipeline import run_month

    t0 = time.perf_counter()
    lines: list[str] = []

    def log(message: str) -> None:
        lines.append(message)
        if echo:
            print(f"[{business}] {message}", flush=True)

    outcome = run_month(DEMO_CONFIGS[business], DEMO_MONTH, settings=settings, outputs_root=root, log=log,
                        progress=False)
    return outcome.status, outcome.message, str(outcome.month_dir), lines, time.perf_counter() - t0


def run_demo(out: str | Path | None = None, n_customers: dict[str, int] | None = None, seed: int = 0,
             log: Callable[[str], None] = print, progress: bool | None = None, workers: int = 2) -> Path:
    """Run the demo month of every demo business under ``out`` (default ``outputs/demo``); returns the folder.

    The businesses' pipelines are independent and run in parallel worker processes (``workers``)."""
    import concurrent.futures as cf

    from workbench.runner.stores import store_executor

    target = Path(out) if out else outputs_dir() / "demo"
    tmp = target.with_name(f".{target.name}.partial")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    echo = log is print
    with store_executor(None, workers=max(1, min(workers, len(BUSINESSES)))) as ex:
        futures = {}
        for business in BUSINESSES:
            settings = {"variables.seed": seed}
            if (n_customers or {}).get(business):
                settings["variables.customers"] = n_customers[business]
            futures[business] = ex.submit(_demo_month, business, settings, str(tmp), echo)
        results = {b: f.result() for b, f in futures.items()}
        cf.wait(list(futures.values()))
    for business, (status, message, month_dir, lines, seconds) in results.items():
        if not echo:
            for line in lines:
                log(f"[{business}] {line}")
        if status != "succeeded":
            raise RuntimeError(f"demo month of {business} failed:\n{message}")
        log(f"{business}: demo month {status} in {seconds:.1f} s")
    for business, (_, _, month_dir, _, _) in results.items():
        for name, step in demo_steps():
            step(Path(month_dir), business, log)
            log(f"{business}: {name} done")
    replace_dir(tmp, target)
    return target
