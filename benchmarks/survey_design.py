"""Benchmark: stratified sampling over a large customer frame and writing the field files.

Prints wall time, rows/s and the process's peak RSS. Run: .venv/bin/python benchmarks/survey_design.py [customers]
"""

from __future__ import annotations

import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from workbench.surveys.design import design_survey, export_design


def main(n: int = 200_000) -> None:
    rng = np.random.default_rng(0)
    pop = pd.DataFrame({"customer_id": [f"C{i:07d}" for i in range(n)],
                        "name": [f"客户{i}" for i in range(n)], "phone": "13800000000", "preferred_time": "周末",
                        "tier": rng.integers(1, 6, n), "age_band": rng.choice(["<25", "25-29", "30-39", "40-49", "50+"], n)})
    t0 = time.perf_counter()
    d = design_survey("car_aftersales_churn", pop, strata=["tier", "age_band"], margin=0.02, response_rate=0.3,
                      interviewers=[f"agent{k}" for k in range(10)], seed=1, survey_id="bench")
    t1 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        export_design(d, Path(tmp))
    t2 = time.perf_counter()
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"customers: {n:,}; sampled cases (main + reserve): {len(d.sample):,}")
    print(f"design (size + stratified sample + interviewers): {t1 - t0:.2f} s ({n / (t1 - t0):,.0f} customers/s)")
    print(f"exports (XLSForm, cases.csv, call workbook, HTML): {t2 - t1:.2f} s ({len(d.sample) / (t2 - t1):,.0f} cases/s)")
    print(f"peak RSS: {rss_mb:,.0f} MB")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200_000)
