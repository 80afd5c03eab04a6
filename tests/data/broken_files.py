"""Broken input files as people really produce them, each with what the error must say.

Each case writes one file into a folder and names the table it is imported
into and the fragments the error report must contain (file, row, column,
reason), so a clerk can find and fix the cell.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import openpyxl

GOOD_TX_HEADER = "客户编号,日期,消费金额,消费类型\n"


@dataclass
class Broken:
    name: str
    table: str
    must_say: list[str]

    def path(self, folder: Path) -> Path:
        return folder / self.name


def write_broken_files(folder: Path, known_customer: str) -> list[Broken]:
    """Write the broken-file folder; ``known_customer`` exists in the target store."""
    folder.mkdir(parents=True, exist_ok=True)
    c = known_customer
    cases: list[Broken] = []

    # Latin-1 text (an old Western export) is neither UTF-8 nor GB18030.
    (folder / "wrong_encoding.csv").write_bytes(
        "customer_id,name\nX1,Jos\xe9 M\xfcller\n".encode("latin-1"))
    cases.append(Broken("wrong_encoding.csv", "customers", ["wrong_encoding.csv", "GB18030", "UTF-8"]))

    (folder / "missing_column.csv").write_text("客户编号,日期\n" + f"{c},2024-01-05\n", encoding="utf-8")
    cases.append(Broken("missing_column.csv", "transactions",
                        ["missing_column.csv", "row 1", "'amount'", "missing", "消费金额"]))

    (folder / "bad_dates.csv").write_text(
        GOOD_TX_HEADER + f"{c},2024-01-05,100,必要\n{c},05/13/2024,80,必要\n{c},2024-02-30,90,必要\n",
        encoding="utf-8")
    cases.append(Broken("bad_dates.csv", "transactions",
                        ["bad_dates.csv", "row 3, column B '日期' (date): '05/13/2024' is not a date",
                         "row 4, column B '日期' (date): '2024-02-30' is not a date"]))

    (folder / "negative_amounts.csv").write_text(
        GOOD_TX_HEADER + f"{c},2024-01-05,100,必要\n{c},2024-01-06,-250.00,可选\n", encoding="utf-8")
    cases.append(Broken("negative_amounts.csv", "transactions",
                        ["negative_amounts.csv", "row 3, column C '消费金额' (amount): '-250.00' is negative"]))

    (folder / "duplicate_ids.csv").write_text(
        "客户编号,姓名\nN001,王伟\nN002,李娜\nN001,张敏\n", encoding="utf-8")
    cases.append(Broken("duplicate_ids.csv", "customers",
                        ["duplicate_ids.csv", "column A '客户编号' (customer_id): 'N001' appears on rows 2, 4"]))

    (folder / "unknown_customer.csv").write_text(
        GOOD_TX_HEADER + f"{c},2024-01-05,100,必要\nNOBODY-9,2024-01-06,250,必要\n", encoding="utf-8")
    cases.append(Broken("unknown_customer.csv", "transactions",
                        ["unknown_customer.csv", "row 3, column A '客户编号' (customer_id): 'NOBODY-9' is not a "
                         "known customer"]))

    (folder / "empty.csv").write_bytes(b"")
    cases.append(Broken("empty.csv", "transactions", ["empty.csv", "empty"]))

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "消费明细"
    ws.append(["2024年消费明细 (导出自 DMS)"])
    ws.append(["客户编号", "日期", "消费金额"])
    ws.append([c, "2024-01-05", 100])
    wb.save(folder / "extra_header_row.xlsx")
    cases.append(Broken("extra_header_row.xlsx", "transactions",
                        ["extra_header_row.xlsx", "sheet '消费明细'", "row 1", "headers are on row 2"]))
    return cases
