"""Field exports: XLSForm passes pyxform (and ODK Validate), the call workbook is well-formed and reads back,
the printable questionnaire escapes text, designs are stored with weights; no customer text becomes a formula."""

from __future__ import annotations

import re
import zipfile

import numpy as np
import openpyxl
import pandas as pd
import pytest
from pyxform.xls2xform import convert

from workbench.data.store import connect, read_table
from workbench.surveys.design import design_survey, export_design, save_design, target_population
from workbench.surveys.phone_workbook import (CHOICES_SHEET, COLUMNS_SHEET, INSTRUCTIONS_SHEET, LISTS_SHEET,
                                              META_SHEET, SCRIPT_SHEET, WorkbookReadError, read_phone_workbook,
                                              write_phone_workbook)
from workbench.surveys.printable import render_questionnaire
from workbench.surveys.sampling import assign_interviewers, stratified_sample
from workbench.surveys.template import list_templates, load_template
from workbench.surveys.xlsform import write_xlsform

EVIL = "=1+1"


def _customers(n=120):
    rng = np.random.default_rng(4)
    df = pd.DataFrame({"customer_id": [f"K{i:04d}" for i in range(n)],
                       "name": [f"客户{i}" for i in range(n)],
                       "phone": [f"139{i:08d}" for i in range(n)],
                       "preferred_time": rng.choice(["周末", "工作日晚上"], n),
                       "tier": rng.choice([1, 2, 3], n), "do_not_contact": False})
    df.loc[:, "name"] = df["name"].astype("object")
    df.loc[df.index, "name"] = [EVIL if i % 2 == 0 else f"+{i}-SUM(A1)" if i % 3 == 0 else f"客户{i}" for i in range(n)]
    return df


@pytest.fixture(scope="module")
def xlsforms(tmp_path_factory):
    folder = tmp_path_factory.mktemp("xlsform")
    return {t: write_xlsform(load_template(t), folder / f"{t}.xlsx") for t in list_templates()}


def test_xlsform_converts_without_errors_or_warnings(xlsforms):
    for name, path in xlsforms.items():
        wb = openpyxl.load_workbook(path)
        assert {"survey", "choices", "settings"} <= set(wb.sheetnames)
        head = [c.value for c in wb["survey"][1]]
        assert "label::English (en)" in head and "label::Chinese (zh)" in head
        assert not any(str(c.value).strip() == "or_other" or "or_other" in str(c.value) for row in wb["survey"].iter_rows()
                       for c in row if c.value)
        result = convert(xlsform=str(path), validate=False)
        assert result.warnings == [], (name, result.warnings)
        xml = result.xform
        assert "case_id" in xml and "survey_id" in xml and "pulldata" in xml


@pytest.mark.slow
def test_xlsform_passes_odk_validate(xlsforms):
    for name, path in xlsforms.items():
        result = convert(xlsform=str(path), validate=True)
        assert result.warnings == [], (name, result.warnings)


def test_xlsform_other_is_explicit_choice_plus_text(xlsforms):
    result = convert(xlsform=str(xlsforms["car_aftersales_churn"]), validate=False)
    assert "main_reason_other" in result.xform
    assert re.search(r"main_reason_other\" [^>]*relevant=\"selected\( */data/main_reason *, 'other'\)", result.xform)


@pytest.fixture(scope="module")
def design(tmp_path_factory):
    folder = tmp_path_factory.mktemp("design")
    pop = target_population(segment="tier <= 2", customers=_customers())
    d = design_survey("car_aftersales_churn", pop, strata=["tier"], margin=0.2, response_rate=0.5,
                      interviewers=["王芳", "Li/Qiang"], seed=9, survey_id="car_test")
    export_design(d, folder, language="zh")
    return d


