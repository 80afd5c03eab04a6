"""Execute the workbench's parameterised notebooks with papermill, strictly.

Papermill only warns about unknown parameters and has no cell timeout by
default; a scheduled run needs both to fail fast. :func:`run_notebook` checks
the parameters against the notebook's own ``parameters`` cell, runs it in the
workbench's registered kernel with an execution timeout, and writes the
executed notebook atomically. The kernel dies with the process that started it
(:mod:`workbench.runner.kernels`), so a run killed with SIGKILL leaves no kernel
behind.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from workbench.errors import InputError
from workbench.paths import PROJECT_ROOT
from workbench.reports.files import atomic_path

NOTEBOOKS_DIR = PROJECT_ROOT / "notebooks"
KERNEL_NAME = "winback-workbench"
DEFAULT_TIMEOUT = 600


class NotebookParameterError(InputError):
    """Parameters passed to a notebook do not match its ``parameters`` cell."""


def kernel_name() -> str:
    """The registered workbench kernel if present, else the default ``python3`` kernel."""
    from jupyter_client.kernelspec import KernelSpecManager

    return KERNEL_NAME if KERNEL_NAME in KernelSpecManager().find_kernel_specs() else "python3"


def notebook_parameters(notebook: str | Path) -> dict[str, Any]:
    """The parameters a notebook declares in its tagged cell (name -> inferred type and default)."""
    import papermill

    return papermill.inspect_notebook(str(notebook))


def is_required(spec: dict[str, Any]) -> bool:
    """A parameter is required when its inline comment starts with ``required`` (``x = None  # required: ...``)."""
    return str(spec.get("help") or "").strip().lower().startswith("required")


def default_value(spec: dict[str, Any]) -> Any:
    """The declared default as a Python value, or ``...`` when it is not a plain literal."""
    import ast

    try:
        return ast.literal_eval(str(spec.get("default")))
    except (ValueError, SyntaxError):
        return ...


def _type_ok(value: Any, default: Any) -> bool:
    if value is None or default is None or default is ...:
        return True
    if isinstance(default, bool):
        return isinstance(value, bool)
    if isinstance(default, int):
        return isinstance(value, int) and not isinstance(value, bool)
    if isinstance(default, float):
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if isinstance(default, (list, tuple)):
        return isinstance(value, (list, tuple))
    return isinstance(value, type(default))


def parameter_problems(notebook: str | Path, parameters: dict[str, Any], *, check_types: bool = True,
                       supplied_later: set[str] | frozenset[str] = frozenset()) -> list[str]:
    """Everything wrong with ``parameters`` for ``notebook``: unknown names, required ones missing, and
    (``check_types``) values whose type differs from the declared default's (an int passes for a float;
    None always passes, it means "the notebook's default")."""
    declared = notebook_parameters(notebook)
    if not declared:
        return [f"{Path(notebook).name}: no cell tagged 'parameters'"]
    problems = []
    unknown = sorted(set(parameters) - set(declared))
    if unknown:
        problems.append(f"unknown parameter(s) {unknown}; {Path(notebook).name} declares {sorted(declared)}")
    missing = sorted(n for n, spec in declared.items()
                     if is_required(spec) and parameters.get(n) is None and n not in supplied_later)
    if missing:
        problems.append(f"missing required parameter(s) {missing} of {Path(notebook).name}")
    if check_types:
        for name, value in parameters.items():
            if name in declared:
                default = default_value(declared[name])
                if not _type_ok(value, default):
                    problems.append(f"parameter {name!r} = {value!r} is a {type(value).__name__}, but "
                                    f"{Path(notebook).name} declares {name} = {declared[name]['default']} "
                                    f"({type(default).__name__})")
    return problems


def check_parameters(notebook: str | Path, parameters: dict[str, Any]) -> None:
    """Refuse parameters the notebook does not declare (papermill itself only warns) and required ones
    left out."""
    problems = parameter_problems(notebook, parameters, check_types=False)
    if problems:
        raise NotebookParameterError(f"{Path(notebook).name}: " + "; ".join(problems))


def run_notebook(notebook: str | Path, output: str | Path, parameters: dict[str, Any] | None = None,
                 *, timeout: int = DEFAULT_TIMEOUT, cwd: str | Path | None = None,
                 progress_bar: bool = False) -> Path:
    """Execute ``notebook`` with ``parameters`` into ``output``; raise papermill's error on a failing cell.

    A relative ``notebook`` is looked up in ``notebooks/``. On failure the partly
    executed notebook is still written to ``output`` for diagnosis.
    """
    import papermill

    from workbench.runner.kernels import LifelineKernelManager

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
                cwd=str(cwd or nb.parent), language="python", kernel_manager_class=LifelineKernelManager)
        except Exception:
            if tmp.exists():
                tmp.replace(output)  # keep the partly executed notebook for diagnosis
            raise
    return output


def cell_seconds(notebook: str | Path) -> float:
    """Time spent executing the cells of an executed notebook (papermill's per-cell durations): the
    library calls and notebook code, without kernel start-up and papermill's own work."""
    import nbformat

    nb = nbformat.read(str(notebook), as_version=4)
    return float(sum((c.metadata.get("papermill") or {}).get("duration") or 0.0 for c in nb.cells))
