"""Many stores: one pipeline per store (``customers.store``), in parallel, and a group summary.

The group steps (typically the import) run once on the group store. Then each
store gets its own store file, refreshed from the group store (its customers
with all their transactions and events), and runs the per-store steps into
``<month>/stores/<store>/``. The pipelines are submitted to a
``concurrent.futures`` executor: a local process pool by default, or a Dask
distributed cluster's executor when a scheduler address is given - the same
code path. A store's failure does not stop the others: its partial folder goes
to ``<month>.failed/stores/<store>/``, its earlier outputs (if any) stay in the
month, and the run ends ``partial`` with a non-zero exit code. With Dask,
workers must see the same file system (project, stores and outputs).
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import multiprocessing
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from workbench.data.store import attach, connect
from workbench.reports.files import excel_workbook, write_frame
from workbench.runner.lifeline import die_with_parent
from workbench.runner.manifest import files_under, now, write_manifest
from workbench.runner.plan import Plan, check_store_name

SUMMARY_FILE = "group_summary.xlsx"
#: Chinese labels of the summary's figures (staff read the side-by-side sheet).
FIGURE_ZH = {"customers": "客户数", "transactions_365d": "近365天交易笔数", "spend_365d": "近365天消费额",
             "scored": "已评分客户", "active": "活跃", "silent": "沉默", "sleeping": "睡眠", "lost": "流失",
             "early_warning": "流失预警", "worth_winning_back": "值得挽回", "mean_churn_index": "平均流失指数",
             "winback_clv_365": "值得挽回客户的年价值", "lost_share": "流失占比", "surveys": "调查数",
             "survey_sample_main": "调查正式样本", "survey_answers": "完成访问", "rounds": "挽回轮次",
             "treated": "干预组客户", "holdout": "对照组客户"}


def list_stores(db: str | Path) -> list[str]:
    """The stores named in ``customers.store`` (customers without a store are not in any store run)."""
    with connect(db, read_only=True) as con:
        return [r[0] for r in con.execute(
            "SELECT DISTINCT store FROM customers WHERE store IS NOT NULL AND trim(store) <> '' ORDER BY 1"
        ).fetchall()]


def sync_store_db(group_db: str | Path, store: str, store_db: str | Path) -> dict[str, int]:
    """Refresh ``store_db`` from ``group_db``: the store's customers with all their transactions and events,
    and the import log. Tables the pipeline writes (scores, surveys, rounds, ...) are kept: they are the
    store's history. Returns the row counts copied."""
    store_db = Path(store_db)
    store_db.parent.mkdir(parents=True, exist_ok=True)
    ids = "SELECT customer_id FROM g.customers WHERE store = $store"
    counts = {}
    with connect(store_db) as con:
        attach(con, group_db, "g", read_only=True)
        try:
            con.execute("BEGIN TRANSACTION")
            for table in ("events", "transactions", "customers", "imports"):
                con.execute(f"DELETE FROM main.{table}")
            con.execute("INSERT INTO main.customers BY NAME SELECT * FROM g.customers WHERE store = $store",
                        {"store": store})
            for table in ("transactions", "events"):
                con.execute(f"INSERT INTO main.{table} BY NAME SELECT * FROM g.{table} "
                            f"WHERE customer_id IN ({ids})", {"store": store})
            con.execute("INSERT INTO main.imports BY NAME SELECT * FROM g.imports")
            con.execute("COMMIT")
            for table in ("customers", "transactions", "events"):
                counts[table] = con.execute(f"SELECT count(*) FROM main.{table}").fetchall()[0][0]
        except BaseException:
            with contextlib.suppress(Exception):
                con.execute("ROLLBACK")
            raise
        finally:
            con.execute("DETACH g")
    return counts


