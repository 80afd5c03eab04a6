"""Every xlsx the workbench writes, written from hostile data, keeps user text as plain text.

The demo month of both demo businesses runs through the real pipeline with customer names, regions,
stores, categories, plate numbers, event details, interviewer names and free-text survey answers replaced
by hostile text (``hostile_data.PAYLOADS``: ``=HYPERLINK(...)``, ``+1+2``, ``-2+3``, ``@SUM(1,2)``, a DDE
call, a URL, emoji, 5,000 characters; one name and one event detail longer than an xlsx cell holds). A
campaign round with a hostile playbook (agents, bundles, scripts, store names), a store-group summary and a
survey export are written besides. Then every workbook is checked: formulas only of the shapes the workbench
builds, never holding user text; hostile text as string cells with exactly the original text; no
hyperlinks; over-long text cut visibly; and LibreOffice (headless, one run for all files) reads the same
values openpyxl does.
"""

from __future__ import annotations

import concurrent.futures as cf
import datetime as dt
import multiprocessing
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from tests.robustness import xlsx_audit as audit
from tests.robustness.hostile_data import (INTERVIEWERS, OVERLONG, PAYLOADS, all_hostile_texts, hostile_config,
                                           hostile_demo, hostile_playbook, run_hostile_month)
from workbench.reports.files import XLSX_CELL_LIMIT, cell_text, excel_workbook, write_frame

CUSTOMERS = 300
BUSINESSES = ("dealership", "phone_brand")
CUT_NOTE = "characters fit in an xlsx cell]"

#: What each written workbook is, by its path under a business's month folder (or the run root).
KINDS = {
    "demo export file (input)": r"input_files/[^/]+\.xlsx",
    "import log": r"import/import_log\.xlsx",
    "data summary": r"import/data_summary\.xlsx",
    "customer table": r"import/customers\.xlsx",
    "scoring workbook": r"scoring/scoring_[\d-]+\.xlsx",
    "XLSForm": r"survey_design/[^/]+/[^/]+_xlsform\.xlsx",
    "interview workbook": r"survey_design/[^/]+/[^/]+_calls_zh\.xlsx",
    "returned interviews (demo fill)": r"survey_returns/[^/]+_filled\.xlsx",
    "response analysis": r"response_analysis/[^/]+_analysis\.xlsx",
    "campaign call workbook": r"campaign/[^/]+_calls_zh\.xlsx",
    "campaign round summary": r"campaign/[^/]+_summary\.xlsx",
    "evaluation report": r"evaluation/[^/]+\.xlsx",
    "store group summary": r"group_summary\.xlsx",
    "survey export (Kobo xlsx)": r"kobo_export\.xlsx",
}


def short(texts: Iterable[str]) -> list[str]:
    """Texts cut to 40 characters, for assertion messages (some hostile texts are 5,000 characters)."""
    return sorted(t if len(t) <= 40 else f"{t[:40]}…({len(t):,} chars)" for t in texts)


def kind_of(path: Path, root: Path) -> str:
    rel = path.relative_to(root).as_posix()
    hits = [k for k, rx in KINDS.items() if re.search(rf"(^|/){rx}$", rel)]
    assert len(hits) == 1, f"{rel}: an xlsx of no known kind ({hits}); add it to KINDS"
    return hits[0]


@dataclass
class HostileRun:
    root: Path
    months: dict[str, Path]
    files: dict[Path, str]        # every xlsx written -> its kind
    hostile: set[str]             # every hostile text the inputs carry

    def of_kind(self, kind: str) -> list[Path]:
        return [p for p, k in self.files.items() if k == kind]



