"""Static check: every file the package writes goes through ``atomic_path`` (or ``excel_workbook``, built on it).

A write straight to its target leaves a cut file when the process is killed or
the disk fills up; through ``atomic_path`` the previous file stays whole. The
check reads the package's source: a write call (``to_csv``, ``to_excel``,
``write_text``, ``write_bytes``, ``savefig``, ``xlsxwriter.Workbook``, ``open``
for writing) must aim at the name bound by ``with atomic_path(...) as NAME``.
Appending to a log is allowed (a cut last line loses nothing).
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

from workbench.paths import PROJECT_ROOT

WRITE_METHODS = {"to_csv", "to_excel", "to_parquet", "to_json", "savefig", "write_text", "write_bytes"}
#: Writes allowed outside atomic_path, and why.
ALLOWED = {
    ("workbench/data/readers.py", "_transcode"): "a UTF-8 copy of an input, in a private temporary folder",
}


def _mode(call: ast.Call) -> str:
    mode = call.args[1] if len(call.args) > 1 else next((k.value for k in call.keywords if k.arg == "mode"), None)
    return mode.value if isinstance(mode, ast.Constant) and isinstance(mode.value, str) else "r"


def _target(call: ast.Call) -> ast.AST | None:
    """The path a call writes to, or None when it writes nothing."""
    func = call.func
    if isinstance(func, ast.Attribute) and func.attr in ("write_text", "write_bytes"):
        return func.value
    if isinstance(func, ast.Attribute) and func.attr in WRITE_METHODS:
        return call.args[0] if call.args else next((k.value for k in call.keywords
                                                    if k.arg in ("path_or_buf", "excel_writer", "fname", "path")),
                                                   None)
    if isinstance(func, ast.Attribute) and func.attr == "Workbook" and isinstance(func.value, ast.Name) \
            and func.value.id == "xlsxwriter":
        return call.args[0] if call.args else None
    if isinstance(func, ast.Name) and func.id == "open" and call.args:
        mode = _mode(call)
        if "w" in mode or "x" in mode or ("+" in mode and "a" not in mode):  # appending to a log is fine
            return call.args[0]
    return None


def _atomic_names(fn: ast.AST) -> set[str]:
    names = set()
    for node in ast.walk(fn):
        if isinstance(node, (ast.With, ast.AsyncWith)):
            for item in node.items:
                call = item.context_expr
                if isinstance(call, ast.Call) and getattr(call.func, "id", getattr(call.func, "attr", "")) \
                        == "atomic_path" and isinstance(item.optional_vars, ast.Name):
                    names.add(item.optional_vars.id)
    return names


def unsafe_writes(source: str, module: str) -> list[str]:
    """Write calls in ``source`` that do not aim at an ``atomic_path`` temporary name."""
    found = []
    tree = ast.parse(source)
    functions = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    for fn in functions:
        safe = _atomic_names(fn)
        for node in ast.walk(fn):
            if not isinstance(node, ast.Call):
                continue
            target = _target(node)
            if target is None:
                continue
            if isinstance(target, ast.Call) and getattr(target.func, "id", "") == "str" and target.args:
                target = target.args[0]
            if isinstance(target, ast.Name) and target.id in safe:
                continue
            if (module, fn.name) in ALLOWED:
                continue
            found.append(f"{fn.name}, line {node.lineno}: {ast.unparse(node)[:90]}")
    return sorted(set(found))


def test_the_check_can_fail():
    bad = "def f(df, p):\n    df.to_csv(p)\n"
    good = "def f(df, p):\n    with atomic_path(p) as tmp:\n        df.to_csv(tmp, index=False)\n"
    log = "def f(p):\n    with open(p, 'a') as fh:\n        fh.write('x')\n"
    assert unsafe_writes(bad, "m") and not unsafe_writes(good, "m") and not unsafe_writes(log, "m")
    assert unsafe_writes("def f(p):\n    open(p, 'w').write('x')\n", "m")
    assert unsafe_writes("import xlsxwriter\ndef f(p):\n    xlsxwriter.Workbook(str(p))\n", "m")


def test_every_writer_in_the_package_goes_through_atomic_path():
    offenders = {}
    for path in sorted((PROJECT_ROOT / "workbench").rglob("*.py")):
        module = str(path.relative_to(PROJECT_ROOT))
        found = unsafe_writes(path.read_text(encoding="utf-8"), module)
        if found:
            offenders[module] = found
    assert offenders == {}, ("write these through workbench.reports.files.atomic_path (or excel_workbook): "
                             + json.dumps(offenders, ensure_ascii=False, indent=1))
    assert Path(PROJECT_ROOT / "workbench" / "reports" / "files.py").exists()


def test_every_writer_in_the_notebooks_goes_through_atomic_path():
    """Notebooks run by hand write into outputs/ directly (a pipeline run writes into a temporary folder): their
    charts and files must not be left cut by a killed kernel either."""
    offenders = {}
    for path in sorted((PROJECT_ROOT / "notebooks").glob("*.ipynb")):
        cells = [c for c in json.loads(path.read_text(encoding="utf-8"))["cells"] if c["cell_type"] == "code"]
        code = "\n".join("".join(c["source"]) for c in cells)
        body = "def _notebook():\n" + "".join(f"    {line}\n" for line in code.splitlines()) + "    pass\n"
        found = unsafe_writes(body, str(path.relative_to(PROJECT_ROOT)))
        if found:
            offenders[path.name] = found
    assert offenders == {}, ("use workbench.reports.files.save_figure / atomic_path: "
                             + json.dumps(offenders, ensure_ascii=False, indent=1))
