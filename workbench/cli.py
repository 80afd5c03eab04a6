"""The ``workbench`` command: one entry point, one subcommand per job.

Exit codes scripts and schedulers rely on: 0 success, 2 for a user's mistake (a
bad file, value or config, or a round or survey that does not exist: every error
of :mod:`workbench.errors` says which), 1 anything else. A busy store (another
process kept it locked past ``$WORKBENCH_LOCK_WAIT``), a full disk or a folder
that is not writable end with one paragraph on stderr saying what failed, where,
and what to do, never with a bare traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

from workbench.errors import WorkbenchError, exit_code
from workbench.paths import ENV_DB, default_db_path

#: Stage modules that add their own subcommands: each defines ``register(subparsers)`` adding parsers
#: whose ``func(args) -> int`` is run. The common ``--db`` option is in ``args.db``.
COMMAND_MODULES: list[str] = ["workbench.data.cli", "workbench.runner.cli", "workbench.campaigns.cli",
                              "workbench.analysis.cli", "workbench.evaluation.cli"]


def _cmd_import(args: argparse.Namespace) -> int:
    from workbench.data.importer import import_files
    from workbench.data.problems import ImportValidationError

    try:
        results = import_files(args.table, args.files, args.db, sheet=args.sheet, encoding=args.encoding)
    except ImportValidationError as exc:
        print(exc.report(), file=sys.stderr)
        return 2
    for r in results:
        where = f" [{r.sheet}]" if r.sheet else ""
        print(f"{r.file}{where}: {r.rows_read:,} rows read, {r.inserted:,} new, {r.updated:,} updated, "
              f"{r.skipped:,} already present -> {r.table}")
        if r.ignored_columns:
            print(f"  ignored columns (not in the {r.table} schema): {', '.join(r.ignored_columns)}")
    return 0


def _cmd_demo_data(args: argparse.Namespace) -> int:
    from workbench.data.demo import BUSINESSES, generate, write_demo_files

    for business in ([args.business] if args.business else BUSINESSES):
        data = generate(business, args.customers, seed=args.seed)
        for table, path in write_demo_files(data, args.out).items():
            print(f"{business} {table}: {path}")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from workbench.runner.demo import run_demo

    out = run_demo(args.out, seed=args.seed)
    print(f"demo results in {out}")
    return 0


def _cmd_summary(args: argparse.Namespace) -> int:
    import pandas as pd

    from workbench.data.summary import data_summary

    with pd.option_context("display.width", 160, "display.max_columns", 20):
        for name, frame in data_summary(args.db).items():
            print(f"== {name}\n{frame.to_string(index=False)}\n")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="workbench", description="Win-back workbench: find, ask, win back, measure.")
    parser.add_argument("--db", type=Path, default=None,
                        help=f"DuckDB store (default: ${ENV_DB}, then {default_db_path()})")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("import", help="import customers, transactions or events from CSV/XLSX files")
    p.add_argument("table", choices=["customers", "transactions", "events"])
    p.add_argument("files", nargs="+", type=Path)
    p.add_argument("--sheet", help="xlsx sheet to read (default: the first)")
    p.add_argument("--encoding", help="force a text encoding (default: detect UTF-8/BOM/GB18030/UTF-16)")
    p.set_defaults(func=_cmd_import)

    p = sub.add_parser("demo-data", help="write the seeded demo export files")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--business", choices=["dealership", "phone_brand"])
    p.add_argument("--customers", type=int, help="number of customers (default 20,000 / 8,000)")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=_cmd_demo_data)

    p = sub.add_parser("demo", help="build the demo stores and write results under outputs/demo")
    p.add_argument("--out", type=Path, help="results folder (default outputs/demo)")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=_cmd_demo)

    p = sub.add_parser("summary", help="print what the store holds")
    p.set_defaults(func=_cmd_summary)

    for module in COMMAND_MODULES:
        importlib.import_module(module).register(sub)
    return parser


def failure_message(exc: BaseException) -> str | None:
    """The one-paragraph message for an error people can act on (a busy store, a full disk, a folder that is
    not writable, a bad value or a missing file), or None for a bug (which keeps its traceback)."""
    from workbench.data.store import StoreBusyError
    from workbench.reports.files import write_error_message

    if isinstance(exc, StoreBusyError):
        return str(exc)
    if type(exc).__name__ == "PapermillExecutionError":  # a notebook the command ran failed in its kernel
        inner = f"{exc.ename}: {exc.evalue}"
        if exc.ename == "StoreBusyError":
            return str(exc.evalue)
        storage = write_error_message(inner)
        return storage or f"error: a notebook failed in cell {exc.cell_index + 1} (In [{exc.exec_count}]): {inner}"
    storage = write_error_message(exc)
    if storage is not None:
        return storage
    if isinstance(exc, (ValueError, FileNotFoundError, OSError)):
        return f"error: {exc}"
    return None


def main(argv: list[str] | None = None) -> int:
    """Run one ``workbench`` command; errors people can act on end as a message on stderr and exit code 1."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        return 130
    except WorkbenchError as exc:
        report = getattr(exc, "report", None)
        print(f"workbench: {report() if callable(report) else exc}", file=sys.stderr)
        return exit_code(exc)
    except Exception as exc:
        message = failure_message(exc)
        if message is None:
            raise
        print(f"workbench: {message}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
