"""The campaign subcommands and the demo-job step."""

from __future__ import annotations

import shutil

import openpyxl

from tests.campaigns.conftest import fill_workbook
from workbench.campaigns.demo_step import campaign_demo_step
from workbench.campaigns.rounds import list_rounds
from workbench.campaigns.scripts import outcome_label
from workbench.cli import main


def test_cli_round_workbook_import_close(store, tmp_path, capsys):
    book = tmp_path / "calls.xlsx"
    assert main(["--db", str(store), "campaign-round", "dealership_winback", "--date", "2026-11-02",
                 "--budget", "5000", "--stages", "lost", "--workbook", str(book), "--mask-phones"]) == 0
    out = capsys.readouterr().out
    assert "round dealership_winback-20261102" in out and "treatment" in out
    rid = list_rounds(store)["round_id"].iloc[0]
    wb = openpyxl.load_workbook(book, read_only=True)
    first = next(wb["_rows"].iter_rows(min_row=2, max_row=2, values_only=True))[2]
    wb.close()
    import datetime as dt

    fill_workbook(book, {first: (outcome_label("booked"), dt.datetime(2026, 11, 6), 1, "")})
    assert main(["--db", str(store), "campaign-import", str(book)]) == 0
    assert "1 contact results stored" in capsys.readouterr().out
    bad = tmp_path / "bad.xlsx"
    fill_workbook(book, {first: ("soon", dt.datetime(2026, 11, 6), 1, "")}, bad)
    assert main(["--db", str(store), "campaign-import", str(bad)]) == 2
    assert "'soon' is not one of the outcomes" in capsys.readouterr().err
    assert main(["--db", str(store), "campaign-close", rid]) == 0
    assert main(["--db", str(store), "campaign-rounds"]) == 0
    assert "closed" in capsys.readouterr().out
    assert main(["--db", str(store), "campaign-workbook", rid, str(tmp_path / "again.xlsx")]) == 0


def test_demo_step_writes_the_round_and_workbook(store, tmp_path):
    bdir = tmp_path / "demo" / "dealership"
    bdir.mkdir(parents=True)
    shutil.copy(store, bdir / "workbench.duckdb")
    lines = []
    path = campaign_demo_step(bdir, "dealership", lines.append)
    assert path.exists() and path.parent == bdir / "campaign"
    assert len(list((bdir / "campaign").glob("*_summary.xlsx"))) == 1
    assert "to contact" in lines[0] and "holdout" in lines[0]
    rounds = list_rounds(bdir / "workbench.duckdb")
    assert len(rounds) == 1 and rounds["treatment"].iloc[0] > 0 and rounds["holdout"].iloc[0] > 0
    campaign_demo_step(bdir, "dealership", lines.append)  # a re-run replaces the unstarted demo round
    assert len(list_rounds(bdir / "workbench.duckdb")) == 1
