"""Many stores: one pipeline per store on a local process pool or a Dask cluster (same results), failures isolated."""

from __future__ import annotations

import json
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
import yaml

from workbench.runner.pipeline import run_month
from workbench.runner.stores import list_stores, sync_store_db
from workbench.scoring.store import read_scores

pytestmark = pytest.mark.slow

MONTH = "2026-10"


def group_config(folder: Path, steps: list[dict], **extra) -> Path:
    raw = {"campaign": "group", "business": "dealership", "db": "{run_dir}/workbench.duckdb",
           "steps": [{"name": "build", "hook": "tests.runner.hooks:build_store", "scope": "group",
                      "parameters": {"customers": 600, "seed": 3}}, *steps], **extra}
    path = folder / "group.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return path


def sheets(path: Path) -> dict[str, list[tuple]]:
    wb = openpyxl.load_workbook(path, read_only=True)
    return {name: list(wb[name].iter_rows(values_only=True)) for name in wb.sheetnames}


def test_sync_store_db_copies_one_store_with_its_history(demo_store, tmp_path):
    db, data = demo_store
    assert list_stores(db) == sorted(data.customers["store"].unique())
    target = tmp_path / "th.duckdb"
    counts = sync_store_db(db, "TH01", target)
    mine = data.customers.loc[data.customers["store"] == "TH01", "customer_id"]
    assert counts == {"customers": len(mine),
                      "transactions": int(data.transactions["customer_id"].isin(mine).sum()),
                      "events": int(data.events["customer_id"].isin(mine).sum())}
    counts_again = sync_store_db(db, "TH01", target)  # a refresh replaces, never adds twice
    assert counts_again == counts


def test_two_stores_on_dask_equal_the_local_pool(tmp_path):
    distributed = pytest.importorskip("distributed")
    config = group_config(tmp_path, [{"name": "scoring", "notebook": "scoring.ipynb",
                                      "parameters": {"industry": "{business}"}}])
    stores = ["TH01", "PY02"]
    pool = run_month(config, MONTH, outputs_root=tmp_path / "pool", stores=stores, workers=2,
                     log=lambda m: None, progress=False)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None, memory_limit=0) as cluster:
        dask = run_month(config, MONTH, outputs_root=tmp_path / "dask", stores=stores,
                         scheduler=cluster.scheduler_address, log=lambda m: None, progress=False)
    assert (pool.status, dask.status) == ("succeeded", "succeeded")
    assert dask.manifest["executor"].startswith("dask tcp://127.0.0.1:")
    pids = {s["store"]: json.loads((dask.month_dir / "stores" / s["store"] / "run.json").read_text())["worker_pid"]
            for s in dask.manifest["stores"]}
    assert set(pids) == set(stores)
    for store in stores:
        a, b = (o.month_dir / "stores" / store for o in (pool, dask))
        pd.testing.assert_frame_equal(read_scores(a / "workbench.duckdb"), read_scores(b / "workbench.duckdb"))
        assert sheets(a / "scoring" / "scoring_2026-10-31.xlsx") == sheets(b / "scoring" / "scoring_2026-10-31.xlsx")
    summary = [pd.read_excel(o.month_dir / "group_summary.xlsx", sheet_name=None) for o in (pool, dask)]
    for name in ("stores", "side_by_side"):
        a, b = (x[name] for x in summary)
        a, b = (x.drop(columns=[c for c in ("seconds",) if c in x.columns]) for x in (a, b))
        if name == "side_by_side":
            a, b = (x[x["figure"] != "seconds"] for x in (a, b))
        pd.testing.assert_frame_equal(a, b)
    side = summary[0]["side_by_side"].set_index("figure")
    assert list(side.columns) == ["figure_zh", "PY02", "TH01"] and side.loc["lost", "figure_zh"] == "流失"
    for store in stores:  # the summary's figures are the store's own scores
        s = read_scores(pool.month_dir / "stores" / store / "workbench.duckdb")
        assert side.loc["scored", store] == len(s) and side.loc["lost", store] == (s["stage"] == "lost").sum()


def test_one_store_failing_does_not_stop_the_others(tmp_path):
    config = group_config(tmp_path, [{"name": "marker", "hook": "tests.runner.hooks:write_marker",
                                      "parameters": {"folder": "{run_dir}/marker", "store": "{store}",
                                                     "fail_for": "{fail_for}"}}],
                          variables={"fail_for": ""})
    root = tmp_path / "out"
    first = run_month(config, MONTH, outputs_root=root, stores=[], workers=2, log=lambda m: None,
                      progress=False)
    assert first.status == "succeeded"
    assert sorted(p.name for p in (first.month_dir / "stores").iterdir()) == ["BY03", "PY02", "TH01"]
    earlier = {p.relative_to(first.month_dir): p.read_bytes()
               for p in (first.month_dir / "stores" / "PY02").rglob("*") if p.is_file()}
    lines = []
    second = run_month(config, MONTH, settings={"variables.fail_for": "PY02"}, outputs_root=root, stores=[],
                       workers=2, log=lines.append, progress=False)
    assert second.status == "partial" and second.exit_code == 1
    assert "store PY02" in second.message and "injected failure for store PY02" in second.message
    after = {p.relative_to(second.month_dir): p.read_bytes()
             for p in (second.month_dir / "stores" / "PY02").rglob("*") if p.is_file()}
    assert after == earlier  # the failed store keeps last run's outputs, byte for byte
    m = json.loads((second.month_dir / "run.json").read_text())
    assert {s["store"]: s["status"] for s in m["stores"]} == {"BY03": "succeeded", "PY02": "failed",
                                                            "TH01": "succeeded"}
    assert m["failed_stores"] == ["PY02"] and m["earlier_outputs_kept"] == ["PY02"]
    assert "injected failure" in (second.failed_dir / "stores" / "PY02" / "run.log").read_text()
    summary = pd.read_excel(second.month_dir / "group_summary.xlsx", sheet_name="stores").set_index("store")
    assert summary.loc["PY02", "status"] == "failed" and summary.loc["TH01", "status"] == "succeeded"
    assert "injected failure" in summary.loc["PY02", "error"]
