"""``workbench run``: one command for a campaign month (see docs/runner.md).

Exit codes for schedulers: 0 every step (every store) succeeded or ``--dry-run``; 1 a step or a store
failed (the message names the step, notebook, cell and error); 2 the config, an override or a notebook
parameter is invalid (nothing ran).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import yaml


def _key_values(items: list[str] | None, flag: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise argparse.ArgumentTypeError(f"{flag} {item!r}: expected KEY=VALUE")
        out[key.strip()] = yaml.safe_load(value) if value.strip() else None
    return out


def _stores(text: str | None) -> list[str] | None:
    if text is None:
        return None
    if text.strip().lower() == "all":
        return []
    return [s.strip() for s in text.split(",") if s.strip()]


def _cmd_run(args: argparse.Namespace) -> int:
    from workbench.runner.config import PipelineConfigError
    from workbench.runner.pipeline import RunLockedError, run_month
    from workbench.runner.plan import PlanError

    try:
        settings = _key_values(args.set, "--set")
        params = _key_values(args.param, "--param")
    except argparse.ArgumentTypeError as exc:
        print(f"workbench run: {exc}", file=sys.stderr)
        return 2
    if args.db is not None:
        settings.setdefault("db", str(args.db))
    if args.timeout is not None:
        settings["timeout"] = args.timeout
    try:
        outcome = run_month(args.config, args.month, settings=settings, params=params, outputs_root=args.outputs,
                            stores=_stores(args.stores), scheduler=args.scheduler, workers=args.workers,
                            dry_run=args.dry_run, progress=False if args.no_progress else None)
    except (PipelineConfigError, PlanError) as exc:
        print(f"workbench run: nothing ran, the configuration is invalid:\n{exc}", file=sys.stderr)
        return 2
    except RunLockedError as exc:
        print(f"workbench run: {exc}", file=sys.stderr)
        return 1
    if outcome.status != "succeeded" and outcome.status != "planned":
        print(f"workbench run: {outcome.status}", file=sys.stderr)
    return outcome.exit_code


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "run", help="run a campaign month's notebooks (import, scoring, surveys, campaign, evaluation)",
        description="Run the month's pipeline from a config file: notebooks in dependency order, outputs to "
                    "outputs/<campaign>/<YYYY-MM>/ (moved into place only when everything succeeded).")
    p.add_argument("config", help="pipeline config: a YAML file, or a name in config/pipelines/ (e.g. demo)")
    p.add_argument("--month", help="YYYY-MM (default: the previous calendar month)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="override a config setting (campaign, db, drop_folder, timeout, ...) or variables.NAME")
    p.add_argument("--param", action="append", metavar="STEP.NAME=VALUE",
                   help="override a notebook parameter of one step (VALUE is read as YAML: 0.08, [a, b], null)")
    p.add_argument("--timeout", type=int, help="execution timeout of each notebook cell, seconds (default: the config's timeout)")
    p.add_argument("--outputs", help="outputs root (default: $WORKBENCH_OUTPUTS, then outputs/)")
    p.add_argument("--stores", help="'all' or a comma list: one pipeline per store of customers.store, in parallel")
    p.add_argument("--scheduler", help="Dask scheduler address (tcp://host:8786) for --stores; default: local processes")
    p.add_argument("--workers", type=int, help="local worker processes for --stores (default: CPU count)")
    p.add_argument("--dry-run", action="store_true", help="print the plan (notebooks, parameters, outputs) and stop")
    p.add_argument("--no-progress", action="store_true", help="no progress bars (they are off anyway without a terminal)")
    p.set_defaults(func=_cmd_run)