def store_metrics(db: str | Path, as_of: Any) -> dict[str, Any]:
    """One store's key figures for the group summary (only what its store holds; missing parts are left out)."""
    out: dict[str, Any] = {}
    with connect(db, read_only=True) as con:
        def one(sql: str, params: list | None = None):
            return con.execute(sql, params or []).fetchall()[0]

        tables = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
        out["customers"] = one("SELECT count(*) FROM customers")[0]
        n, spend = one("SELECT count(*), coalesce(CAST(sum(amount) AS DOUBLE), 0) FROM transactions "
                       "WHERE date > ?::DATE - INTERVAL 365 DAY AND date <= ?::DATE", [as_of, as_of])
        out["transactions_365d"], out["spend_365d"] = n, round(spend, 2)
        if "customer_scores" in tables:
            row = one("""SELECT count(*), count(*) FILTER (stage = 'active'), count(*) FILTER (stage = 'silent'),
                                count(*) FILTER (stage = 'sleeping'), count(*) FILTER (stage = 'lost'),
                                count(*) FILTER (early_warning), count(*) FILTER (worth_winning_back),
                                avg(churn_index), coalesce(sum(clv_365) FILTER (worth_winning_back), 0)
                           FROM customer_scores WHERE as_of = ?::DATE""", [as_of])
            keys = ("scored", "active", "silent", "sleeping", "lost", "early_warning", "worth_winning_back",
                    "mean_churn_index", "winback_clv_365")
            out.update({k: (round(float(v), 4) if isinstance(v, float) else v) for k, v in zip(keys, row)})
            if row[0]:
                out["lost_share"] = round(row[4] / row[0], 4)
        out["surveys"] = one("SELECT count(*) FROM surveys")[0]
        out["survey_sample_main"] = one("SELECT count(*) FROM survey_sample WHERE role = 'main'")[0]
        out["survey_answers"] = one("SELECT count(DISTINCT (survey_id, customer_id)) FROM survey_responses "
                                    "WHERE status = 'completed'")[0]
        out["rounds"] = one("SELECT count(*) FROM rounds")[0]
        out["treated"] = one("SELECT count(*) FROM assignments WHERE arm = 'treatment'")[0]
        out["holdout"] = one("SELECT count(*) FROM assignments WHERE arm = 'holdout'")[0]
    return out


@dataclass
class StoreTask:
    """Everything a worker needs to run one store's pipeline (picklable)."""

    plan: Plan
    store: str
    run_dir: Path
    db: Path
    group_db: Path
    group_run_dir: Path


def run_store_task(task: StoreTask) -> dict[str, Any]:
    """Run one store's pipeline; never raises (the failure is in the result), so other stores go on."""
    from workbench.runner.pipeline import RunLog, base_manifest, run_steps

    t0 = time.perf_counter()
    task.run_dir.mkdir(parents=True, exist_ok=True)
    log = RunLog(task.run_dir / "run.log")
    plan = task.plan
    manifest = base_manifest(plan, task.run_dir, task.db) | {"store": task.store, "started_at": now(),
                                                              "worker_pid": os.getpid()}
    result: dict[str, Any] = {"store": task.store, "status": "failed", "message": "", "steps": [], "metrics": {}}
    try:
        copied = sync_store_db(task.group_db, task.store, task.db)
        log(f"store {task.store}: {copied['customers']:,} customers, {copied['transactions']:,} transactions, "
            f"{copied['events']:,} events from the group store")
        pipe = run_steps(plan, plan.store_steps(), task.run_dir, task.db, store=task.store,
                         group_run_dir=task.group_run_dir, log=log, progress=False)
        result.update(status=pipe.status, message=pipe.message, steps=[s.manifest() for s in pipe.steps])
        if pipe.status == "succeeded":
            result["metrics"] = store_metrics(task.db, plan.as_of)
    except Exception as exc:  # the sync or the metrics failed
        result["message"] = f"store {task.store}: {type(exc).__name__}: {exc}"
        log(f"FAILED {result['message']}")
    result["seconds"] = round(time.perf_counter() - t0, 3)
    manifest |= {"ended_at": now(), "seconds": result["seconds"], "status": result["status"],
                 "steps": result["steps"], "metrics": result["metrics"]}
    if result["status"] == "succeeded":
        manifest["outputs"] = files_under(task.run_dir, exclude=("run.json", "run.log"))
    write_manifest(task.run_dir, manifest)
    return result


