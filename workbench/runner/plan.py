"""From a pipeline config and a month to a checked plan: every path, notebook and parameter resolved.

Everything that can be checked before a notebook runs is checked here, so a
scheduled run fails in a second instead of an hour in: the campaign and store
names cannot leave ``outputs/``, every notebook exists and declares every
parameter it is given (``papermill.inspect_notebook``), required parameters
are present, values have the type of the declared default, every hook can be
imported and accepts its parameters.
"""

from __future__ import annotations

import calendar
import datetime as dt
import importlib
import inspect
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.errors import ConfigError
from workbench.paths import PROJECT_ROOT, inside, outputs_dir
from workbench.runner.config import NAME_RE, PipelineConfig, Step, placeholders
from workbench.runner.notebooks import NOTEBOOKS_DIR, notebook_parameters, parameter_problems

#: Parameters the runner fills in when a notebook declares them and the config leaves them out.
AUTO_PARAMETERS = ("db", "output_dir", "as_of")


class PlanError(ConfigError):
    """The plan cannot run; the message lists every problem."""

    def __init__(self, source: str, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(f"{source}: {p}" for p in problems))


def previous_month(today: dt.date | None = None) -> str:
    """``YYYY-MM`` of the calendar month before ``today`` (default: today)."""
    today = today or dt.date.today()
    last = today.replace(day=1) - dt.timedelta(days=1)
    return f"{last:%Y-%m}"


def month_bounds(month: str) -> tuple[dt.date, dt.date]:
    """First and last day of ``YYYY-MM``."""
    m = re.fullmatch(r"(\d{4})-(\d{2})", str(month))
    if not m or not 1 <= int(m.group(2)) <= 12:
        raise ValueError(f"month {month!r} is not YYYY-MM (e.g. 2026-10)")
    y, mo = int(m.group(1)), int(m.group(2))
    return dt.date(y, mo, 1), dt.date(y, mo, calendar.monthrange(y, mo)[1])


def render(value: Any, variables: dict[str, Any]) -> Any:
    """Fill ``{placeholders}`` in strings, recursively. A string that is exactly one placeholder takes
    the variable's value as is (a number stays a number, a list a list)."""
    if isinstance(value, str):
        names = placeholders(value)
        if len(names) == 1 and value == "{" + names[0] + "}":
            return variables[names[0]]
        return value.format_map(variables) if names else value.replace("{{", "{").replace("}}", "}")
    if isinstance(value, dict):
        return {k: render(v, variables) for k, v in value.items()}
    if isinstance(value, list):
        return [render(v, variables) for v in value]
    return value


def project_path(text: str) -> Path:
    """A configured path: relative ones are relative to the project root (not the current folder)."""
    p = Path(text).expanduser()
    return p if p.is_absolute() else PROJECT_ROOT / p


def resolve_hook(spec: str):
    """The function named by ``package.module:function``."""
    module, _, name = spec.partition(":")
    fn = getattr(importlib.import_module(module), name, None)
    if not callable(fn):
        raise ValueError(f"hook {spec!r}: {module} has no function {name!r}")
    return fn


def hook_problems(spec: str, parameters: dict[str, Any]) -> list[str]:
    """Why ``spec`` cannot be called as ``f(business_dir, business, log, **parameters)``."""
    try:
        fn = resolve_hook(spec)
    except (ImportError, ValueError) as exc:
        return [f"hook {spec!r} cannot be imported: {exc}"]
    sig = inspect.signature(fn)
    try:
        sig.bind(Path("."), "business", print, **parameters)
    except TypeError as exc:
        accepted = [p for p in list(sig.parameters)[3:]]
        return [f"hook {spec}: {exc} (it takes business_dir, business, log and {accepted})"]
    return []


@dataclass
class PlannedStep:
    """One step of a plan; ``parameters`` are rendered for the scope's database and run folder."""

    step: Step
    notebook: Path | None
    parameters: dict[str, Any]
    timeout: int
    folder: str                 # relative to the pipeline's run folder

    @property
    def name(self) -> str:
        return self.step.name


