"""Benchmark: evaluate a round of 200,000 customers x 3 months x 8 breakdowns, bootstrap included.

Target: under 30 s on 2 cores. Setup (not timed, in a child process so the peak RSS printed is the
evaluation's alone): the dealership demo generator's customers and history written straight into a store,
a round of every customer (15% holdout, seeded segment columns), and three simulated months after it.

    .venv/bin/python benchmarks/bench_evaluation.py                 # 200,000 customers
    .venv/bin/python benchmarks/bench_evaluation.py --customers 20000
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROUND_ID = "bench-round"


def build(db: Path, customers: int) -> dict:
    import numpy as np

    from workbench.data.demo import DEMO_AS_OF, generate
    from workbench.data.store import connect
    from workbench.evaluation.simulate import simulate_round, write_synthetic_round

    t = time.perf_counter()
    data = generate("dealership", customers, seed=5)
    with connect(db) as con:
        for table, key in (("customers", "customer_id"), ("transactions", "transaction_id"), ("events", "event_id")):
            frame = getattr(data, table).assign(_key=lambda f, k=key: f[k])
            con.register("_f", frame)
            con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _f")
            con.unregister("_f")
    rng = np.random.default_rng(1)
    c = data.truth[["customer_id"]].copy()
    c["reason"] = data.truth["planted_reason"].astype("object").where(data.truth["planted_reason"].notna(), "other")
    c["reason_source"] = rng.choice(["known", "inferred"], len(c))
    c["tier"] = rng.integers(1, 6, len(c))
    c["stage"] = rng.choice(["silent", "sleeping", "lost"], len(c))
    c["channel"] = rng.choice(["phone", "wechat", "sms", "letter", "visit"], len(c))
    c["script_step"] = rng.choice([1, 2, 3], len(c))
    c["agent"] = rng.choice([f"agent{i:02d}" for i in range(50)], len(c))
    bundles = {f"b{i}": {"categories": [cat], "cost": 100 + 50 * i, "valid_days": 60}
               for i, cat in enumerate(["maintenance", "repair", "tyres", "detailing", "car_wash"])}
    c["bundle"] = rng.choice(list(bundles), len(c))
    definition = {"industry": "dealership", "bundles": bundles,
                  "contact": {"channel_cost": {"phone": 6, "sms": .1, "wechat": .5, "email": .05, "letter": 12,
                                               "visit": 150}}}
    write_synthetic_round(db, c, ROUND_ID, DEMO_AS_OF, campaign_id="bench", holdout_share=0.15, definition=definition)
    info = simulate_round(db, ROUND_ID, seed=2)
    print(f"setup: {customers:,} customers, {len(data.transactions):,} transactions of history, "
          f"{info['transactions']:,} simulated purchases ({time.perf_counter() - t:.1f} s)", flush=True)
    return info


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--customers", type=int, default=200_000)
    ap.add_argument("--build", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.build:
        info = build(args.build, args.customers)
        args.build.with_suffix(".end").write_text(info["data_end"].isoformat())
        return
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.duckdb"
        subprocess.run([sys.executable, __file__, "--customers", str(args.customers), "--build", str(db)], check=True)
        as_of = db.with_suffix(".end").read_text()
        from workbench.evaluation.evaluate import evaluate_round

        t = time.perf_counter()
        ev = evaluate_round(db, ROUND_ID, months=3, as_of=as_of)
        wall = time.perf_counter() - t
        n = len(ev.data.customers)
        print(f"evaluated {n:,} customers x {ev.outcomes['month'].nunique()} months x "
              f"{ev.breakdowns['breakdown'].nunique()} breakdowns ({len(ev.breakdowns):,} cells), "
              f"bootstrap {ev.data.settings.resamples:,} resamples")
        print(f"wall time {wall:.1f} s (target < 30 s), {n * 3 / wall:,.0f} customer-months/s, "
              f"peak RSS {peak_mb():,.0f} MB")
        print("  " + ", ".join(f"{k} {v:.1f} s" for k, v in ev.timings.items()))
        for v in ev.verdicts[ev.verdicts["topic"].isin(["came_back", "spend"])].itertuples():
            print(f"  - {v.text}")


if __name__ == "__main__":
    main()