def _extra_writers(root: Path, months: dict[str, Path], maps: dict[str, dict]) -> None:
    """Writers the demo month does not reach, or reaches only with the bundled playbooks: a campaign round
    from a hostile playbook (its call workbook and round summary) and its evaluation after three simulated
    months, the store-group summary and a survey export as xlsx."""
    from workbench.analysis.simulate import write_export
    from workbench.campaigns import demo_step
    from workbench.campaigns.rounds import close_round, list_rounds
    from workbench.evaluation.evaluate import evaluate_round
    from workbench.evaluation.excel import write_evaluation_workbook
    from workbench.evaluation.rounds import latest_round
    from workbench.evaluation.simulate import simulate_round
    from workbench.runner.stores import write_group_summary

    with pytest.MonkeyPatch.context() as mp:
        # a round after the demo's three simulated months, so it finds customers due for contact again
        mp.setattr(demo_step, "DEMO_AS_OF", dt.date(2027, 2, 1))
        for business, month in months.items():
            for rid in list_rounds(month / "workbench.duckdb")["round_id"]:  # free its customers for a new round
                close_round(month / "workbench.duckdb", rid)
            pb = hostile_playbook(demo_step.DEMO_PLAYBOOKS[business], maps[business], root / f"{business}_pb.yaml")
            mp.setitem(demo_step.DEMO_PLAYBOOKS, business, str(pb))
            demo_step.campaign_demo_step(month, business, log=lambda message: None)
    for business, month in months.items():  # three simulated months after the hostile round, evaluated
        db = month / "workbench.duckdb"
        rid = latest_round(db)
        simulate_round(db, rid, seed=0, horizon_days=90, replace=True)
        write_evaluation_workbook(evaluate_round(db, rid, months=3), month / "evaluation" / "hostile_round.xlsx")
    stores = list(maps["dealership"]["store"].values())
    results = [{"store": s, "status": "failed" if k % 2 else "succeeded", "seconds": 1.5 + k,
                "metrics": {"customers": 100 + k, "lost_share": 0.2}, "message": f"store {s}: {PAYLOADS[k % 8]}",
                "steps": [{"name": "scoring", "status": "failed", "seconds": 0.5,
                           "error": {"type": PAYLOADS[(k + 1) % 8], "cell": 3}}]} for k, s in enumerate(stores)]
    write_group_summary(results, root / "group_summary.xlsx")
    export = pd.DataFrame({"_uuid": [f"u{k}" for k in range(len(PAYLOADS))], "_submitted_by": INTERVIEWERS[:1] * 8,
                           "why_left_other": list(PAYLOADS), "comment": list(reversed(PAYLOADS))})
    write_export(export, root / "kobo_export.xlsx")


def write_hostile_workbooks(root: Path) -> HostileRun:
    """Both businesses' hostile demo months under ``root`` (in parallel worker processes, as the demo runs),
    plus the extra writers; every xlsx under ``root``, classified."""
    maps = {b: hostile_demo(b, CUSTOMERS)[1] for b in BUSINESSES}
    configs = [str(hostile_config(b, root)) for b in BUSINESSES]
    with cf.ProcessPoolExecutor(len(BUSINESSES), mp_context=multiprocessing.get_context("spawn")) as ex:
        outcomes = list(ex.map(run_hostile_month, configs, [str(root / "out")] * 2, [CUSTOMERS] * 2))
    for business, (status, message, _) in zip(BUSINESSES, outcomes):
        assert status == "succeeded", f"hostile demo month of {business} failed:\n{message}"
    months = {b: Path(d) for b, (_, _, d) in zip(BUSINESSES, outcomes)}
    _extra_writers(root, months, maps)
    files = {p: kind_of(p, root) for p in sorted(root.rglob("*.xlsx")) if not p.name.startswith(".")}
    hostile = set().union(*(all_hostile_texts(m) for m in maps.values()))
    return HostileRun(root, months, files, hostile)


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> HostileRun:
    return write_hostile_workbooks(tmp_path_factory.mktemp("hostile_xlsx"))


@pytest.fixture(scope="module")
def cells(run) -> dict[Path, audit.CellAudit]:
    return {p: audit.audit_cells(p, run.hostile, CUT_NOTE) for p in run.files}


@pytest.mark.slow
def test_every_kind_of_workbook_was_written(run):
    assert set(run.files.values()) == set(KINDS), set(KINDS) - set(run.files.values())
    for business, month in run.months.items():
        mine = {run.files[p] for p in run.files if month in p.parents}
        assert mine >= set(KINDS) - {"store group summary", "survey export (Kobo xlsx)"}, (business, mine)


@pytest.mark.slow
def test_no_formula_holds_user_text_and_every_formula_is_one_the_workbench_builds(run, cells):
    problems, shapes = [], {}
    for path in run.files:
        found, bad = audit.formula_problems(path, cells[path].sheets, run.hostile)
        problems += bad
        for f in found:
            shapes[f.shape] = shapes.get(f.shape, 0) + 1
        assert sum(f.kind == "f" for f in found) == cells[path].formula_cells, path  # XML and openpyxl agree
    assert problems == [], "\n".join(problems[:40])
    # the call workbooks' summaries, dropdown lists, charts and filters were all seen and checked
    assert set(shapes) == set(audit.ALLOWED_FORMULAS), shapes


