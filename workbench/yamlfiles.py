"""Reading the workbench's YAML configuration files: by name from a bundled folder or by path, with clear errors.

Every stage keeps its configuration as data (industries, playbooks, ...); this
is the one place that finds such a file and parses it, so a missing file or
broken YAML reads the same everywhere. Validation of the content stays with
each stage.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


def bundled_names(folder: Path) -> list[str]:
    """Names of the YAML files shipped in ``folder`` (without extension)."""
    return sorted(p.stem for p in folder.glob("*.yaml"))


def find_config(name_or_path: str | Path, folder: Path, error: type[Exception], kind: str) -> Path:
    """A bundled config by name (``clinic``) or a YAML file by path; ``error`` names what is wrong."""
    path = Path(name_or_path)
    if path.suffix not in {".yaml", ".yml"}:
        path = folder / f"{name_or_path}.yaml"
        if not path.exists():
            raise error(f"unknown {kind} {str(name_or_path)!r}: choose one of {bundled_names(folder)} "
                        f"or pass a YAML path")
    if not path.exists():
        raise error(f"{path}: file not found")
    return path


def read_yaml(path: Path, error: type[Exception]) -> Any:
    """Parse a YAML file, turning a syntax error into ``error`` naming the file."""
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise error(f"{path}: not valid YAML: {exc}") from exc
