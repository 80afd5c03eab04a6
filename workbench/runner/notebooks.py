"""Execute the workbench's parameterised notebooks with papermill, strictly.

Papermill only warns about unknown parameters and has no cell timeout by
default; a scheduled run needs both to fail fast. :func:`run_notebook` checks
the parameters against the notebook's own ``parameters`` cell, runs it in the
workbench's registered kernel with an execution timeout, and writes the
executed notebook atomically.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from workbench.paths import PROJECT_ROOT
from workbench.reports.files import atomic_path

NOTEBOOKS_DIR = PROJECT_ROOT / "notebooks"
KERNEL_NAME = "winback-workbench"
DEFAULT_TIMEOUT = 600


class NotebookParameterError(ValueError):
    """Parameters passed to a notebook do not match its ``parameters`` cell."""


def kernel_name() -> str:
    """The registered workbench kernel if present, else the default ``python3`` kernel."""
    from jupyter_client.kernelspec import KernelSpecManager

    return KERNEL_NAME if KERNEL_NAME in KernelSpecManager().find_kernel_specs() else "python3"


def notebook_parameters(notebook: str | Path) -> dict[str, Any]:
    """The parameters a notebook declares in its tagged cell (name -> inferred type and default)."""
    import papermill

    return papermill.inspect_notebook(str(notebook))


def check_parameters(notebook: str | Path, parameters: dict[str, Any]) -> None:
    """Refuse parameters the notebook does not declare (papermill itself only warns)."""
    declared = notebook_parameters(notebook)
    if not declared:
        raise NotebookParameterError(f"{notebook}: no cell tagged 'parameters'")
    unknown = sorted(set(parameters) - set(declared))
    if unknown:
        raise NotebookParameterError(
            f"{Path(notebook).name}: unknown parameter(s) {unknown}; it declares {sorted(declared)}")


def run_notebook(notebook: str | Path, output: str | Path, parameters: dict[str, Any] | None = None,
                 *, timeout: int = DEFAULT_TIMEOUT, cwd: str | Path | None = None,
                 progress_bar: bool = False) -> Path:
    """Execute ``notebook`` with ``parameters`` into ``output``; raise papermill's error on a failing cell.

    A relative ``notebook`` is looked up in ``notebooks/``. On failure the partly
    executed notebook is still written to ``output`` for diagnosis.
    """
    import papermill

    nb = Path(notebook)
    if not nb.is_absolute() and not nb.exists():
        nb = NOTEBOOKS_DIR / nb
    params = {k: (str(v) if isinstance(v, Path) else v) for k, v in (parameters or {}).items()}
    check_parameters(nb, params)
    output = Path(output)
    with atomic_path(output.with_suffix(".ipynb")) as tmp:
        try:
            papermill.execute_notebook(
                str(nb), str(tmp), parameters=params, kernel_name=kernel_name(),
                execution_timeout=timeout, progress_bar=progress_bar, log_output=False,
                cwd=str(cwd or nb.parent), language="python")
        except Exception:
            if tmp.exists():
                tmp.replace(output)  # keep the partly executed notebook for diagnosis
            raise
    return output
