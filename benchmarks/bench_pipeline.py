"""Benchmark of monthly runs (issue 8): the full demo pipeline, and 20 stores of demo size on 2 workers.

Part 1 runs the demo month of both demo businesses (20,000 dealership and 8,000
phone-brand customers) exactly as ``make demo`` does and splits its wall time
into the library calls (time inside notebook cells, from papermill's per-cell
durations in the executed notebooks), the demo-only simulation hooks, and the
overhead: kernel start-up, papermill, HTML export and the runner's own work
(manifest checksums, moves). Targets: under 90 s on 2 cores, overhead under 40 %.

Part 2 writes CSV export files for a group of 20 stores of demo size (20,000
customers each; not timed), then times ``workbench run monthly_dealership
--stores all --workers 2``: the import into the group store once, then each
store's monthly pipeline (scoring, survey design, campaign round; analysis and
evaluation are skipped by their conditions in a first month). Target: under 10
minutes.

    python benchmarks/bench_pipeline.py [--part demo|stores|all] [--stores 20] [--customers 20000] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def trivial_notebook_seconds(folder: Path, runs: int = 3) -> float:
    """Median wall time of running a one-cell notebook: kernel start-up plus papermill's own work."""
    import nbformat

    from workbench.runner.notebooks import run_notebook

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("x = 1"), nbformat.v4.new_code_cell("x")]
    nb.cells[0].metadata["tags"] = ["parameters"]
    nb.metadata["kernelspec"] = {"name": "winback-workbench", "display_name": "Python", "language": "python"}
    src = folder / "trivial.ipynb"
    nbformat.write(nb, src)
    times = []
    for i in range(runs):
        t0 = time.perf_counter()
        run_notebook(src, folder / f"trivial_out{i}.ipynb", {"x": 2})
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def split_times(manifests: list[dict]) -> dict[str, float]:
    """Sum step times over manifests: notebook wall, cell time, hook time."""
    out = {"notebooks": 0.0, "notebook_wall": 0.0, "cells": 0.0, "hooks": 0.0, "steps": 0.0}
    for m, folder in manifests:
        for s in m["steps"]:
            if s["status"] != "succeeded":
                continue
            out["steps"] += s["seconds"]
            if s["kind"] == "notebook":
                out["notebooks"] += 1
                out["notebook_wall"] += s["seconds"]
                out["cells"] += s["cell_seconds"]
            else:
                out["hooks"] += s["seconds"]
    return out


def part_demo(tmp: Path) -> None:
    import re

    from workbench.runner.demo import DEMO_MONTH, run_demo

    kernel = trivial_notebook_seconds(tmp)
    print(f"kernel start-up + papermill for a trivial notebook: {kernel:.2f} s (median of 3)")
    lines: list[str] = []
    t0 = time.perf_counter()
    out = run_demo(tmp / "demo", log=lines.append, progress=False)
    wall = time.perf_counter() - t0
    cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
    per_business = {m.group(1): float(m.group(2)) for ln in lines
                    if (m := re.match(r"(\w+): demo month succeeded in ([\d.]+) s", ln))}
    manifests = []
    for business_dir in sorted(p for p in out.iterdir() if p.is_dir()):
        folder = business_dir / DEMO_MONTH
        manifests.append((json.loads((folder / "run.json").read_text(encoding="utf-8")), folder))
    t = split_times(manifests)
    busy = sum(per_business.values())  # both businesses' pipelines, which run side by side
    notebook_overhead = t["notebook_wall"] - t["cells"]
    runner_overhead = busy - t["steps"]
    overhead = notebook_overhead + runner_overhead
    print(f"\n== full demo pipeline: both businesses in parallel on 2 workers, {int(t['notebooks'])} notebooks")
    print(f"wall time                                {wall:7.1f} s   (target < 90 s on 2 cores)")
    print(f"CPU time of workers and kernels          {cpu.ru_utime + cpu.ru_stime:7.1f} s")
    print("pipeline time summed over the businesses " + f"{busy:7.1f} s   ("
          + ", ".join(f"{b} {s:.1f} s" for b, s in per_business.items()) + ")")
    print(f"  library calls (inside notebook cells)  {t['cells']:7.1f} s   {t['cells'] / busy:6.1%}")
    print(f"  demo-only simulation hooks             {t['hooks']:7.1f} s   {t['hooks'] / busy:6.1%}")
    print(f"  kernel start-up + papermill + HTML     {notebook_overhead:7.1f} s   {notebook_overhead / busy:6.1%}")
    print(f"  runner (plan, conditions, manifest)    {runner_overhead:7.1f} s   {runner_overhead / busy:6.1%}")
    print(f"overhead share                           {overhead / busy:7.1%}   (target < 40 %)")
    for m, _ in manifests:
        print(f"  {m['campaign']}: " + ", ".join(
            f"{s['name']} {s['seconds']:.1f}s" + (f" ({s['cell_seconds']:.1f}s in cells)" if s.get("cell_seconds") else "")
            for s in m["steps"] if s["seconds"] is not None))


