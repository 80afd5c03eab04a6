"""Run the evaluation notebook and export it: executed notebook, HTML without code, Excel workbook, charts.

:func:`run_evaluation_report` runs ``notebooks/evaluation.ipynb`` through
papermill (``workbench.runner.notebooks.run_notebook``); the notebook writes
the workbook and chart images into ``output_dir``; the executed notebook is
then exported to HTML without the code cells (nbconvert ``HTMLExporter`` with
``exclude_input=True``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from workbench.reports.files import export_html

NOTEBOOK = "evaluation.ipynb"


def run_evaluation_report(db: str | Path, output_dir: str | Path, *, campaign: str = "", round_id: str = "",
                          months: int = 3, alpha: float = 0.05, correction: str = "holm", as_of: Any = "",
                          timeout: int = 900) -> dict[str, Path]:
    """Execute the evaluation notebook for a round and export it; returns the written files by kind."""
    from workbench.runner.notebooks import run_notebook

    out = Path(output_dir).resolve()
    out.mkdir(parents=True, exist_ok=True)
    db = Path(db).resolve()  # the notebook runs in another folder: a relative store path would not be found there
    executed = run_notebook(NOTEBOOK, out / "evaluation.ipynb",
                            {"db": str(db), "campaign": campaign or "", "round": round_id or "", "months": int(months),
                             "alpha": float(alpha), "correction": correction, "output_dir": str(out),
                             "as_of": str(as_of or "")}, timeout=timeout)
    html = export_html(executed, out / "evaluation.html")
    return {"notebook": executed, "html": html, "excel": out / "evaluation.xlsx"}