@pytest.mark.slow
def test_hostile_text_stays_plain_text_without_links(run, cells):
    problems = [p for path in run.files for p in cells[path].problems]
    assert problems == [], "\n".join(problems[:40])
    # holding no customer or user text: the import log (file names), the XLSForm (the survey template; its
    # case list is cases.csv), the scoring workbook and the round summary (ids, codes and figures)
    no_text = {"import log", "XLSForm", "scoring workbook", "campaign round summary"}
    for kind in set(KINDS) - no_text:
        assert any(cells[p].strings & run.hostile for p in run.of_kind(kind)), f"{kind}: no hostile text reached it"
    everywhere = set().union(*(cells[p].strings for p in run.files if run.files[p] != "demo export file (input)"))
    assert set(PAYLOADS) <= everywhere, short(set(PAYLOADS) - everywhere)


@pytest.mark.slow
def test_response_analysis_names_interviewers_as_given(run):
    """Not as their sheet names (which lose []:*?/\\' and are cut to 31 characters)."""
    for path in run.of_kind("response analysis"):
        frame = pd.read_excel(path, sheet_name="rates_by_interviewer", dtype=str, engine="openpyxl")
        assert set(frame["interviewer"]) == set(INTERVIEWERS), short(set(frame["interviewer"]) ^ set(INTERVIEWERS))


@pytest.mark.slow
@pytest.mark.parametrize("business", BUSINESSES)
def test_customer_table_holds_the_exact_hostile_text(run, business):
    data, maps = hostile_demo(business, CUSTOMERS)
    [path] = [p for p in run.of_kind("customer table") if run.months[business] in p.parents]
    got = pd.read_excel(path, dtype=str, engine="openpyxl").set_index("customer_id")
    want = data.customers.set_index("customer_id")
    for col in ("name", "region", "store", "age_band"):
        expected = want[col].map(cell_text)
        assert got[col].reindex(expected.index).equals(expected.astype(got[col].dtype)), col
    cut = got.loc[want.index[want["name"] == OVERLONG][0], "name"]
    assert len(cut) == XLSX_CELL_LIMIT and cut.startswith(OVERLONG[:1000]) and cut.endswith(CUT_NOTE)


@pytest.mark.slow
def test_libreoffice_reads_every_workbook_as_written(run, tmp_path):
    if audit.soffice() is None:
        pytest.skip("LibreOffice (soffice) is not installed; CI installs it in .ci/run")
    staged = audit.convert_all(run.files, tmp_path / "csv", tmp_path / "lo_profile")
    total, problems = 0, []
    for original, copy in staged.items():
        n, bad = audit.compare_with_libreoffice(original, copy, tmp_path / "csv")
        total += n
        problems += bad
    assert problems == [], "\n".join(problems[:40])
    assert total > 20_000, total
    sheets = sum(len(audit.sheet_names(p)) for p in staged)
    print(f"\n{len(staged)} workbooks, {sheets} sheets, {total:,} cells compared with LibreOffice")


# --------------------------------------------------------------------------- fast checks

def test_write_frame_cuts_over_long_text_visibly(tmp_path):
    fits = "满" * XLSX_CELL_LIMIT
    with excel_workbook(tmp_path / "long.xlsx") as wb:
        write_frame(wb, "t", pd.DataFrame({"text": [fits, OVERLONG, PAYLOADS[0]]}))
    ws = openpyxl.load_workbook(tmp_path / "long.xlsx")["t"]
    assert ws["A2"].value == fits
    cut = ws["A3"].value
    assert len(cut) == XLSX_CELL_LIMIT and cut.startswith(OVERLONG[:30_000]) and cut.endswith(CUT_NOTE)
    assert f"{len(OVERLONG):,}" in cut
    assert ws["A4"].value == PAYLOADS[0] and ws["A4"].data_type == "s"