def write_group_inputs(folder: Path, *, customers: int = 20_000, stores: int = 20, seed: int = 0) -> dict:
    """Export files (CSV) of a dealership group: ``stores`` stores of ``customers`` demo customers each."""
    import numpy as np

    from workbench.data.demo import generate

    data = generate("dealership", customers * stores, seed=seed)
    names = np.array([f"S{i + 1:02d}" for i in range(stores)])
    home = dict(zip(data.customers["customer_id"], names[np.arange(len(data.customers)) % stores]))
    folder.mkdir(parents=True, exist_ok=True)
    counts = {}
    for table in ("customers", "transactions", "events"):
        frame = getattr(data, table)
        frame["store"] = frame["customer_id"].map(home)
        frame.to_csv(folder / f"group_{table}.csv", index=False)
        counts[table] = len(frame)
    return counts


def part_stores(tmp: Path, stores: int, customers: int, workers: int) -> None:
    from workbench.runner.pipeline import run_month

    t0 = time.perf_counter()
    counts = write_group_inputs(tmp / "inbox", customers=customers, stores=stores)
    print(f"\n(group export files: {counts['customers']:,} customers, {counts['transactions']:,} transactions, "
          f"{counts['events']:,} events written in {time.perf_counter() - t0:.1f} s; not part of the run)")
    t0 = time.perf_counter()
    outcome = run_month("monthly_dealership", "2026-10", settings={"drop_folder": str(tmp / "inbox")},
                        outputs_root=tmp / "out", stores=[], workers=workers, log=lambda m: None, progress=False)
    wall = time.perf_counter() - t0
    m = outcome.manifest
    group = sum(s["seconds"] or 0 for s in m["group_steps"])
    per_store = [s["seconds"] for s in m["stores"]]
    ran = sorted({st["name"] for s in m["stores"] for st in s["steps"] if st["status"] == "succeeded"})
    print(f"== {stores} stores x {customers:,} customers, monthly_dealership pipeline, {workers} worker processes: "
          f"{outcome.status}")
    print(f"wall time                                {wall:7.1f} s   (target < 600 s)")
    print(f"  group import (once)                    {group:7.1f} s")
    print(f"  store pipelines ({', '.join(ran)}): median {statistics.median(per_store):.1f} s, "
          f"max {max(per_store):.1f} s, sum {sum(per_store):.1f} s")
    print(f"  parallel efficiency of the store phase {sum(per_store) / workers / (wall - group):7.0%}")
    failed = [s["store"] for s in m["stores"] if s["status"] != "succeeded"]
    print(f"  failed stores: {failed or 'none'}")
    if outcome.message:
        print(outcome.message)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--part", choices=["demo", "stores", "all"], default="all")
    ap.add_argument("--stores", type=int, default=20)
    ap.add_argument("--customers", type=int, default=20_000)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench_pipeline_") as tmp:
        if args.part in ("demo", "all"):
            part_demo(Path(tmp))
        if args.part in ("stores", "all"):
            part_stores(Path(tmp), args.stores, args.customers, args.workers)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"\npeak RSS: runner process {peak:,.0f} MiB, largest child (kernel/worker) {kids:,.0f} MiB")


if __name__ == "__main__":
    main()
