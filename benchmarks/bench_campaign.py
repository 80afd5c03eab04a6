"""Benchmark: assign a round of 200,000 customers and write the call-team workbook for 50 agents.

Target: under 60 s together, peak memory under 2 GB. The demo store (dealership, scored) is built first in a
child process, so the peak RSS printed here is the campaign work's alone. The round targets every lifecycle
stage with no value floor or budget cap, so every scored customer is assigned (treatment, holdout or excluded).

    .venv/bin/python benchmarks/bench_campaign.py            # 200,000 customers, 50 agents
    .venv/bin/python benchmarks/bench_campaign.py --customers 20000 --agents 10
"""

from __future__ import annotations

import argparse
import dataclasses
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROUND_DATE = "2026-11-02"


def build(db: Path, customers: int) -> None:
    from workbench.data.demo import DEMO_AS_OF, build_demo_db
    from workbench.scoring import score_customers

    build_demo_db(db, "dealership", n_customers=customers, seed=5, files_dir=db.parent / "files")
    score_customers(db, DEMO_AS_OF, "dealership")


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--customers", type=int, default=200_000)
    ap.add_argument("--agents", type=int, default=50)
    ap.add_argument("--dir", type=Path, help="keep the store here (reused when present)")
    ap.add_argument("--build-only", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.build_only:
        build(args.build_only, args.customers)
        return
    folder = args.dir or Path(tempfile.mkdtemp(prefix="bench_campaign_"))
    folder.mkdir(parents=True, exist_ok=True)
    db = folder / f"dealership_{args.customers}.duckdb"
    if not db.exists():
        t = time.perf_counter()
        subprocess.run([sys.executable, __file__, "--customers", str(args.customers), "--build-only", str(db)],
                       check=True)
        print(f"store built and scored in a child process: {time.perf_counter() - t:.1f} s")

    from workbench.campaigns.assign import plan_round
    from workbench.campaigns.playbook import load_playbook
    from workbench.campaigns.rounds import load_inputs, save_round
    from workbench.campaigns.workbook import write_round_workbook

    base = peak_mb()
    pb = load_playbook("dealership_winback")
    pb = dataclasses.replace(pb, target_stages=("active", "silent", "sleeping", "lost"), value_floor=0.0,
                             round_cap=None)
    agents = [f"坐席{k:02d}" for k in range(1, args.agents + 1)]
    t0 = time.perf_counter()
    inputs = load_inputs(db, pb, ROUND_DATE)
    t1 = time.perf_counter()
    plan = plan_round(inputs, pb, ROUND_DATE, agents=agents)
    t2 = time.perf_counter()
    rid = save_round(db, plan, replace=True)
    t3 = time.perf_counter()
    out = write_round_workbook(db, rid, folder / f"{rid}_calls_zh.xlsx", privacy="masked", playbook=pb)
    t4 = time.perf_counter()
    a = plan.assignments
    n = len(a)
    treated = int((a["arm"] == "treatment").sum())
    total = t4 - t0
    print(f"customers assigned: {n:,} (treatment {treated:,}, holdout {(a['arm'] == 'holdout').sum():,}, "
          f"excluded {(a['arm'] == 'excluded').sum():,}); agents {a.loc[a['arm'] == 'treatment', 'agent'].nunique()}")
    print(f"read inputs     {t1 - t0:6.2f} s")
    print(f"plan round      {t2 - t1:6.2f} s  ({n / (t2 - t1):,.0f} customers/s)")
    print(f"save round      {t3 - t2:6.2f} s")
    print(f"write workbook  {t4 - t3:6.2f} s  ({treated / (t4 - t3):,.0f} rows/s, {out.stat().st_size / 2**20:.0f} MiB)")
    print(f"total           {total:6.2f} s  (target < 60 s: {'OK' if total < 60 else 'MISSED'})")
    print(f"peak RSS        {peak_mb():6.0f} MiB (python + imports before the work: {base:.0f} MiB; "
          f"target < 2048 MiB: {'OK' if peak_mb() < 2048 else 'MISSED'})")
    print(f"holdout balance (max |SMD|): {plan.balance['smd'].abs().max():.3f}, draws {plan.round['holdout_draw']}")


if __name__ == "__main__":
    main()