def test_workbook_sheets_validations_frozen_panes(design):
    path = design.files["call_workbook"]
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames[:2] == [INSTRUCTIONS_SHEET, SCRIPT_SHEET]
    assert {"王芳", "Li_Qiang"} <= set(wb.sheetnames)
    for hidden in (LISTS_SHEET, COLUMNS_SHEET, CHOICES_SHEET, META_SHEET):
        assert wb[hidden].sheet_state == "hidden"
    ws = wb["王芳"]
    assert ws.freeze_panes == "D2"
    header = [c.value for c in ws[1]]
    assert header[:4] == ["个案编号", "客户编号", "姓名", "电话"] and "状态" in header
    dvs = {str(dv.sqref).split(":")[0]: dv for dv in ws.data_validations.dataValidation}
    status_col = openpyxl.utils.get_column_letter(header.index("状态") + 1)
    assert dvs[f"{status_col}2"].type == "list" and LISTS_SHEET in dvs[f"{status_col}2"].formula1
    main_col = openpyxl.utils.get_column_letter(next(i for i, h in enumerate(header) if h.startswith("Q10 ")) + 1)
    dv = dvs[f"{main_col}2"]
    assert dv.type == "list" and dv.formula1.startswith(f"'{LISTS_SHEET}'!$")   # long list: hidden sheet by range
    lists = wb[LISTS_SHEET]
    col = [c.value for c in lists[dv.formula1.split("!$")[1].split("$")[0]]]
    assert col[0] == "main_reason" and len("".join(col[1:])) + len(col) > 30 and "价格偏高" in col
    comments = [c.comment.text for c in ws[1] if c.comment]
    assert any("仅当 Q3" in t for t in comments)
    meta = dict(row for row in wb[META_SHEET].iter_rows(min_row=2, values_only=True))
    assert meta["survey_id"] == "car_test" and meta["seed"] == "9"
    instructions = " ".join(str(c.value) for row in wb[INSTRUCTIONS_SHEET].iter_rows() for c in row if c.value)
    assert "小礼品" in instructions and "small gift" in instructions


def test_no_formulas_from_customer_or_template_text(design):
    for key in ("call_workbook", "xlsform"):
        with zipfile.ZipFile(design.files[key]) as z:
            for name in z.namelist():
                if name.startswith("xl/worksheets/sheet"):
                    assert b"<f>" not in z.read(name) and b"<f " not in z.read(name), (key, name)
    wb = openpyxl.load_workbook(design.files["call_workbook"])
    names = [c.value for s in wb.sheetnames if not s.startswith("_") for c in wb[s]["C"]]
    assert EVIL in names
    cell = next(c for s in ("王芳", "Li_Qiang") for c in wb[s]["C"] if c.value == EVIL)
    assert cell.data_type == "s"
    csv_text = design.files["cases_csv"].read_text(encoding="utf-8-sig")
    assert "'=1+1" in csv_text and "\n=1+1" not in csv_text and ",=1+1" not in csv_text


def test_workbook_reads_back_with_reordered_columns(design, tmp_path):
    path = design.files["call_workbook"]
    wb = openpyxl.load_workbook(path)
    ws = wb["王芳"]
    header = [c.value for c in ws[1]]
    col = {h: i + 1 for i, h in enumerate(header)}
    q1 = next(h for h in header if h.startswith("Q1 "))
    q4 = [h for h in header if h.startswith("Q4 ")]
    ws.cell(2, col["状态"], "已完成")
    ws.cell(2, col[q1], "几乎每天开")
    ws.cell(2, col[q4[1]], "价格更实惠")
    ws.cell(2, col[q4[0]], "其他")
    ws.cell(2, col[q4[-1]], "朋友介绍的店")
    ws.cell(3, col["状态"], "Refused")
    ws.move_range(f"A1:{openpyxl.utils.get_column_letter(len(header))}{ws.max_row}", cols=2)  # shift everything
    filled = tmp_path / "filled.xlsx"
    wb.save(filled)
    data = read_phone_workbook(filled)
    first = design.sample[design.sample.interviewer == "王芳"].iloc[0]
    ans = data.answers.set_index(["case_id", "question"])["answer"]
    assert ans[(first.case_id, "car_use")] == "daily"
    assert ans[(first.case_id, "other_place_appeal")] == "other cheaper"
    assert ans[(first.case_id, "other_place_appeal_other")] == "朋友介绍的店"
    cases = data.cases.set_index("case_id")
    assert cases.loc[first.case_id, "status"] == "completed"
    assert set(cases["status"]) == {"completed", "refused", ""}
    assert len(cases) == len(design.sample)


