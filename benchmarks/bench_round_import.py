"""Benchmark: import a 60,000-customer round run in another tool and evaluate it (issue 13, part 5).

Target: ``workbench round-import`` of a 60,000-row assignments CSV plus ``evaluate_round(months=3)`` under
30 s on 2 cores. A floor is measured in the same run on the same data: plain DuckDB
``CREATE TABLE AS SELECT * FROM read_csv(...)`` of the CSV plus a plain pandas groupby of the same outcomes
(came back in months 1-3 per arm), and the ratio printed.

Setup (not timed, in a child process so the peak RSS printed is the timed work's alone): the dealership
demo store (``build_demo_db``, 60,000 customers, cached under ``benchmarks/data/``) copied to a scratch
folder; the assignments CSV (20% holdout, two e-mail/SMS arms, a contact date for every treated row); and
three simulated months for those customers. ``simulate_round`` cannot simulate a round that already has
contact attempts, so the months are simulated on a plain round of the same customers and arms written
beside it (another campaign); the purchases it adds are the customers', whichever round is evaluated.

    .venv/bin/python benchmarks/bench_round_import.py                  # 60,000 customers
    .venv/bin/python benchmarks/bench_round_import.py --customers 20000
"""

from __future__ import annotations

import argparse
import datetime as dt
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
ROUND_DATE = dt.date(2026, 11, 2)
CAMPAIGN = "bench_push"
ROUND_ID = f"{CAMPAIGN}-{ROUND_DATE:%Y%m%d}"
TARGET_S = 30.0


def store(customers: int) -> Path:
    """The demo store of ``customers`` dealership customers, built once under benchmarks/data/."""
    from workbench.data.demo import build_demo_db

    db = DATA / f"round_import_dealership_{customers}.duckdb"
    if not db.exists():
        t = time.perf_counter()
        DATA.mkdir(exist_ok=True)
        partial = db.with_name(db.name + ".partial")
        partial.unlink(missing_ok=True)
        build_demo_db(partial, "dealership", n_customers=customers, seed=5)
        partial.rename(db)
        print(f"demo store built: {customers:,} customers ({time.perf_counter() - t:.1f} s), cached at {db}",
              flush=True)
    return db


def setup(work: Path, customers: int) -> None:
    """Scratch store, assignments CSV and simulated months (see the module docstring)."""
    import numpy as np
    import pandas as pd

    from workbench.data.store import connect
    from workbench.evaluation.simulate import simulate_round, write_synthetic_round

    t = time.perf_counter()
    db = work / "bench.duckdb"
    shutil.copy(store(customers), db)
    with connect(db, read_only=True) as con:
        ids = [r[0] for r in con.execute("SELECT customer_id FROM customers ORDER BY customer_id").fetchall()]
    rng = np.random.default_rng(7)
    arm = rng.choice(["对照组", "email_a", "sms_b"], len(ids), p=[.2, .4, .4])
    frame = pd.DataFrame({"customer_id": ids, "arm": arm, "channel": np.where(arm == "sms_b", "sms", "email"),
                          "contacted_on": np.where(arm == "对照组", "", ROUND_DATE.isoformat())})
    frame.to_csv(work / "assignments.csv", index=False)
    shadow = frame.assign(arm=np.where(arm == "对照组", "holdout", "treatment"))[["customer_id", "arm", "channel"]]
    write_synthetic_round(db, shadow, "bench-sim", ROUND_DATE, campaign_id="bench_sim", holdout_share=0.2)
    info = simulate_round(db, "bench-sim", seed=2, effect={"holdout": 0.10, "treatment": 0.16})
    (work / "data_end").write_text(info["data_end"].isoformat())
    print(f"setup: {len(frame):,} assignment rows, {info['transactions']:,} simulated purchases "
          f"({time.perf_counter() - t:.1f} s)", flush=True)


def floor(work: Path, as_of: dt.date) -> float:
    """Plain DuckDB read of the CSV plus a plain pandas groupby of came-back per arm and month (seconds)."""
    import duckdb
    import pandas as pd

    from workbench.data.store import attach

    t = time.perf_counter()
    con = duckdb.connect()
    con.execute(f"CREATE TABLE a AS SELECT * FROM read_csv('{work / 'assignments.csv'}')")
    a = con.execute("SELECT customer_id, arm, channel FROM a").df()
    attach(con, work / "bench.duckdb", "s")
    tx = con.execute("SELECT customer_id, date FROM s.transactions WHERE date >= ? AND date < ? AND date <= ?",
                     [ROUND_DATE, ROUND_DATE + dt.timedelta(days=90), as_of]).df()
    con.close()
    days = (pd.to_datetime(tx["date"]) - pd.Timestamp(ROUND_DATE)).dt.days
    first = days.groupby(tx["customer_id"]).min().rename("first")
    a = a.merge(first, left_on="customer_id", right_index=True, how="left")
    window = a["channel"].map({"email": 60, "sms": 60}).fillna(90)
    parts = [a.assign(month=m, came_back=a["first"] < window.clip(upper=30 * m)) for m in (1, 2, 3)]
    pd.concat(parts).groupby(["month", "arm"])["came_back"].mean()
    return time.perf_counter() - t


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--customers", type=int, default=60_000)
    ap.add_argument("--setup", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.setup:
        setup(args.setup, args.customers)
        return
    with tempfile.TemporaryDirectory(prefix="bench_round_import_") as tmp:
        work = Path(tmp)
        subprocess.run([sys.executable, __file__, "--customers", str(args.customers), "--setup", str(work)],
                       check=True)
        as_of = dt.date.fromisoformat((work / "data_end").read_text())
        db = work / "bench.duckdb"
        from workbench.cli import main as workbench
        from workbench.evaluation.evaluate import evaluate_round

        t = time.perf_counter()
        code = workbench(["--db", str(db), "round-import", str(work / "assignments.csv"), "--campaign", CAMPAIGN,
                          "--date", ROUND_DATE.isoformat()])
        t_import = time.perf_counter() - t
        if code != 0:
            raise SystemExit(f"round-import exited {code}")
        t = time.perf_counter()
        ev = evaluate_round(db, ROUND_ID, months=3, as_of=as_of)
        t_eval = time.perf_counter() - t
        wall = t_import + t_eval
        low = floor(work, as_of)
        n = len(ev.data.customers)
        print(f"round-import {t_import:.1f} s + evaluate_round(months=3) {t_eval:.1f} s = {wall:.1f} s "
              f"(target < {TARGET_S:.0f} s) for {n:,} customers; peak RSS {peak_mb():,.0f} MB")
        print(f"floor (DuckDB read_csv CREATE TABLE + pandas groupby of came-back per arm and month): {low:.2f} s; "
              f"ratio {wall / low:.0f}x")
        print("  evaluation: " + ", ".join(f"{k} {v:.1f} s" for k, v in ev.timings.items()))
        came = ev.rates[(ev.rates["outcome"] == "came_back") & (ev.rates["month"] == 3)]
        for r in came.itertuples():
            arm = getattr(r, "treatment_arm", getattr(r, "arm", ""))
            print(f"  month 3 came back, {arm}: {r.rate_treat:.1%} vs holdout {r.rate_hold:.1%} "
                  f"(difference {r.diff:+.1%}, p = {r.p_report:.3g})")


if __name__ == "__main__":
    main()
