"""Every xlsx writer in the package and the notebooks keeps text as text: a static check of the source.

xlsxwriter turns text starting with ``=`` into a formula and URL-like text into a link unless
``strings_to_formulas`` and ``strings_to_urls`` are off, and pandas' ``to_excel`` to a path does the same. So
a workbook may only be made by ``workbench.reports.files.excel_workbook`` or with ``SAFE_XLSX_OPTIONS``. A
module that fills in and saves an existing workbook with openpyxl (which types any text starting with ``=``
as a formula) must write its cells through ``workbench.reports.fill.set_cell``: direct ``ws.cell(r, c, v)``
and ``cell.value = v`` are refused (``ws.append`` and ``ws["A1"] = v`` cannot be told apart from list and dict
use here; the hostile-data test covers them). The test reads the source (AST) so that new code cannot quietly
regress; the end-to-end check with hostile data is ``test_xlsx_exports.py``.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from workbench.reports.files import SAFE_XLSX_OPTIONS

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "workbench"
NOTEBOOKS = ROOT / "notebooks"



def _name(node: ast.AST) -> str:
    """Dotted name of a call target: ``xlsxwriter.Workbook``, ``pd.ExcelWriter``, ``df.to_excel``."""
    if isinstance(node, ast.Attribute):
        return f"{_name(node.value)}.{node.attr}"
    if isinstance(node, ast.Name):
        return node.id
    return "?"


def _is_safe_options(node: ast.AST | None) -> bool:
    """The options argument is SAFE_XLSX_OPTIONS (by name) or a literal dict turning both conversions off."""
    if node is None:
        return False
    if isinstance(node, ast.Name | ast.Attribute) and _name(node).endswith("SAFE_XLSX_OPTIONS"):
        return True
    if isinstance(node, ast.Dict):
        items = {ast.literal_eval(k): v for k, v in zip(node.keys, node.values) if isinstance(k, ast.Constant)}
        if "options" in items:  # engine_kwargs={"options": ...}
            return _is_safe_options(items["options"])
        if any(k is None for k in node.keys):  # {**SAFE_XLSX_OPTIONS, ...}
            spread = [v for k, v in zip(node.keys, node.values) if k is None]
            if any(_is_safe_options(v) for v in spread):
                overridden = {k for k in items if k in ("strings_to_formulas", "strings_to_urls")}
                return all(isinstance(items[k], ast.Constant) and items[k].value is False for k in overridden)
        return all(isinstance(items.get(k), ast.Constant) and items[k].value is False
                   for k in ("strings_to_formulas", "strings_to_urls"))
    return False


def _keyword(call: ast.Call, name: str) -> ast.AST | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def unsafe_writers(source: str, where: str) -> list[str]:
    """Problems in one module's source: xlsx writers made without the safe options; ``where`` names it."""
    tree = ast.parse(source)
    problems: list[str] = []
    imports_openpyxl = any(isinstance(n, ast.Import | ast.ImportFrom) and (
        any(a.name.split(".")[0] == "openpyxl" for a in n.names) if isinstance(n, ast.Import)
        else (n.module or "").split(".")[0] == "openpyxl") for n in ast.walk(tree))
    from_xlsxwriter = {a.asname or a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)
                       and n.module == "xlsxwriter" for a in n.names}
    safe_writers: set[str] = set()
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call)]
    saves = any(_name(c.func).endswith(".save") for c in calls)  # a module that saves what openpyxl opened
    for n in ast.walk(tree):  # names bound to a safe pd.ExcelWriter: `with ... as x` or `x = ...`
        pairs = ([(i.context_expr, i.optional_vars) for i in n.items] if isinstance(n, ast.With)
                 else [(n.value, t) for t in n.targets] if isinstance(n, ast.Assign) else [])
        for value, target in pairs:
            if (isinstance(value, ast.Call) and _name(value.func).endswith("ExcelWriter")
                    and _is_safe_options(_keyword(value, "engine_kwargs")) and isinstance(target, ast.Name)):
                safe_writers.add(target.id)
    for call in calls:
        fn = _name(call.func)
        line = f"{where}:{call.lineno}"
        if fn == "xlsxwriter.Workbook" or fn in from_xlsxwriter and fn == "Workbook":
            opts = call.args[1] if len(call.args) > 1 else _keyword(call, "options")
            if not _is_safe_options(opts):
                problems.append(f"{line}: xlsxwriter.Workbook without SAFE_XLSX_OPTIONS "
                                "(use workbench.reports.files.excel_workbook)")
        elif fn.endswith("ExcelWriter"):
            engine = _keyword(call, "engine")
            if not (isinstance(engine, ast.Constant) and engine.value == "xlsxwriter"
                    and _is_safe_options(_keyword(call, "engine_kwargs"))):
                problems.append(f"{line}: ExcelWriter without engine='xlsxwriter' and "
                                "engine_kwargs={'options': SAFE_XLSX_OPTIONS}")
        elif fn.endswith(".to_excel"):
            target = call.args[0] if call.args else _keyword(call, "excel_writer")
            if not (isinstance(target, ast.Name) and target.id in safe_writers):
                problems.append(f"{line}: to_excel to a path or an unchecked writer turns '=' text into "
                                "formulas (use write_frame inside excel_workbook)")
        elif fn.endswith(".write_url"):
            problems.append(f"{line}: write_url makes a hyperlink; links from customer text are not allowed")
        elif (fn.endswith(".cell") and imports_openpyxl and saves
              and (len(call.args) >= 3 or _keyword(call, "value") is not None)):
            problems.append(f"{line}: an openpyxl cell written directly types text starting with '=' as a formula "
                            "(use workbench.reports.fill.set_cell)")
    if imports_openpyxl and saves:
        for n in ast.walk(tree):
            targets = n.targets if isinstance(n, ast.Assign) else [n.target] if isinstance(n, ast.AugAssign) else []
            if any(isinstance(t, ast.Attribute) and t.attr == "value" for t in targets):
                problems.append(f"{where}:{n.lineno}: an openpyxl cell.value assignment types text starting with "
                                "'=' as a formula (use workbench.reports.fill.set_cell)")
    return problems