def test_workbook_read_back_refuses_values_outside_the_dropdown(design, tmp_path):
    wb = openpyxl.load_workbook(design.files["call_workbook"])
    ws = wb["王芳"]
    header = [c.value for c in ws[1]]
    q1 = next(i for i, h in enumerate(header) if h.startswith("Q1 ")) + 1
    ws.cell(5, q1, "天天开")
    bad = tmp_path / "bad.xlsx"
    wb.save(bad)
    with pytest.raises(WorkbookReadError, match=r"sheet '王芳', row 5, column [A-Z]+ .*'天天开'"):
        read_phone_workbook(bad)


def test_workbook_read_back_refuses_the_same_answer_in_two_slots(design, tmp_path):
    wb = openpyxl.load_workbook(design.files["call_workbook"])
    ws = wb["王芳"]
    header = [c.value for c in ws[1]]
    col = {h: i + 1 for i, h in enumerate(header)}
    q4 = [h for h in header if h.startswith("Q4 ")]
    ws.cell(2, col["状态"], "已完成")
    ws.cell(2, col[q4[0]], "价格更实惠")
    ws.cell(2, col[q4[1]], "价格更实惠")  # picked twice: a lost second choice (or a repeated rank)
    bad = tmp_path / "twice.xlsx"
    wb.save(bad)
    letter = openpyxl.utils.get_column_letter(col[q4[1]])
    with pytest.raises(WorkbookReadError, match=rf"sheet '王芳', row 2, column {letter} .*same answer is in two slots"):
        read_phone_workbook(bad)


def test_english_workbook_and_masked_phones(tmp_path):
    s = load_template("clinic_lost_callback")
    cust = _customers(30)
    smp = assign_interviewers(stratified_sample(cust, ["tier"], 10, seed=1), ["A"]).merge(
        cust[["customer_id", "name", "phone", "preferred_time"]], on="customer_id")
    p = write_phone_workbook(s, smp, tmp_path / "en.xlsx", survey_id="c1", language="en", privacy="masked")
    ws = openpyxl.load_workbook(p)["A"]
    assert [c.value for c in ws[1]][:3] == ["Case ID", "Customer ID", "Name"]
    assert all("****" in str(c.value) for c in ws["D"][1:len(smp) + 1])


def test_printable_questionnaire_escapes_text_and_shows_skips():
    page = render_questionnaire(load_template("car_aftersales_churn"), "zh", survey_id="<x>")
    assert "&lt;x&gt;" in page and "<x>" not in page
    assert "仅当" in page and "小礼品" in page and "Q10." in page


def test_design_stored_with_weights_and_case_ids(design, tmp_path):
    db = tmp_path / "store.duckdb"
    save_design(design, db)
    save_design(design, db)  # re-saving replaces, never duplicates
    sample = read_table("survey_sample", db)
    assert len(sample) == len(design.sample) and sample["case_id"].is_unique
    main = sample[sample.role == "main"]
    pop = design.params["population"]
    assert main["design_weight"].sum() == pytest.approx(pop)
    with connect(db, read_only=True) as con:
        rows = con.execute("SELECT survey_id, template, title_zh, design FROM surveys").fetchall()
    assert len(rows) == 1 and rows[0][1] == "car_aftersales_churn" and '"seed": 9' in rows[0][3]


def test_target_population_excludes_do_not_contact_and_explains_bad_segment():
    cust = _customers(20)
    cust.loc[:4, "do_not_contact"] = True
    assert len(target_population(customers=cust)) == 15
    with pytest.raises(ValueError, match="available columns"):
        target_population(segment="stage == 'lost'", customers=cust)


def test_population_falls_back_to_customers_when_nothing_scored(tmp_path):
    from workbench.surveys.design import latest_scores

    from workbench.data.demo import build_demo_db

    db = tmp_path / "unscored.duckdb"
    data = build_demo_db(db, "dealership", n_customers=60, seed=1, files_dir=tmp_path / "files")
    assert latest_scores(db) is None
    pop = target_population(db)
    dnc = data.customers["do_not_contact"].fillna(False).astype(bool).sum()
    assert len(pop) == 60 - dnc and pop.attrs["scores"] is False