def _small_sample(names: list[str], interviewers: list[str]) -> pd.DataFrame:
    """30 customers named ``names`` in turn, a 10-case sample for ``interviewers`` (phone workbook input)."""
    from workbench.surveys.sampling import assign_interviewers, stratified_sample

    cust = pd.DataFrame({"customer_id": [f"K{i:03d}" for i in range(30)], "name": (names * 30)[:30],
                         "phone": [f"139{i:08d}" for i in range(30)], "preferred_time": "周末", "tier": 1,
                         "do_not_contact": False})
    return assign_interviewers(stratified_sample(cust, ["tier"], 10, seed=1), interviewers).merge(
        cust[["customer_id", "name", "phone", "preferred_time"]], on="customer_id")


def test_interview_workbook_cuts_over_long_names_visibly(tmp_path):
    from workbench.surveys.phone_workbook import write_phone_workbook
    from workbench.surveys.template import load_template

    path = write_phone_workbook(load_template("clinic_lost_callback"), _small_sample([OVERLONG], ["A"]),
                                tmp_path / "w.xlsx", survey_id="c1", privacy="in_house")
    long = [c.value for c in openpyxl.load_workbook(path)["A"][2] if isinstance(c.value, str) and len(c.value) > 99]
    assert long and all(v.endswith(CUT_NOTE) for v in long), [len(v) for v in long]


def test_interview_workbook_with_a_bar_in_an_interviewer_name_reads_back(tmp_path):
    from workbench.surveys.phone_workbook import read_phone_workbook, write_phone_workbook
    from workbench.surveys.template import load_template

    smp = _small_sample(list(PAYLOADS), ["=cmd|' /C calc'!A0"])
    path = write_phone_workbook(load_template("clinic_lost_callback"), smp, tmp_path / "w.xlsx", survey_id="c1")
    assert len(read_phone_workbook(path).cases) == len(smp)


def test_the_audit_catches_formulas_and_links_from_text(tmp_path):
    import xlsxwriter

    unsafe = tmp_path / "unsafe.xlsx"
    wb = xlsxwriter.Workbook(str(unsafe))  # xlsxwriter's defaults: '=...' -> formula, URL -> link
    ws = wb.add_worksheet("s")
    for i, text in enumerate(PAYLOADS):
        ws.write(i, 0, text)
    ws.write_formula(0, 1, "=COUNTIF('s'!$A$1:$A$8,\"+1+2\")")
    wb.close()
    hostile = set(PAYLOADS)
    found, problems = audit.formula_problems(unsafe, ["s"], hostile)
    assert {f.text for f in found if f.kind == "f"} == {'HYPERLINK("http://evil","x")', "cmd|' /C calc'!A0",
                                                         "COUNTIF('s'!$A$1:$A$8,\"+1+2\")"}
    assert any("not a formula shape" in p for p in problems) and any("holds user text" in p for p in problems)
    assert any("does not have" in p for p in problems)  # the DDE call's "' /C calc'!" is no sheet of the file
    cells = audit.audit_cells(unsafe, hostile, CUT_NOTE)
    assert any("a hyperlink to 'http://example.com/x'" in p for p in cells.problems), cells.problems
    safe = tmp_path / "safe.xlsx"
    with excel_workbook(safe) as wb:
        write_frame(wb, "s", pd.DataFrame({"text": list(PAYLOADS)}))
    assert audit.formula_problems(safe, ["s"], hostile)[1] == []
    assert audit.audit_cells(safe, hostile, CUT_NOTE).problems == []


def test_the_libreoffice_comparison_reports_differences(tmp_path):
    path = tmp_path / "w.xlsx"
    with excel_workbook(path) as wb:
        frame = pd.DataFrame({"text": [PAYLOADS[0], "b"], "n": [0.125, 2], "d": [dt.date(2026, 1, 2)] * 2})
        ws = write_frame(wb, "s", frame)
        ws.write_formula(1, 4, "=B2*2", None, 0.25)
    (tmp_path / "w-s.csv").write_text('text,n,d,,\n"=HYPERLINK(""http://evil"",""x"")",12.5%,2026-01-02,,#NAME?\n'
                                      "c,2,2026-01-03,x,\n", encoding="utf-8")
    n, problems = audit.compare_with_libreoffice(path, path, tmp_path)
    assert n == 10 and [p.split(": ", 1)[0].rsplit(" ", 1)[-1] for p in problems] == ["E2", "A3", "C3", "D3"], problems
    assert "gives '#NAME?'" in problems[0] and "text differs" in problems[1] and "not the date" in problems[2]
    assert "where openpyxl finds nothing" in problems[3]  # and 12.5% is 0.125: percent cells compare as numbers
