"""Importing answers: round trips through the interview workbook and Kobo/ODK exports, re-imports, and
broken inputs that must name file, sheet, row and column and leave the store unchanged."""

from __future__ import annotations

import shutil
import subprocess

import openpyxl
import pandas as pd
import pytest

from workbench.analysis.importer import import_responses, read_responses
from workbench.analysis.simulate import export_rows, fill_phone_workbook, simulate_fieldwork, write_export
from workbench.analysis.survey_store import load_fielded_survey
from workbench.cli import main as cli_main
from workbench.data.problems import ImportValidationError
from workbench.data.store import connect


@pytest.fixture(scope="module")
def field(study, tmp_path_factory):
    """Simulated fieldwork on the churn survey and the filled workbook."""
    folder = tmp_path_factory.mktemp("field")
    d = study.churn
    fielded = load_fielded_survey(study.db, d.survey_id)
    fw = simulate_fieldwork(fielded.survey, fielded.sample, study.truth, seed=7)
    filled = fill_phone_workbook(d.files["call_workbook"], folder / "filled.xlsx", fw)
    return fielded, fw, filled


def _stored(db, sid):
    cases, answers = read_responses(db, sid)
    got = {(r.case_id, r.question): r.answer for r in answers.itertuples(index=False)}
    return cases, answers, got


def _expected(fw):
    return {(c, q): a for c, ans in fw.answers.items() for q, a in ans.items()}


def _snapshot(db):
    with connect(db, read_only=True) as con:
        return {t: con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall()
                for t in ("survey_cases", "survey_responses", "imports")}


def test_workbook_round_trip_gives_exactly_the_answers_entered(study, field, tmp_path):
    fielded, fw, filled = field
    db = study.copy_db(tmp_path / "s.duckdb")
    r = import_responses(db, fielded.survey_id, [filled])
    cases, answers, got = _stored(db, fielded.survey_id)
    assert got == _expected(fw)
    assert dict(zip(cases["case_id"], cases["status"])) == dict(zip(fw.cases["case_id"], fw.cases["status"]))
    assert r.cases_new == len(fw.cases) and r.answers_written == len(answers)
    assert set(cases["status"]) <= {"completed", "refused", "not_reached", "call_back"}
    # the same file again: nothing duplicated, nothing changed
    again = import_responses(db, fielded.survey_id, [filled])
    assert again.cases_unchanged == len(fw.cases) and again.cases_new == again.cases_updated == 0
    assert _stored(db, fielded.survey_id)[2] == got
    assert len(read_responses(db, fielded.survey_id)[1]) == len(answers)


@pytest.mark.parametrize("style,suffix,encoding,group,options", [
    ("kobo", ".xlsx", "utf-8", "grp", True), ("odk", ".csv", "gb18030", "g1", True), ("kobo", ".csv", "utf-8", "", False)])
def test_kobo_and_odk_exports_import_the_same_answers(study, field, tmp_path, style, suffix, encoding, group, options):
    fielded, fw, _ = field
    db = study.copy_db(tmp_path / "s.duckdb")
    frame = export_rows(fielded.survey, fielded.survey_id, fw, fielded.sample, style=style, group=group,
                        option_columns=options)
    if options:  # only the 0/1 option columns: the importer must rebuild the space-separated answer
        frame = frame.drop(columns=[f"{group}{'/' if style == 'kobo' else '-'}competitor_appeal"])
    frame = pd.concat([frame, frame.iloc[:3]], ignore_index=True)        # an overlapping export: same _uuid/KEY
    frame = frame[list(reversed(frame.columns))]                           # shuffled columns
    path = write_export(frame, tmp_path / f"export{suffix}", encoding=encoding)
    r = import_responses(db, fielded.survey_id, [path])
    assert r.duplicates_dropped == 3
    _, _, got = _stored(db, fielded.survey_id)
    want = _expected(fw)
    if options:  # 0/1 columns do not record the order picked: compare those answers as sets
        multi = {k for k in want if k[1] == "competitor_appeal"}
        assert {k: set(got[k].split()) for k in multi} == {k: set(want[k].split()) for k in multi}
        got, want = ({k: v for k, v in d.items() if k not in multi} for d in (got, want))
    assert got == want


@pytest.mark.slow
def test_libreoffice_saved_workbook_imports(study, field, tmp_path):
    if shutil.which("soffice") is None:
        pytest.skip("LibreOffice not installed")
    fielded, fw, filled = field
    out = tmp_path / "lo"
    subprocess.run(["soffice", "--headless", f"-env:UserInstallation=file://{tmp_path}/profile", "--convert-to",
                    "xlsx", "--outdir", str(out), str(filled)], check=True, capture_output=True, timeout=180)
    db = study.copy_db(tmp_path / "s.duckdb")
    import_responses(db, fielded.survey_id, [out / "filled.xlsx"])
    assert _stored(db, fielded.survey_id)[2] == _expected(fw)


def _cell(ws, row, header_start):
    header = [c.value for c in ws[1]]
    return next(i for i, h in enumerate(header, 1) if h and str(h).startswith(header_start))


def _completed_row(ws, fw, need=None):
    status_col = _cell(ws, 1, "状态")
    for r in range(2, ws.max_row + 1):
        case = ws.cell(r, 1).value
        if ws.cell(r, status_col).value == "已完成" and (need is None or need(fw.answers.get(case, {}))):
            return r, case
    raise AssertionError("no completed case on this sheet")