@contextlib.contextmanager
def store_executor(scheduler: str | None = None, workers: int | None = None) -> Iterator[cf.Executor]:
    """A local process pool, or the ``concurrent.futures`` executor of a Dask cluster at ``scheduler``."""
    if scheduler:
        try:
            from distributed import Client
        except ImportError as exc:
            raise RuntimeError("a Dask scheduler was given but dask.distributed is not installed "
                               "(pip install 'dask[distributed]')") from exc
        with Client(scheduler, set_as_default=False) as client:
            yield client.get_executor(pure=False)
    else:
        context = multiprocessing.get_context("spawn")  # no fork of a process holding threads and sockets
        with cf.ProcessPoolExecutor(max_workers=workers or os.cpu_count() or 1, mp_context=context,
                                    initializer=die_with_parent, initargs=(os.getpid(),)) as ex:
            yield ex


def group_summary(results: list[dict[str, Any]]) -> dict[str, pd.DataFrame]:
    """Tidy frames comparing stores: ``stores`` (one row per store), ``side_by_side`` (figures x stores),
    ``steps`` (status and time of every store's steps)."""
    rows = [{"store": r["store"], "status": r["status"], "seconds": r.get("seconds"), **r.get("metrics", {}),
             "error": (r.get("message") or "").splitlines()[0] if r.get("message") else ""} for r in results]
    stores = pd.DataFrame(rows).sort_values("store", ignore_index=True)
    figures = [c for c in stores.columns if c not in ("store", "status", "seconds", "error")]
    side = stores.set_index("store")[figures].T.rename_axis("figure").reset_index()
    side.columns.name = None
    side.insert(1, "figure_zh", side["figure"].map(FIGURE_ZH).fillna(""))
    steps = pd.DataFrame([{"store": r["store"], "step": s["name"], "status": s["status"],
                           "seconds": s.get("seconds"), "error_type": (s.get("error") or {}).get("type"),
                           "error_cell": (s.get("error") or {}).get("cell")}
                          for r in results for s in r.get("steps", [])],
                         columns=["store", "step", "status", "seconds", "error_type", "error_cell"])
    return {"stores": stores, "side_by_side": side, "steps": steps.sort_values(["store"], kind="stable",
                                                                                 ignore_index=True)}


def write_group_summary(results: list[dict[str, Any]], target: Path) -> Path:
    with excel_workbook(target) as wb:
        for name, frame in group_summary(results).items():
            write_frame(wb, name, frame)
    return target


