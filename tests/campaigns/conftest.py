"""Campaign test fixtures: private copies of the shared scored demo store (tests/conftest.py) to write rounds into."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest



@pytest.fixture
def store(scored_store, tmp_path) -> Path:
    """A private copy of the scored store (tests write rounds and call results into it)."""
    target = tmp_path / "dealership" / "workbench.duckdb"
    target.parent.mkdir()
    shutil.copy(scored_store, target)
    return target


def fill_workbook(path: Path, outcomes: dict[str, tuple], out: Path | None = None) -> Path:
    """Fill outcome / date / attempts / notes for customer ids as an agent would (openpyxl), save to ``out``."""
    import openpyxl

    from workbench.reports.fill import set_cell

    wb = openpyxl.load_workbook(path)
    for ws in wb.worksheets:
        if ws.sheet_state != "visible" or ws.title.startswith(("汇总", "说明")):
            continue
        head = {c.value: c.column for c in ws[1]}
        for row in ws.iter_rows(min_row=2):
            cid = row[head["客户编号 Customer ID"] - 1].value
            if cid in outcomes:
                values = outcomes[cid]
                for header, v in zip(("结果 Outcome", "联系日期 Contact date", "拨打次数 Attempts", "备注 Notes"), values):
                    set_cell(ws, row[0].row, head[header], v)
    target = out or path
    wb.save(target)
    return target
