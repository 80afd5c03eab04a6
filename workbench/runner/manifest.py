"""The ``run.json`` manifest: what ran, with what, on which inputs, and how it went.

It records parameters, package versions, input file checksums, start and end
times and each step's status, so a month's results can be traced and
reproduced. It holds no personal data: no host or user names, paths inside the
project are relative, the home folder is written ``~``, and a failing step's
record keeps the error type and cell only (its message, which may quote a
customer's data, goes to the log and the kept notebook).
"""

from __future__ import annotations

import datetime as dt
import json
import platform
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from workbench.paths import PROJECT_ROOT
from workbench.reports.files import atomic_path, file_sha256 as sha256  # noqa: F401 - sha256 re-exported

MANIFEST = "run.json"
PACKAGES = ("winback-workbench", "pandas", "numpy", "scipy", "statsmodels", "pingouin", "duckdb", "papermill",
            "nbclient", "nbconvert", "nbformat", "ipykernel", "jupyter_client", "xlsxwriter", "openpyxl",
            "matplotlib", "pyyaml", "pyxform", "lifetimes", "ipywidgets", "tqdm", "dask", "distributed")


def package_versions() -> dict[str, str | None]:
    """Installed versions of the packages results depend on (None: not installed)."""
    out: dict[str, str | None] = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def shown_path(path: str | Path, base: Path | None = None) -> str:
    """A path for the manifest: relative to ``base`` or the project when inside, ``~`` for the home folder."""
    p = Path(path)
    for root in (base, PROJECT_ROOT):
        if root is not None:
            try:
                return str(p.resolve().relative_to(Path(root).resolve()))
            except ValueError:
                pass
    home = Path.home()
    try:
        return str(Path("~") / p.resolve().relative_to(home))
    except ValueError:
        return str(p)


def file_entry(path: Path, base: Path | None = None) -> dict[str, Any]:
    return {"path": shown_path(path, base), "bytes": path.stat().st_size, "sha256": sha256(path)}


def files_under(folder: Path, exclude: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """Checksums of every file under ``folder`` (paths relative to it), except the names in ``exclude``."""
    return [file_entry(p, folder) for p in sorted(folder.rglob("*"))
            if p.is_file() and p.name not in exclude and not p.name.endswith(".wal")]


def now() -> str:
    return dt.datetime.now().astimezone().isoformat(timespec="seconds")


def platform_info() -> dict[str, str]:
    return {"system": platform.system(), "machine": platform.machine(), "python": sys.version.split()[0]}


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, Path):
        return shown_path(value)
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def write_manifest(folder: Path, manifest: dict[str, Any]) -> Path:
    """Write ``folder/run.json`` atomically (UTF-8, readable)."""
    target = folder / MANIFEST
    with atomic_path(target) as tmp:
        tmp.write_text(json.dumps(_plain(manifest), ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return target


def read_manifest(folder: str | Path) -> dict[str, Any]:
    return json.loads((Path(folder) / MANIFEST).read_text(encoding="utf-8"))