@dataclass
class Plan:
    """A checked plan for one campaign month."""

    config: PipelineConfig
    month: str
    month_start: dt.date
    month_end: dt.date
    as_of: dt.date
    outputs_root: Path
    campaign_dir: Path
    month_dir: Path
    db: Path
    drop_folder: Path | None
    stores: list[str] | None = None           # None: one pipeline on ``db``; else one per store
    overrides: dict[str, Any] = field(default_factory=dict)

    @property
    def failed_dir(self) -> Path:
        return self.campaign_dir / f"{self.month}.failed"

    def group_steps(self) -> list[Step]:
        return [s for s in self.config.steps if s.scope == "group"]

    def store_steps(self) -> list[Step]:
        return [s for s in self.config.steps if s.scope == "store"]

    def _variables(self, run_dir: Path, store: str | None, db: str, drop_folder: str) -> dict[str, Any]:
        base = {"month": self.month, "month_compact": self.month.replace("-", ""), "month_start": self.month_start.isoformat(),
                "month_end": self.month_end.isoformat(),
                "next_month_start": (self.month_end + dt.timedelta(days=1)).isoformat(),
                "as_of": self.as_of.isoformat(),
                "campaign": self.config.campaign, "business": self.config.business, "store": store or "",
                "outputs": str(self.outputs_root), "project": str(PROJECT_ROOT), "run_dir": str(run_dir),
                "db": db, "drop_folder": drop_folder}
        for name, value in self.config.variables.items():
            base[name] = render(value, base)
        return base

    def variables(self, run_dir: Path, store: str | None = None, db: Path | None = None) -> dict[str, Any]:
        """The placeholder values for a pipeline whose month folder is ``run_dir`` (one store, or the whole db)."""
        drop = self.drop_folder_for(run_dir)
        return self._variables(run_dir, store, str(db or self.db_for(run_dir, None)), str(drop) if drop else "")

    def db_for(self, group_run_dir: Path, store: str | None) -> Path:
        """The store file of the whole business (``store`` None) or of one store in a group run."""
        db = project_path(render(self.config.db, self._variables(group_run_dir, None, "", "")))
        if store is None:
            return db
        if self.config.store_db:
            return project_path(render(self.config.store_db, self._variables(group_run_dir, store, str(db), "")))
        return db.parent / "stores" / store / "workbench.duckdb"

    def drop_folder_for(self, group_run_dir: Path) -> Path | None:
        if not self.config.drop_folder:
            return None
        return project_path(render(self.config.drop_folder, self._variables(group_run_dir, None, "", "")))

    def planned(self, step: Step, run_dir: Path, db: Path, store: str | None = None,
                group_run_dir: Path | None = None) -> PlannedStep:
        """``step`` with its parameters rendered for a pipeline in ``run_dir`` on store file ``db``."""
        variables = self.variables(group_run_dir or run_dir, store, db)
        variables["run_dir"] = str(run_dir)
        params = render(step.parameters, variables)
        notebook = None
        if step.notebook:
            notebook = notebook_path(step.notebook)
            declared = notebook_parameters(notebook) if notebook.exists() else {}
            auto = {"db": str(db), "output_dir": str(run_dir / step.name), "as_of": self.as_of.isoformat()}
            for name in AUTO_PARAMETERS:
                if name in declared and name not in params:
                    params[name] = auto[name]
        return PlannedStep(step=step, notebook=notebook, parameters=params,
                           timeout=step.timeout or self.config.timeout, folder=step.name)


def notebook_path(name: str) -> Path:
    """``scoring.ipynb`` -> ``notebooks/scoring.ipynb``; a path with a folder is relative to the project."""
    p = Path(name)
    if p.is_absolute():
        return p
    return NOTEBOOKS_DIR / p if len(p.parts) == 1 else PROJECT_ROOT / p


def check_store_name(store: str) -> None:
    if not isinstance(store, str) or not NAME_RE.match(store):
        raise ValueError(f"store name {store!r} cannot be used as a folder name (letters, digits, _ . -)")


def make_plan(config: PipelineConfig, month: str | None = None, *, outputs_root: str | Path | None = None,
              stores: list[str] | None = None, as_of: dt.date | None = None,
              overrides: dict[str, Any] | None = None) -> Plan:
    """Resolve and check everything for ``month`` (default: the previous calendar month)."""
    month = month or previous_month()
    start, end = month_bounds(month)
    root = Path(outputs_root) if outputs_root else outputs_dir()
    campaign_dir = inside(root, config.campaign)
    month_dir = inside(campaign_dir, month)
    plan = Plan(config=config, month=month, month_start=start, month_end=end, as_of=as_of or end,
                outputs_root=root.resolve(), campaign_dir=campaign_dir, month_dir=month_dir,
                db=Path(), drop_folder=None, stores=list(stores) if stores is not None else None,
                overrides=dict(overrides or {}))
    plan.db = plan.db_for(month_dir, None)
    plan.drop_folder = plan.drop_folder_for(month_dir)
    for store in plan.stores or []:
        check_store_name(store)
        inside(month_dir, "stores", store)
    check_plan(plan)
    return plan


