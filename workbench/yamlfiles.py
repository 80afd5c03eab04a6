"""Reading the workbench's YAML configuration files: by name from a bundled folder or by path, with clear errors.

Every stage keeps its configuration as data (industries, playbooks, ...); this
is the one place that finds such a file and parses it, so a missing file, a
file saved in another encoding than UTF-8 or broken YAML reads the same
everywhere. Validation of the content stays with each stage.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from workbench.configcheck import shown
from workbench.errors import ConfigError

#: libyaml's parser when PyYAML was built with it (about 8x faster on a playbook), else the pure-Python one.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class YamlFileError(ConfigError):
    """A config file could not be read as YAML; ``why`` says why, the message names the file."""

    def __init__(self, path: Path | str, why: str):
        self.path = str(path)
        self.why = why
        super().__init__(f"{path}: {why}")


def bundled_names(folder: Path) -> list[str]:
    """Names of the YAML files shipped in ``folder`` (without extension)."""
    return sorted(p.stem for p in folder.glob("*.yaml"))


def find_config(name_or_path: str | Path, folder: Path, error: type[Exception], kind: str) -> Path:
    """A bundled config by name (``clinic``) or a YAML file by path; ``error`` names what is wrong."""
    if not isinstance(name_or_path, (str, Path)) or not str(name_or_path).strip():
        raise error(f"expected the name of the {kind} or a YAML path, got {shown(name_or_path)}")
    path = Path(name_or_path)
    if path.suffix not in {".yaml", ".yml"}:
        path = folder / f"{name_or_path}.yaml"
        if not _is_file(path):
            raise error(f"unknown {kind} {shown(str(name_or_path))}: choose one of {bundled_names(folder)} "
                        f"or pass a YAML path")
    if not _is_file(path):
        raise error(f"{path}: file not found")
    return path


def _is_file(path: Path) -> bool:
    """``path.is_file()``, False too for a name the file system refuses (too long, a NUL byte)."""
    try:
        return path.is_file()
    except (OSError, ValueError):
        return False


def _not_utf8(data: bytes, exc: UnicodeDecodeError) -> str:
    """Why the bytes are refused, with the likely encoding when it is a common one."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        guess = "it looks like UTF-16"
    else:
        try:
            data.decode("gb18030")
            guess = "it looks like GB18030/GBK, as Windows saves Chinese text"
        except UnicodeDecodeError:
            guess = "unknown encoding"
    return (f"not UTF-8 text (byte {exc.start}: {data[exc.start:exc.start + 4]!r}; {guess}): "
            f"save the file as UTF-8")


def parse_yaml_file(path: Path | str) -> Any:
    """Parse a UTF-8 YAML file (a byte-order mark is allowed); raise :class:`YamlFileError` naming it."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise YamlFileError(path, f"cannot read the file: {exc.strerror or exc}") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise YamlFileError(path, _not_utf8(data, exc)) from None
    try:
        return yaml.load(text, Loader=_LOADER)
    except yaml.YAMLError as exc:
        raise YamlFileError(path, f"not valid YAML: {exc}") from exc
    except ValueError as exc:  # a date-like value that is no date (2026-13-45)
        raise YamlFileError(path, f"not valid YAML: {exc}") from exc
    except RecursionError:
        raise YamlFileError(path, "not valid YAML: nested too deeply") from None


def read_yaml(path: Path | str, error: type[Exception]) -> Any:
    """Parse a YAML file, turning any reading problem into ``error`` naming the file."""
    try:
        return parse_yaml_file(path)
    except YamlFileError as exc:
        raise error(str(exc)) from exc


def read_config(name_or_path: str | Path, folder: Path, error: type[Exception], kind: str) -> tuple[Any, str]:
    """A bundled config by name or a YAML file by path: its parsed document and the file it came from."""
    path = find_config(name_or_path, folder, error, kind)
    return read_yaml(path, error), str(path)
