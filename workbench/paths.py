"""Where the workbench reads and writes by default, and guards on output paths."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
ENV_DB = "WORKBENCH_DB"
ENV_OUTPUTS = "WORKBENCH_OUTPUTS"


def outputs_dir() -> Path:
    """The outputs folder: ``$WORKBENCH_OUTPUTS`` or ``outputs/`` at the project root."""
    return Path(os.environ.get(ENV_OUTPUTS) or PROJECT_ROOT / "outputs")


def default_db_path() -> Path:
    """The database used when no ``--db`` is given: ``$WORKBENCH_DB``, then ``outputs/workbench.duckdb``."""
    env = os.environ.get(ENV_DB)
    return Path(env) if env else outputs_dir() / "workbench.duckdb"


def inside(base: Path, *parts: str) -> Path:
    """Join ``parts`` under ``base`` and refuse any result that escapes ``base`` (``..``, absolute parts)."""
    base = base.resolve()
    target = base.joinpath(*parts).resolve()
    if target != base and base not in target.parents:
        raise ValueError(f"path {'/'.join(parts)!r} would leave {base}")
    return target
