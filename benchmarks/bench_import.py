"""Benchmark: import 10,000,000 transactions from CSV into the store (issue 2).

Targets: at least 1,000,000 rows/s on 2 cores, peak memory under 2 GB.
The data (1,000,000 demo customers, their transactions truncated to exactly
10,000,000 rows) is generated once and cached under ``benchmarks/data/``. The
import runs in a fresh child process so the figure is the importer's own peak
resident memory, not the generator's.

    .venv/bin/python benchmarks/bench_import.py [--rows 10000000]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"


def make_files(rows: int) -> tuple[Path, Path]:
    import duckdb

    from workbench.data.demo import generate

    customers_csv = DATA / f"customers_{rows}.csv"
    tx_csv = DATA / f"transactions_{rows}.csv"
    if customers_csv.exists() and tx_csv.exists():
        return customers_csv, tx_csv
    DATA.mkdir(exist_ok=True)
    n_customers = max(1_000, rows // 10)
    started = time.perf_counter()
    d = generate("dealership", n_customers, seed=42)
    tx = d.transactions.iloc[:rows]
    con = duckdb.connect()
    con.register("c", d.customers)
    con.register("t", tx)
    con.execute(f"COPY (SELECT * FROM c) TO '{customers_csv}' (HEADER, DELIMITER ',')")
    con.execute(f"COPY (SELECT transaction_id, customer_id, strftime(date, '%Y-%m-%d') AS date, amount, category, "
                f"spend_type, store FROM t) TO '{tx_csv}' (HEADER, DELIMITER ',')")
    print(f"generated {len(d.customers):,} customers and {len(tx):,} transactions in "
          f"{time.perf_counter() - started:.1f} s", flush=True)
    return customers_csv, tx_csv


def child(db: str, table: str, path: str) -> None:
    from workbench.data.importer import import_files

    started = time.perf_counter()
    [r] = import_files(table, [path], db)
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"rows": r.rows_read, "inserted": r.inserted, "seconds": seconds, "peak_bytes": peak}))


def run_child(db: Path, table: str, path: Path) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", str(db), table, str(path)],
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--child", nargs=3)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    customers_csv, tx_csv = make_files(args.rows)
    db = DATA / "bench_import.duckdb"
    for suffix in ("", ".wal"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    c = run_child(db, "customers", customers_csv)
    t = run_child(db, "transactions", tx_csv)
    again = run_child(db, "transactions", tx_csv)
    size_mb = tx_csv.stat().st_size / 1e6
    print(f"cores: {os.cpu_count()}")
    print(f"customers: {c['rows']:,} rows in {c['seconds']:.2f} s")
    print(f"transactions: {t['rows']:,} rows ({size_mb:,.0f} MB CSV) in {t['seconds']:.2f} s = "
          f"{t['rows'] / t['seconds']:,.0f} rows/s (target >= 1,000,000); "
          f"peak memory {t['peak_bytes'] / 2**30:.2f} GiB (target < 2)")
    print(f"re-import of the same file: {again['inserted']:,} new rows in {again['seconds']:.2f} s = "
          f"{again['rows'] / again['seconds']:,.0f} rows/s; peak memory {again['peak_bytes'] / 2**30:.2f} GiB")


if __name__ == "__main__":
    main()
