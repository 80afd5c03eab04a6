"""Benchmark: import 100,000 survey responses × 40 questions (a Kobo CSV export) and run the full analysis.

Target (issue 5): import plus full analysis under 30 seconds on 2 cores. Prints wall times, rows/s and the
peak RSS of the process. Usage: ``python benchmarks/bench_analysis.py [n_responses]``.
"""

from __future__ import annotations

import datetime as dt
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from workbench.analysis.analyse import analyse_survey, save_analysis
from workbench.analysis.importer import import_responses
from workbench.data.store import connect
from workbench.surveys.taxonomy import REASON_CODES
from workbench.surveys.template import parse_template

LANG = lambda s: {"zh": s, "en": s}


def survey_40() -> dict:
    """40 questions: a reason question, 9 single choices, 5 multiple choices (reason-coded), 15 ratings,
    5 yes/no, 3 numbers, 2 free texts; skip logic on two of them."""
    reasons = list(REASON_CODES)
    qs = [{"name": "main_reason", "type": "single_choice", "required": True, "reason_question": True,
           "label": LANG("main reason"), "choices": [{"name": f"r{i}", "reason": r, "label": LANG(f"reason {r}"),
                                                      **({"other": True} if r == "other" else {})}
                                                     for i, r in enumerate(reasons)]}]
    for k in range(9):
        qs.append({"name": f"s{k}", "type": "single_choice", "required": k < 3, "label": LANG(f"single {k}"),
                   "choices": [{"name": f"c{j}", "label": LANG(f"choice {j}")} for j in range(5)]})
    for k in range(5):
        qs.append({"name": f"m{k}", "type": "multiple_choice", "max_choices": 3, "label": LANG(f"multi {k}"),
                   "choices": [{"name": f"o{j}", "reason": reasons[(k * 4 + j) % 19], "label": LANG(f"option {j}")}
                               for j in range(6)]})
    for k in range(15):
        qs.append({"name": f"r{k}", "type": "rating", "scale": 5, "required": k < 5, "label": LANG(f"rating {k}")})
    for k in range(5):
        qs.append({"name": f"y{k}", "type": "yes_no", "label": LANG(f"yes/no {k}")})
    qs[-1]["show_if"] = {"question": "y0", "equals": "yes"}
    for k in range(3):
        qs.append({"name": f"n{k}", "type": "number", "min": 0, "max": 100, "label": LANG(f"number {k}")})
    qs.append({"name": "t0", "type": "free_text", "label": LANG("text 0")})
    qs.append({"name": "t1", "type": "free_text", "label": LANG("text 1"), "show_if": {"question": "r0", "max": 2}})
    assert len(qs) == 40
    return {"id": "bench40", "title": LANG("bench"), "questions": qs}


def build(folder: Path, n: int, seed: int = 0) -> tuple[Path, Path]:
    rng = np.random.default_rng(seed)
    survey = parse_template(survey_40(), "bench40")
    db = folder / "bench.duckdb"
    ids = np.char.add("K", np.char.zfill(np.arange(n).astype(str), 7))
    cases = np.char.add("C", np.char.zfill(np.arange(1, n + 1).astype(str), 7))
    bands = rng.choice(["<25", "25-29", "30-39", "40-49", "50-59"], n)
    with connect(db) as con:
        cust = pd.DataFrame({"customer_id": ids, "_key": ids, "name": "x", "gender": rng.choice(["F", "M"], n), "age_band": bands,
                             "region": rng.choice(list("ABCDEFGH"), n)})
        con.register("c", cust)
        con.execute("INSERT INTO customers BY NAME SELECT * FROM c")
        con.execute("ALTER TABLE survey_sample ADD COLUMN IF NOT EXISTS case_id VARCHAR")
        con.execute("INSERT INTO surveys (survey_id, template, definition, created_at) VALUES (?, ?, ?, ?)",
                    ["bench40", "bench40", json.dumps(survey.to_dict(), default=str), dt.datetime.now()])
        smp = pd.DataFrame({"survey_id": "bench40", "customer_id": ids, "stratum": "age_band=" + bands, "role": "main",
                            "design_weight": 3.0, "interviewer": rng.choice(["a", "b", "c"], n), "seed": 0,
                            "case_id": cases})
        con.register("s", smp)
        con.execute("INSERT INTO survey_sample BY NAME SELECT * FROM s")
    cols: dict[str, object] = {"_id": np.arange(n), "_uuid": [f"u{i}" for i in range(n)],
                               "_submission_time": "2026-11-05T10:00:00", "case_id": cases, "customer_ref": ids}
    young = np.isin(bands, ["<25", "25-29"])
    style = np.where(young & (rng.random(n) < .45), 15, rng.integers(0, 20, n))
    cols["main_reason"] = np.char.add("r", style.astype(str))
    cols["main_reason_other"] = np.where(style == 19, "说不上来", "")
    for k in range(9):
        v = np.char.add("c", rng.integers(0, 5, n).astype(str))
        cols[f"s{k}"] = v if k < 3 else np.where(rng.random(n) < .1, "", v)
    for k in range(5):
        a, b = rng.integers(0, 6, n), rng.integers(0, 6, n)
        cols[f"m{k}"] = np.where(a == b, np.char.add("o", a.astype(str)),
                                 np.char.add(np.char.add(np.char.add("o", a.astype(str)), " o"), b.astype(str)))
    for k in range(15):
        cols[f"r{k}"] = rng.integers(1, 6, n).astype(str)
    for k in range(5):
        cols[f"y{k}"] = rng.choice(["yes", "no"], n)
    cols["y4"] = np.where(cols["y0"] == "yes", cols["y4"], "")
    for k in range(3):
        cols[f"n{k}"] = rng.integers(0, 101, n).astype(str)
    cols["t0"] = rng.choice(["价格太贵了", "款式太老气", "说不上来", ""], n)
    cols["t1"] = np.where(cols["r0"].astype(int) <= 2, rng.choice(["质量不好", "没什么"], n), "")
    path = folder / "bench40_kobo.csv"
    pd.DataFrame(cols).to_csv(path, index=False)
    return db, path


def main(n: int = 100_000) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        t0 = time.perf_counter()
        db, path = build(folder, n)
        print(f"setup: {n:,} customers, sample and a Kobo CSV of {n:,} × 40 questions "
              f"({path.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - t0:.1f} s")
        t1 = time.perf_counter()
        r = import_responses(db, "bench40", [path])
        t2 = time.perf_counter()
        a = analyse_survey(db, "bench40", segments=["age_band", "age_group", "gender", "region"])
        t3 = time.perf_counter()
        save_analysis(db, a)
        t4 = time.perf_counter()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"import:   {t2 - t1:6.1f} s  ({n / (t2 - t1):,.0f} responses/s, {r.answers_written:,} answers)")
    print(f"analysis: {t3 - t2:6.1f} s  ({len(a.tables)} tables)")
    print(f"store:    {t4 - t3:6.1f} s")
    print(f"total import + analysis: {t3 - t1:.1f} s (target < 30 s); with saving {t4 - t1:.1f} s")
    print(f"peak RSS: {rss:,.0f} MiB")
    print(a.conclusion)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