def check_plan(plan: Plan) -> None:
    """Check every step's notebook or hook and its parameters; raise :class:`PlanError` listing all."""
    problems: list[str] = []
    example_store = (plan.stores or [None])[0] if plan.stores else None
    for step in plan.config.steps:
        where = f"step {step.name}"
        in_store = plan.stores is not None and step.scope == "store"
        run_dir = plan.month_dir / "stores" / (example_store or "STORE") if in_store else plan.month_dir
        db = plan.db_for(plan.month_dir, example_store or "STORE") if in_store else plan.db
        try:
            ps = plan.planned(step, run_dir, db, store=(example_store or "STORE") if in_store else None,
                              group_run_dir=plan.month_dir)
        except (KeyError, ValueError, IndexError) as exc:
            problems.append(f"{where}: cannot fill in the parameters: {exc}")
            continue
        if step.notebook:
            if not ps.notebook or not ps.notebook.exists():
                problems.append(f"{where}: notebook {step.notebook} not found ({ps.notebook})")
                continue
            try:
                problems += [f"{where}: {p}" for p in parameter_problems(ps.notebook, ps.parameters)]
            except Exception as exc:  # papermill cannot parse the parameters cell
                problems.append(f"{where}: cannot read the parameters of {ps.notebook.name}: {exc}")
        else:
            problems += [f"{where}: {p}" for p in hook_problems(step.hook, ps.parameters)]
    if problems:
        raise PlanError(plan.config.source, problems)


def describe_plan(plan: Plan) -> str:
    """The plan as text for ``--dry-run``: folders, then each step with its condition, parameters, outputs."""
    from workbench.runner.conditions import ConditionContext, describe, evaluate

    lines = [f"campaign {plan.config.campaign} ({plan.config.source}), month {plan.month} "
             f"(as of {plan.as_of}), business {plan.config.business}",
             f"outputs: {plan.month_dir}/ (written to a temporary folder, moved into place when all succeeded)",
             f"store: {plan.db}"]
    if plan.drop_folder:
        lines.append(f"drop folder: {plan.drop_folder}")
    if plan.stores is not None:
        lines.append(f"stores: {', '.join(plan.stores) if plan.stores else '(all, read from customers.store)'}"
                     " - one pipeline per store, in parallel")
    groups = [("", plan.config.steps)] if plan.stores is None else [
        ("once for the group", plan.group_steps()), ("per store", plan.store_steps())]
    n = 0
    for title, steps in groups:
        if title and steps:
            lines.append(f"-- {title}")
        for step in steps:
            n += 1
            in_store = plan.stores is not None and step.scope == "store"
            store = "<store>" if in_store else None
            run_dir = plan.month_dir / "stores" / "<store>" if in_store else plan.month_dir
            db = plan.db_for(plan.month_dir, "<store>") if in_store else plan.db
            ps = plan.planned(step, run_dir, db, store=store, group_run_dir=plan.month_dir)
            what = f"notebook {ps.notebook.relative_to(PROJECT_ROOT) if ps.notebook.is_relative_to(PROJECT_ROOT) else ps.notebook}" if step.notebook else f"hook {step.hook}"
            cond = describe(step.when)
            if step.when is not None and not in_store:
                ctx = ConditionContext(db=db, month_start=plan.month_start, month_end=plan.month_end,
                                       drop_folder=plan.drop_folder)
                try:
                    held, why = evaluate(step.when, ctx)
                    cond += f" (now: {'yes' if held else 'no'}, {why}; checked again before the step runs)"
                except Exception as exc:
                    cond += f" (cannot check now: {exc})"
            lines.append(f"{n}. {step.name}: {what}; runs when {cond}; timeout {ps.timeout} s")
            for k, v in ps.parameters.items():
                lines.append(f"     {k} = {v!r}")
            if step.notebook:
                lines.append(f"     -> {run_dir / step.name}/{step.name}.ipynb, {step.name}.html and the "
                             "step's files")
    return "\n".join(lines)