def _sources() -> list[tuple[str, str]]:
    """Every module of the package and the code cells of every notebook, as (where, source)."""
    out = [(str(p.relative_to(ROOT)), p.read_text(encoding="utf-8")) for p in sorted(PACKAGE.rglob("*.py"))]
    for nb in sorted(NOTEBOOKS.glob("*.ipynb")):
        cells = json.loads(nb.read_text(encoding="utf-8"))["cells"]
        for k, cell in enumerate(cells, 1):
            if cell["cell_type"] == "code":
                code = "".join(cell["source"])
                code = "\n".join("" if ln.lstrip().startswith(("%", "!")) else ln for ln in code.splitlines())
                out.append((f"{nb.relative_to(ROOT)} cell {k}", code))
    return out


def test_safe_options_turn_off_formulas_and_links():
    assert SAFE_XLSX_OPTIONS["strings_to_formulas"] is False and SAFE_XLSX_OPTIONS["strings_to_urls"] is False


def test_every_xlsx_writer_in_the_package_and_notebooks_is_safe():
    sources = _sources()
    assert len(sources) > 60 and any("notebooks/" in w for w, _ in sources)
    problems = [p for where, src in sources for p in unsafe_writers(src, where)]
    assert problems == [], "\n".join(problems)
    workbook_calls = [w for w, src in sources if "xlsxwriter.Workbook(" in src]
    assert workbook_calls == ["workbench/reports/files.py"], workbook_calls  # one door: excel_workbook


@pytest.mark.parametrize("code, problem", [
    ("import xlsxwriter\nxlsxwriter.Workbook('a.xlsx')", "without SAFE_XLSX_OPTIONS"),
    ("import xlsxwriter\nxlsxwriter.Workbook('a.xlsx', {'strings_to_formulas': False})", "without SAFE"),
    ("from xlsxwriter import Workbook\nWorkbook('a.xlsx', {'nan_inf_to_errors': True})", "without SAFE"),
    ("import xlsxwriter\nxlsxwriter.Workbook('a', {**SAFE_XLSX_OPTIONS, 'strings_to_urls': True})", "without SAFE"),
    ("import pandas as pd\npd.ExcelWriter('a.xlsx')", "ExcelWriter without"),
    ("import pandas as pd\npd.ExcelWriter('a.xlsx', engine='openpyxl', engine_kwargs={'options': SAFE_XLSX_OPTIONS})",
     "ExcelWriter without"),
    ("df.to_excel('a.xlsx')", "to_excel to a path"),
    ("import pandas as pd\nwith pd.ExcelWriter('a.xlsx') as w:\n    df.to_excel(w)", "to_excel to a path"),
    ("ws.write_url(0, 0, name)", "write_url"),
    ("import openpyxl\nwb = openpyxl.load_workbook('a.xlsx')\nwb.active.cell(2, 1, name)\nwb.save('b.xlsx')",
     "cell written directly"),
    ("import openpyxl\nwb = openpyxl.load_workbook('a.xlsx')\nwb.active.cell(row=2, column=1, value=name)\n"
     "wb.save('b.xlsx')", "cell written directly"),
    ("import openpyxl\nwb = openpyxl.load_workbook('a.xlsx')\nwb.active['A1'].value = name\nwb.save('b.xlsx')",
     "cell.value assignment"),
])
def test_the_check_catches_unsafe_writers(code, problem):
    found = unsafe_writers(code, "snippet.py")
    assert any(problem in f for f in found) and all(f.startswith("snippet.py:") for f in found), found


@pytest.mark.parametrize("code", [
    "import xlsxwriter\nxlsxwriter.Workbook(str(tmp), SAFE_XLSX_OPTIONS)",
    "import xlsxwriter\nxlsxwriter.Workbook('a', {'strings_to_formulas': False, 'strings_to_urls': False})",
    "import xlsxwriter\nxlsxwriter.Workbook('a', options={**SAFE_XLSX_OPTIONS, 'constant_memory': True})",
    "import pandas as pd\nwith pd.ExcelWriter('a', engine='xlsxwriter', engine_kwargs={'options': SAFE_XLSX_OPTIONS})"
    " as w:\n    df.to_excel(w, sheet_name='x')",
    "import openpyxl\nwb = openpyxl.load_workbook('a.xlsx', read_only=True)\nrows = list(wb.active.values)",
    "import openpyxl\nwb = openpyxl.load_workbook('a.xlsx')\nset_cell(wb.active, 2, 1, name)\nx = wb.active.cell(2, 1)\n"
    "wb.save('b.xlsx')",
])
def test_the_check_accepts_safe_writers(code):
    assert unsafe_writers(code, "snippet.py") == []