def run_group(plan: Plan, tmp: Path, runlog, progress: bool, *, scheduler: str | None = None,
              workers: int | None = None):
    """The group steps once, then every store's pipeline in parallel; see the module docstring."""
    from tqdm.auto import tqdm

    from workbench.runner.pipeline import (RunOutcome, base_manifest, input_files, replace_dir, run_steps)

    group_db = plan.db_for(tmp, None)
    manifest = base_manifest(plan, tmp, group_db) | {"started_at": now(), "mode": "stores",
                                                      "executor": f"dask {scheduler}" if scheduler else
                                                      f"process pool ({workers or os.cpu_count()} workers)"}
    t0 = time.perf_counter()
    group = run_steps(plan, plan.group_steps(), tmp, group_db, log=runlog, progress=progress)
    manifest["group_steps"] = [r.manifest() for r in group.steps]
    if group.status != "succeeded":
        return _fail_whole(plan, tmp, manifest, group.message, t0)
    available = list_stores(group_db) if group_db.exists() else []
    stores = plan.stores or available
    unknown = sorted(set(stores) - set(available))
    if unknown or not stores:
        msg = (f"store(s) {unknown} not in customers.store of {group_db} (stores: {available})" if unknown
               else f"no stores in customers.store of {group_db}")
        runlog(f"FAILED {msg}")
        return _fail_whole(plan, tmp, manifest, msg, t0)
    for s in stores:
        check_store_name(s)
    runlog(f"{len(stores)} store pipeline(s): {', '.join(stores)} on "
           f"{manifest['executor']}")
    tasks = [StoreTask(plan=plan, store=s, run_dir=tmp / "stores" / s, db=plan.db_for(tmp, s),
                       group_db=group_db, group_run_dir=tmp) for s in stores]
    results: list[dict[str, Any]] = []
    with store_executor(scheduler, workers) as ex:
        futures = {ex.submit(run_store_task, t): t.store for t in tasks}
        with tqdm(total=len(futures), desc=f"{plan.config.campaign} {plan.month} stores", unit="store",
                  disable=not progress) as bar:
            for fut in cf.as_completed(futures):
                store = futures[fut]
                try:
                    res = fut.result()
                except Exception as exc:  # the worker itself died
                    res = {"store": store, "status": "failed", "steps": [], "metrics": {},
                           "message": f"store {store}: worker failed: {type(exc).__name__}: {exc}"}
                results.append(res)
                runlog(f"store {store}: {res['status']}" + (f" in {res['seconds']:.1f} s" if res.get("seconds")
                                                             else "") +
                       (f" - {res['message']}" if res["status"] != "succeeded" else ""))
                bar.update()
    results.sort(key=lambda r: r["store"])
    failed = [r for r in results if r["status"] != "succeeded"]
    manifest |= {"stores": [{k: r.get(k) for k in ("store", "status", "seconds", "metrics")} |
                            {"steps": [{k: s[k] for k in ("name", "status", "seconds", "error")}
                                       for s in r["steps"]]} for r in results],
                 "inputs": input_files(plan, tmp)}
    if len(failed) == len(results):
        return _fail_whole(plan, tmp, manifest, "\n".join(r["message"] for r in failed), t0)
    kept = []
    if failed and plan.failed_dir.exists():
        shutil.rmtree(plan.failed_dir)  # an older failure of this month
    for r in failed:  # partial folder for diagnosis; the store's earlier outputs stay in the month
        src = tmp / "stores" / r["store"]
        dest = plan.failed_dir / "stores" / r["store"]
        dest.parent.mkdir(parents=True, exist_ok=True)
        if src.exists():
            shutil.move(str(src), str(dest))
        earlier = plan.month_dir / "stores" / r["store"]
        if earlier.is_dir():
            shutil.copytree(earlier, src, copy_function=shutil.copy2)
            kept.append(r["store"])
    write_group_summary(results, tmp / SUMMARY_FILE)
    status = "partial" if failed else "succeeded"
    manifest |= {"ended_at": now(), "seconds": round(time.perf_counter() - t0, 3), "status": status,
                 "failed_stores": [r["store"] for r in failed], "earlier_outputs_kept": kept,
                 "outputs": files_under(tmp, exclude=("run.json", "run.log"))}
    write_manifest(tmp, manifest)
    replace_dir(tmp, plan.month_dir)
    if not failed and plan.failed_dir.exists():
        shutil.rmtree(plan.failed_dir)
    message = ""
    if failed:
        message = (f"{len(failed)} of {len(results)} store(s) failed (the others are in {plan.month_dir}):\n"
                   + "\n".join(f"  {r['message']}".replace(str(tmp / 'stores'), str(plan.failed_dir / 'stores'))
                               for r in failed)
                   + f"\n  partial folders kept in {plan.failed_dir / 'stores'}"
                   + (f"; earlier outputs kept for {', '.join(kept)}" if kept else ""))
    return RunOutcome(status, plan, plan.month_dir, plan.failed_dir if failed else None, message, manifest)


def _fail_whole(plan: Plan, tmp: Path, manifest: dict[str, Any], message: str, t0: float):
    from workbench.runner.pipeline import RunOutcome, _keep_failed

    manifest |= {"ended_at": now(), "seconds": round(time.perf_counter() - t0, 3), "status": "failed"}
    write_manifest(tmp, manifest)
    failed = _keep_failed(tmp, plan)
    message = message.replace(str(tmp), str(failed))
    message += f"\n  {plan.month_dir} was left as it was; the failed run is kept in {failed}"
    return RunOutcome("failed", plan, plan.month_dir, failed, message, manifest)
