"""Filling in an existing workbook with openpyxl (the demo's simulated call teams, tests), text kept as text.

Files the workbench writes itself go through xlsxwriter with ``SAFE_XLSX_OPTIONS``
(:mod:`workbench.reports.files`); openpyxl, used to fill in a returned workbook, stores any string that starts
with '=' as a formula, so a typed answer such as ``=1+1`` would run when Excel opens the file.
"""

from __future__ import annotations

from typing import Any


def set_cell(ws: Any, row: int, column: int, value: object) -> None:
    """Put ``value`` into the openpyxl cell at (row, column); a string is always stored as text."""
    cell = ws.cell(row=row, column=column, value=value)
    if isinstance(value, str) and cell.data_type == "f":
        cell.data_type = "s"
