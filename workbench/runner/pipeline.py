"""Run a campaign month: the configured notebooks in order, into a folder that appears only when all succeeded.

``run_month`` is what ``workbench run`` calls. The month is built in a hidden
temporary folder beside its target (``outputs/<campaign>/.<YYYY-MM>.partial-<pid>``)
and renamed to ``outputs/<campaign>/<YYYY-MM>/`` only when every step succeeded,
replacing an earlier run of that month whole. A failed run leaves the earlier
month untouched and keeps its partial folder, with the partly executed
notebook, as ``<YYYY-MM>.failed/``; the message names the step, notebook, cell
and error. Two runs of the same campaign month never overlap (a lock file).

With ``stores`` the group steps run once on the group store, then one pipeline
per store runs in parallel (``workbench.runner.stores``); a store's failure
does not stop the others.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import os
import shutil
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from workbench.data.store import StoreBusyError
from workbench.errors import StoreBusy
from workbench.reports.files import export_html, write_error_message
from workbench.runner.conditions import ConditionContext, describe, evaluate
from workbench.runner.config import Step, load_config
from workbench.runner.manifest import (file_entry, files_under, now, package_versions, platform_info, sha256,
                                       shown_path, write_manifest)
from workbench.runner.plan import Plan, describe_plan, make_plan, resolve_hook

Log = Callable[[str], None]


class RunLockedError(StoreBusy):
    """Another run of the same campaign month is in progress."""


@dataclass
class StepRecord:
    """What happened to one step (the manifest's ``steps`` entries)."""

    name: str
    kind: str
    scope: str
    notebook: str | None = None
    notebook_sha256: str | None = None
    hook: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    when: str = "always"
    condition: str = ""
    status: str = "not run"          # succeeded / failed / skipped / not run
    started_at: str | None = None
    ended_at: str | None = None
    seconds: float | None = None
    cell_seconds: float | None = None  # time in the notebook's cells (the rest is kernel start-up and overhead)
    outputs: list[dict[str, Any]] = field(default_factory=list)
    error: dict[str, Any] | None = None  # type and cell only: the message stays in the log and the notebook

    def manifest(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class PipelineResult:
    status: str                      # succeeded / failed
    steps: list[StepRecord]
    message: str = ""                # the failure, for people: step, notebook, cell, error
    started_at: str = ""
    ended_at: str = ""
    seconds: float = 0.0


@dataclass
class RunOutcome:
    """The result of ``run_month``: status succeeded / partial / failed / planned."""

    status: str
    plan: Plan
    month_dir: Path
    failed_dir: Path | None = None
    message: str = ""
    manifest: dict[str, Any] = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        return 0 if self.status in ("succeeded", "planned") else 1


class RunLog:
    """A concise log file (one timestamped line per event) that also echoes to the terminal."""

    def __init__(self, path: Path, echo: Log | None = None):
        self.path = path
        self.echo = echo

    def __call__(self, message: str) -> None:
        stamp = dt.datetime.now().strftime("%Y-%m-%d %H:%M:%S")
        with open(self.path, "a", encoding="utf-8") as fh:
            for line in str(message).splitlines() or [""]:
                fh.write(f"{stamp} {line}\n")
        if self.echo:
            self.echo(message)

    def file_only(self, message: str) -> None:
        """Write to the log file without echoing (for text the caller prints itself)."""
        echo, self.echo = self.echo, None
        try:
            self(message)
        finally:
            self.echo = echo


def _relative_to_run(value: Any, run_dir: Path) -> Any:
    """Paths inside the run folder as relative paths (notebooks run with the run folder as working
    directory), so executed notebooks and the manifest stay valid after the folder is moved."""
    if isinstance(value, str) and value.startswith(str(run_dir)):
        rel = os.path.relpath(value, run_dir)
        return rel if not rel.startswith("..") else value
    if isinstance(value, dict):
        return {k: _relative_to_run(v, run_dir) for k, v in value.items()}
    if isinstance(value, list):
        return [_relative_to_run(v, run_dir) for v in value]
    return value


def _shown_parameters(value: Any) -> Any:
    if isinstance(value, str) and os.path.isabs(value):
        return shown_path(value)
    if isinstance(value, dict):
        return {k: _shown_parameters(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_shown_parameters(v) for v in value]
    return value


def _source_cell(notebook: Path, source: str, fallback: int) -> int:
    """1-based number of the cell with ``source`` in the notebook as shipped (papermill counts cells of the
    executed copy, which has the injected-parameters cell and, after a failure, an error banner)."""
    import nbformat

    try:
        cells = nbformat.read(str(notebook), as_version=4).cells
        return next(i for i, c in enumerate(cells, 1) if c.cell_type == "code" and c.source == source)
    except (StopIteration, OSError, ValueError):
        return fallback


def notebook_failure(step: str, notebook: Path, executed: Path, exc: BaseException) -> tuple[str, dict]:
    """The message naming step, notebook, cell and error, and the manifest's error record."""
    from papermill.exceptions import PapermillExecutionError

    if isinstance(exc, PapermillExecutionError):
        cell = _source_cell(notebook, exc.source, exc.cell_index + 1)
        first = next((ln for ln in str(exc.source or "").splitlines() if ln.strip()), "")
        msg = (f"step {step}: notebook {notebook.name} failed in cell {cell} of {notebook.name} "
               f"(In [{exc.exec_count}] in the executed notebook, starting {first.strip()[:80]!r}): "
               f"{exc.ename}: {exc.evalue}")
        storage = write_error_message(f"{exc.ename}: {exc.evalue}")
        if storage:
            msg += f"\n  {storage}"
        return msg, {"type": exc.ename, "cell": cell, "execution_count": exc.exec_count}
    cell = getattr(exc, "cell_index", None)
    name = type(exc).__name__
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else name
    where = f" in cell {cell + 1} of the executed notebook" if isinstance(cell, int) else ""
    msg = f"step {step}: notebook {notebook.name} failed{where}: {name}: {text}"
    storage = write_error_message(exc)
    if storage:
        msg += f"\n  {storage}"
    return msg, {"type": name, "cell": cell + 1 if isinstance(cell, int) else None}


def run_steps(plan: Plan, steps: list[Step], run_dir: Path, db: Path, *, store: str | None = None,
              group_run_dir: Path | None = None, log: Log = print, progress: bool = False) -> PipelineResult:
    """Run ``steps`` in order into ``run_dir`` on store ``db``; stop at the first failure."""
    from tqdm.auto import tqdm

    from workbench.runner.notebooks import cell_seconds, run_notebook

    started, t0 = now(), time.perf_counter()
    drop = plan.drop_folder_for(group_run_dir or run_dir)
    records = [StepRecord(name=s.name, kind=s.kind, scope=s.scope, when=describe(s.when)) for s in steps]
    failure = ""
    bar = tqdm(total=len(steps), desc=f"{plan.config.campaign} {plan.month}" + (f" {store}" if store else ""),
               unit="step", disable=not progress, file=sys.stderr)
    try:
        for step, rec in zip(steps, records):
            bar.set_postfix_str(step.name)
            ps = plan.planned(step, run_dir, db, store=store, group_run_dir=group_run_dir)
            params = _relative_to_run(ps.parameters, run_dir) if step.notebook else ps.parameters
            rec.parameters = _shown_parameters(_relative_to_run(params, run_dir))
            rec.notebook = shown_path(ps.notebook) if ps.notebook else None
            rec.notebook_sha256 = sha256(ps.notebook) if ps.notebook else None
            rec.hook = step.hook
            held, why = evaluate(step.when, ConditionContext(db=db, month_start=plan.month_start,
                                                             month_end=plan.month_end, drop_folder=drop))
            rec.condition = why
            if not held:
                rec.status = "skipped"
                log(f"{step.name}: skipped ({describe(step.when)} does not hold: {why})")
                bar.update()
                continue
            rec.started_at, s0 = now(), time.perf_counter()
            log(f"{step.name}: started ({ps.notebook.name if ps.notebook else step.hook})")
            folder = run_dir / ps.folder
            try:
                if step.notebook:
                    executed = folder / f"{step.name}.ipynb"
                    folder.mkdir(parents=True, exist_ok=True)
                    wait_for_store(db, log)
                    try:
                        run_notebook(ps.notebook, executed, params, timeout=ps.timeout, cwd=run_dir,
                                     progress_bar=progress)
                    except Exception as exc:
                        failure, rec.error = notebook_failure(step.name, ps.notebook, executed, exc)
                        if executed.exists():
                            failure += f"\n  partly executed notebook: {executed}"
                        raise
                    rec.cell_seconds = round(cell_seconds(executed), 3)
                    export_html(executed, folder / f"{step.name}.html")
                    rec.outputs = [file_entry(p, run_dir) for p in sorted(folder.rglob("*")) if p.is_file()]
                else:
                    fn = resolve_hook(step.hook)
                    fn(Path(db).parent, plan.config.business, log, **params)
            except Exception as exc:
                rec.status = "failed"
                if not failure:
                    failure = f"step {step.name}: {step.hook or step.notebook} failed: {type(exc).__name__}: {exc}"
                    rec.error = {"type": type(exc).__name__, "cell": None}
                    storage = write_error_message(exc)
                    if storage:
                        failure += f"\n  {storage}"
                    elif not isinstance(exc, StoreBusyError):  # the message says it all for those two
                        log("".join(traceback.format_exception(exc)).rstrip())
                break
            finally:
                rec.ended_at = now()
                rec.seconds = round(time.perf_counter() - s0, 3)
            rec.status = "succeeded"
            log(f"{step.name}: done in {rec.seconds:.1f} s")
            bar.update()
    finally:
        bar.close()
    if failure:
        getattr(log, "file_only", log)(f"FAILED {failure}")
    return PipelineResult(status="failed" if failure else "succeeded", steps=records, message=failure,
                          started_at=started, ended_at=now(), seconds=round(time.perf_counter() - t0, 3))


def wait_for_store(db: Path, log: Log) -> None:
    """Before a notebook step: if another process (a notebook open in JupyterLab) holds the store, say so in the
    run's log and wait for it (``$WORKBENCH_LOCK_WAIT``), so the run does not sit silently in a kernel that
    waits; raise :class:`StoreBusyError` when the wait runs out."""
    from workbench.data.store import connect

    if Path(db).exists():
        with connect(db, read_only=True, say=log):
            pass


@contextlib.contextmanager
def month_lock(plan: Plan) -> Iterator[None]:
    """Hold ``outputs/<campaign>/.<YYYY-MM>.lock`` so two runs of one campaign month never overlap."""
    plan.campaign_dir.mkdir(parents=True, exist_ok=True)
    path = plan.campaign_dir / f".{plan.month}.lock"
    with open(path, "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RunLockedError(f"another run of {plan.config.campaign} {plan.month} is in progress "
                                 f"(lock {path})") from None
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one step (Linux ``renameat2(RENAME_EXCHANGE)``); False where that is not available."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        at_fdcwd, rename_exchange = -100, 2
        return libc.renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0
    except (OSError, AttributeError):
        return False


def replace_dir(new: Path, target: Path) -> None:
    """Move ``new`` onto ``target``, replacing it whole. On Linux the two are swapped in one step, so a process
    killed at any moment leaves either the old or the new folder at ``target`` (the other one, left at ``new``,
    is a temporary folder the next run removes); elsewhere the old one is renamed aside first."""
    if target.exists() and _exchange(new, target):
        shutil.rmtree(new, ignore_errors=True)  # the old folder, now under the temporary name a next run clears
        return
    old = target.with_name(f".{target.name}.old-{os.getpid()}")
    if old.exists():
        shutil.rmtree(old)
    if target.exists():
        target.rename(old)
    new.rename(target)
    if old.exists():
        shutil.rmtree(old)


def base_manifest(plan: Plan, run_dir: Path, db: Path) -> dict[str, Any]:
    from workbench.runner.notebooks import kernel_name

    cfg = plan.config
    return {
        "campaign": cfg.campaign, "business": cfg.business, "month": plan.month,
        "as_of": plan.as_of, "config": {"file": cfg.source, "resolved": cfg.raw},
        "overrides": plan.overrides, "db": shown_path(db, run_dir),
        "drop_folder": shown_path(plan.drop_folder_for(run_dir), run_dir) if cfg.drop_folder else None,
        "packages": package_versions(), "platform": platform_info(), "kernel": kernel_name(),
    }


def input_files(plan: Plan, run_dir: Path) -> list[dict[str, Any]]:
    """Checksums of the run's inputs: the config file and the drop folder's files."""
    from workbench.runner.config import resolve_config_path

    entries = []
    try:
        entries.append({"role": "config", **file_entry(resolve_config_path(plan.config.source))})
    except FileNotFoundError:
        pass
    drop = plan.drop_folder_for(run_dir)
    if drop and drop.is_dir():
        entries += [{"role": "drop_folder", **file_entry(p, run_dir if drop.is_relative_to(run_dir) else None)}
                    for p in sorted(drop.rglob("*")) if p.is_file()]
    return entries


def _finish_log(plan: Plan, outcome: RunOutcome, seconds: float) -> None:
    """One line per run in ``runs.log``; best effort: a full disk here must not turn a finished month into an
    error (the month folder is already in place)."""
    line = f"{now()} {plan.month} {outcome.status} {seconds:.1f}s"
    if outcome.message:
        line += " " + outcome.message.splitlines()[0]
    with contextlib.suppress(OSError), open(plan.campaign_dir / "runs.log", "a", encoding="utf-8") as fh:
        fh.write(line + "\n")


def run_month(config: str | Path, month: str | None = None, *, settings: dict[str, Any] | None = None,
              params: dict[str, Any] | None = None, outputs_root: str | Path | None = None,
              stores: list[str] | None = None, scheduler: str | None = None, workers: int | None = None,
              dry_run: bool = False, log: Log = print, progress: bool | None = None) -> RunOutcome:
    """Run (or with ``dry_run`` only plan) one campaign month. ``stores``: None runs one pipeline on the
    configured store; ``[]`` runs every store in ``customers.store``; a list runs those stores."""
    cfg = load_config(config, settings, params)
    overrides = {"settings": settings or {}, "params": params or {}}
    plan = make_plan(cfg, month, outputs_root=outputs_root, stores=stores, overrides=overrides)
    if dry_run:
        log(describe_plan(plan))
        return RunOutcome("planned", plan, plan.month_dir)
    if progress is None:
        progress = sys.stderr.isatty()
    t0 = time.perf_counter()
    with month_lock(plan):
        for stale in plan.campaign_dir.glob(f".{plan.month}.partial-*"):
            shutil.rmtree(stale, ignore_errors=True)  # left by a killed run (we hold the lock)
        tmp = plan.campaign_dir / f".{plan.month}.partial-{os.getpid()}"
        tmp.mkdir(parents=True)
        runlog = RunLog(tmp / "run.log", echo=log)
        runlog(f"run {cfg.campaign} {plan.month} (as of {plan.as_of}) from {cfg.source}")
        try:
            if plan.stores is None:
                outcome = _run_single(plan, tmp, runlog, progress)
            else:
                from workbench.runner.stores import run_group

                outcome = run_group(plan, tmp, runlog, progress, scheduler=scheduler, workers=workers)
        except BaseException as exc:
            # Keep the partial folder for diagnosis; when even that fails (a full disk), the next run removes it.
            with contextlib.suppress(OSError):
                runlog.file_only(f"FAILED: {type(exc).__name__}: {exc}")
            with contextlib.suppress(OSError):
                _keep_failed(tmp, plan)
            raise
        _finish_log(plan, outcome, time.perf_counter() - t0)
    if outcome.status == "succeeded":
        log(f"{cfg.campaign} {plan.month}: all steps succeeded -> {plan.month_dir}")
    elif outcome.message:
        log(outcome.message)
    return outcome


def _keep_failed(tmp: Path, plan: Plan) -> Path:
    """Keep a failed run's folder as ``<month>.failed`` (replacing an older failure) for diagnosis."""
    if tmp.exists():
        replace_dir(tmp, plan.failed_dir)
    return plan.failed_dir


def _run_single(plan: Plan, tmp: Path, runlog: RunLog, progress: bool) -> RunOutcome:
    db = plan.db_for(tmp, None)
    manifest = base_manifest(plan, tmp, db) | {"started_at": now(), "mode": "single"}
    result = run_steps(plan, plan.config.steps, tmp, db, log=runlog, progress=progress)
    manifest |= {"ended_at": result.ended_at, "seconds": result.seconds, "status": result.status,
                 "inputs": input_files(plan, tmp), "steps": [r.manifest() for r in result.steps]}
    if result.status != "succeeded":
        write_manifest(tmp, manifest)
        failed = _keep_failed(tmp, plan)
        message = result.message.replace(str(tmp), str(failed))
        message += f"\n  {plan.month_dir} was left as it was; the failed run is kept in {failed}"
        return RunOutcome("failed", plan, plan.month_dir, failed, message, manifest)
    manifest["outputs"] = files_under(tmp, exclude=("run.json", "run.log"))
    write_manifest(tmp, manifest)
    replace_dir(tmp, plan.month_dir)
    if plan.failed_dir.exists():
        shutil.rmtree(plan.failed_dir)
    return RunOutcome("succeeded", plan, plan.month_dir, None, "", manifest)
