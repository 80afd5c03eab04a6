"""Calibration of the round evaluation: A/A rounds and planted-effect rounds through the public path.

Every round is planned and saved by the campaign stage (``create_round``) on a fresh copy of a scored demo
store, its months simulated (``simulate_round``: ``null_effect()`` for the A/A rounds, the demo's planted
effect otherwise) and evaluated (``evaluate_round``), across channels (phone, SMS, e-mail, WeChat, the
playbook's mixed rules), holdout shares 0.1-0.5 and round sizes from a few hundred to about 20,000
customers. It prints, for every verdict the report makes, the false-positive rate at *any* of the three
monthly looks with its Clopper-Pearson 95% interval (it must contain alpha or lie below it), the coverage
of the 95% intervals on planted rounds (target >= 93%) and the power at the planted size. Exit 1 when a
figure is out of bounds.

    .venv/bin/python benchmarks/bench_calibration.py                     # 200 null + 200 planted rounds
    .venv/bin/python benchmarks/bench_calibration.py --null 40 --planted 20

The first run builds three scored demo stores under benchmarks/data/calibration/ (not tracked). The
evaluation runs without breakdowns and with 500 bootstrap resamples (the verdicts do not depend on either).
"""

from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pandas as pd

DATA = Path(__file__).resolve().parent / "data" / "calibration"
#: Base stores: demo customers, and how often each is drawn (most rounds small, a few of ~20,000).
BASES = {"small": (2_500, 6), "medium": (12_000, 3), "large": (120_000, 1)}
ALPHA = 0.05


def base_store(name: str, customers: int) -> Path:
    from workbench.data.demo import DEMO_AS_OF, build_demo_db
    from workbench.scoring import score_customers

    db = DATA / f"{name}.duckdb"
    if not db.exists():
        DATA.mkdir(parents=True, exist_ok=True)
        t = time.perf_counter()
        tmp = db.with_suffix(".tmp.duckdb")
        tmp.unlink(missing_ok=True)
        build_demo_db(tmp, "dealership", n_customers=customers, seed=17, files_dir=DATA / f"{name}_files")
        score_customers(tmp, DEMO_AS_OF, "dealership")
        tmp.rename(db)
        print(f"built {db.name}: {customers:,} customers in {time.perf_counter() - t:.0f} s", flush=True)
    return db


def _chunk(args) -> pd.DataFrame:
    bases, specs = args
    from workbench.evaluation.calibration import run_calibration
    from workbench.evaluation.config import load_settings

    settings = load_settings({"breakdowns": [], "bootstrap": {"resamples": 500, "seed": 1}})
    return run_calibration(bases, specs, settings=settings, workdir=DATA)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--null", type=int, default=200, help="A/A rounds (default 200)")
    ap.add_argument("--planted", type=int, default=200, help="rounds with the planted effect (default 200)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--rows", type=Path, help="also write one row per round to this CSV")
    args = ap.parse_args()

    from workbench.evaluation.calibration import calibration_specs, summarise_calibration

    bases = {name: str(base_store(name, n)) for name, (n, _) in BASES.items()}
    specs = calibration_specs(args.null, args.planted, bases={k: w for k, (_, w) in BASES.items()}, seed=args.seed)
    chunks = [specs[i::args.workers * 4] for i in range(args.workers * 4)]
    t = time.perf_counter()
    frames = []
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        for i, frame in enumerate(pool.map(_chunk, [(bases, c) for c in chunks if c]), 1):
            frames.append(frame)
            done = sum(len(f) for f in frames)
            print(f"  {done}/{len(specs)} rounds, {time.perf_counter() - t:.0f} s", flush=True)
    rows = pd.concat(frames, ignore_index=True)
    wall = time.perf_counter() - t
    if args.rows:
        rows.to_csv(args.rows, index=False)
    n = rows["n_treat"] + rows["n_hold"]
    print(f"\n{len(rows)} rounds ({(~rows['planted']).sum()} null, {rows['planted'].sum()} planted) in {wall:.0f} s; "
          f"sizes {n.min():,}-{n.max():,} customers (median {int(n.median()):,}), holdout shares "
          f"{rows['holdout_share'].min():.2f}-{rows['holdout_share'].max():.2f}, channels "
          f"{', '.join(sorted(rows['channel'].unique()))}; alpha {ALPHA}, three monthly looks, O'Brien-Fleming spending")
    summary = summarise_calibration(rows, ALPHA)
    show = summary.copy()
    show["false-positive rate (any look) [95% CI]"] = [
        f"{r.fpr:.3f} [{r.fpr_lo:.3f}, {r.fpr_hi:.3f}] ({r.false_positives}/{r.null_rounds})" for r in summary.itertuples()]
    show["in bounds"] = show["ok"].map({True: "yes", False: "NO"})
    cols = ["verdict", "false-positive rate (any look) [95% CI]", "in bounds"]
    if "coverage" in show.columns:
        show["coverage of 95% CI"] = show["coverage"].map(lambda v: "" if pd.isna(v) else f"{v:.1%}")
        show["power at planted size"] = show["power"].map(lambda v: "" if pd.isna(v) else f"{v:.1%}")
        cols += ["coverage of 95% CI", "power at planted size"]
    print(show[cols].to_string(index=False))
    null = rows[~rows["planted"]]
    months = [c for c in rows.columns if c.startswith("return_rate_month_")]
    print("\nreturn rate, each look alone (null rounds): "
          + ", ".join(f"month {c.rsplit('_', 1)[1]} {null[c].mean():.3f}" for c in months))
    print("primary by channel (null rounds): "
          + ", ".join(f"{ch} {g['primary'].mean():.3f} (n={len(g)})" for ch, g in null.groupby("channel")))
    print(f"before/after on the treated arm alone, McNemar p < {ALPHA} in {null['before_after_treated'].mean():.0%} of "
          "null rounds: lapsed customers drift back on their own, which is why the report never calls it the effect")
    cover_bad = summary["coverage"].dropna() < 0.93 if "coverage" in summary.columns else pd.Series(dtype=bool)
    failed = (~summary["ok"]).any() or cover_bad.any()
    print("\nresult:", "OUT OF BOUNDS" if failed else "every false-positive rate and coverage in bounds")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