def _broken(filled, tmp_path, change):
    wb = openpyxl.load_workbook(filled)
    ws = wb[[s for s in wb.sheetnames if not s.startswith(("说明", "话术", "_"))][0]]
    where = change(wb, ws)
    path = tmp_path / "broken.xlsx"
    wb.save(path)
    return path, ws.title, where


def _assert_refused(db, sid, path, sheet, row, letter, words):
    before = _snapshot(db)
    with pytest.raises(ImportValidationError) as exc:
        import_responses(db, sid, [path])
    text = str(exc.value)
    expected = f"broken.xlsx, sheet '{sheet}', row {row}, column {letter}"
    assert expected in text, text
    assert words in text
    assert _snapshot(db) == before


def test_broken_workbooks_name_file_sheet_row_column_and_leave_store_unchanged(study, field, tmp_path):
    fielded, fw, filled = field
    db = study.copy_db(tmp_path / "s.duckdb")
    import_responses(db, fielded.survey_id, [filled])   # something in the store already
    sid = fielded.survey_id
    from openpyxl.utils import get_column_letter as L

    def unknown_code(wb, ws):
        r, _ = _completed_row(ws, fw)
        c = _cell(ws, 1, "Q3 ")
        ws.cell(r, c, "9 超级好")
        return r, L(c)

    def skipped_answered(wb, ws):
        r, _ = _completed_row(ws, fw, lambda a: a.get("current_brand") != "ours" and "competitor_appeal" in a)
        ws.cell(r, _cell(ws, 1, "Q1 "), "我们的品牌")   # now uses our brand: Q9/Q10 must be empty
        c = _cell(ws, 1, "Q10 ")
        return r, L(c)

    def missing_required(wb, ws):
        r, _ = _completed_row(ws, fw)
        c = _cell(ws, 1, "Q2 ")
        ws.cell(r, c).value = None
        return r, L(c)

    def unknown_case(wb, ws):
        r = ws.max_row + 1
        ws.cell(r, 1, "C9999")
        ws.cell(r, _cell(ws, 1, "状态"), "拒访")
        return r, "A"

    def duplicate(wb, ws):
        r, _ = _completed_row(ws, fw)
        new = ws.max_row + 1
        for c in range(1, ws.max_column + 1):
            ws.cell(new, c, ws.cell(r, c).value)
        return new, "A"

    cases = [(unknown_code, "unknown answer code"), (skipped_answered, "skip logic hides it"),
             (missing_required, "required answer missing"), (unknown_case, "not in the sample"),
             (duplicate, "duplicate submission")]
    for change, words in cases:
        path, sheet, (row, letter) = _broken(filled, tmp_path, change)
        if change is unknown_code:   # a label outside the dropdown is caught by the workbook reader
            words = "not one of the allowed answers"
        _assert_refused(db, sid, path, sheet, row, letter, words)


def test_kobo_unknown_code_and_renamed_column(study, field, tmp_path):
    fielded, fw, _ = field
    db = study.copy_db(tmp_path / "s.duckdb")
    frame = export_rows(fielded.survey, fielded.survey_id, fw, fielded.sample, style="kobo")
    cols = list(frame.columns)
    frame.loc[4, "main_reason"] = "fashion"
    path = write_export(frame, tmp_path / "broken.csv")
    before = _snapshot(db)
    with pytest.raises(ImportValidationError) as exc:
        import_responses(db, fielded.survey_id, [path])
    letter = chr(65 + cols.index("main_reason")) if cols.index("main_reason") < 26 else None
    assert f"broken.csv, row 6, column {letter} 'main_reason': 'fashion' unknown answer code" in str(exc.value)
    renamed = write_export(frame.rename(columns={"style_rating": "style_rate"}), tmp_path / "renamed.csv")
    with pytest.raises(ImportValidationError, match=r"renamed.csv, row 1, column [A-Z]+ 'style_rate': unknown column"):
        import_responses(db, fielded.survey_id, [renamed])
    assert _snapshot(db) == before


def test_deleted_sheet_is_refused(study, field, tmp_path):
    fielded, _, filled = field
    wb = openpyxl.load_workbook(filled)
    gone = [s for s in wb.sheetnames if not s.startswith(("说明", "话术", "_"))][1]
    del wb[gone]
    path = tmp_path / "deleted.xlsx"
    wb.save(path)
    db = study.copy_db(tmp_path / "s.duckdb")
    with pytest.raises(ImportValidationError, match=rf"deleted.xlsx, sheet '{gone}': the interviewer sheet .* missing"):
        import_responses(db, fielded.survey_id, [path])


def test_valid_rows_only_and_cli_exit_codes(study, field, tmp_path, capsys):
    fielded, fw, _ = field
    db = study.copy_db(tmp_path / "s.duckdb")
    frame = export_rows(fielded.survey, fielded.survey_id, fw, fielded.sample, style="kobo", option_columns=False)
    frame.loc[0, "case_id"] = "C9999"
    frame.loc[1, "style_rating"] = "7"
    path = write_export(frame, tmp_path / "part.csv")
    assert cli_main(["--db", str(db), "responses", "import", fielded.survey_id, str(path)]) == 2
    assert "part.csv, row 2" in capsys.readouterr().err
    assert read_responses(db, fielded.survey_id)[0].empty
    assert cli_main(["--db", str(db), "responses", "import", fielded.survey_id, str(path), "--valid-rows-only"]) == 0
    out = capsys.readouterr()
    assert "2 row(s) with problems left out" in out.out and "not in sample 1" in out.out
    cases = read_responses(db, fielded.survey_id)[0]
    assert len(cases) == len(frame) - 2
