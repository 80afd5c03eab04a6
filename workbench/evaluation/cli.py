"""``workbench evaluate`` and ``workbench simulate-round``: report on a round, or simulate the months after one;
``workbench round-import``: a round run in another tool, from its assignments file.

Exit codes: 0 success, 2 an assignments file with problems (each printed with its cell address),
1 errors (unknown round, bad settings, a round simulated already).
"""

from __future__ import annotations

import argparse
from pathlib import Path


def _evaluate(args: argparse.Namespace) -> int:
    from workbench.evaluation.report import run_evaluation_report

    files = run_evaluation_report(args.db, args.out, campaign=args.campaign or "", round_id=args.round or "",
                                  months=args.months, alpha=args.alpha, correction=args.correction,
                                  as_of=args.as_of or "")
    for kind, path in files.items():
        print(f"{kind}: {path}")
    return 0


def _verdicts(args: argparse.Namespace) -> int:
    from workbench.evaluation.evaluate import evaluate_round

    ev = evaluate_round(args.db, args.round, campaign=args.campaign, months=args.months, alpha=args.alpha,
                        correction=args.correction, as_of=args.as_of)
    for v in ev.verdicts.itertuples():
        print(("WARNING: " if v.level == "warning" else "- ") + v.text)
    return 0


def _simulate(args: argparse.Namespace) -> int:
    from workbench.evaluation.simulate import simulate_round

    info = simulate_round(args.db, args.round, seed=args.seed, horizon_days=args.days, replace=args.replace)
    print(f"round {info['round_id']}: {info['customers']:,} customers, {info['returned']:,} came back, "
          f"{info['transactions']:,} purchases, {info['events']:,} events, {info['attempts']:,} contact attempts "
          f"simulated up to {info['data_end']}")
    return 0


def _round_import(args: argparse.Namespace) -> int:
    import sys

    from workbench.data.problems import ImportValidationError
    from workbench.evaluation.external import import_round

    try:
        result = import_round(args.db, args.file, campaign=args.campaign, round_date=args.date,
                              window_days=args.window_days, sheet=args.sheet, encoding=args.encoding,
                              replace=args.replace)
    except ImportValidationError as exc:
        print(exc.report(), file=sys.stderr)
        return 2
    print(result.summary())
    return 0


def _checked(name: str):
    """An argparse type from the check ``name`` of ``workbench.evaluation.external`` (imported when used): its
    ValueError becomes a usage error (exit 2)."""
    def parse(text: str):
        from workbench.evaluation import external

        try:
            return getattr(external, name)(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
    parse.__name__ = name
    return parse


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--campaign", help="campaign id (default: any)")
    p.add_argument("--round", help="round id (default: the newest round of the campaign)")
    p.add_argument("--months", type=int, default=3, help="months 1..N after the round (default 3)")
    p.add_argument("--alpha", type=float, default=0.05)
    p.add_argument("--correction", default="holm", choices=["holm", "fdr_bh", "bonferroni", "none"],
                   help="correction across the cells of a breakdown (default holm)")
    p.add_argument("--as-of", dest="as_of", help="data end (default: the last transaction or event in the store)")


def register(sub) -> None:
    p = sub.add_parser("evaluate", help="evaluate a round: notebook, HTML without code and Excel workbook")
    _common(p)
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.set_defaults(func=_evaluate)

    p = sub.add_parser("evaluate-verdicts", help="print a round's plain-language verdicts")
    _common(p)
    p.set_defaults(func=_verdicts)

    p = sub.add_parser("round-import", help="import a round run in another tool (its assignments file) for evaluation")
    p.add_argument("file", type=Path, help="CSV or XLSX: customer_id, arm (treatment/holdout, 联系组/对照组), "
                                           "optional channel and contacted_on")
    p.add_argument("--campaign", required=True, type=_checked("check_campaign"),
                   help="campaign id (created when new); the round is <campaign>-<YYYYMMDD>")
    p.add_argument("--date", required=True, type=_checked("parse_round_date"), help="round date, YYYY-MM-DD")
    p.add_argument("--window-days", dest="window_days", type=_checked("check_window_days"),
                   help="attribution window for every customer (default: each customer's channel window)")
    p.add_argument("--sheet", help="xlsx sheet to read (default: the first)")
    p.add_argument("--encoding", help="force a text encoding (default: detect UTF-8/BOM/GB18030/UTF-16)")
    p.add_argument("--replace", action="store_true", help="replace a round imported before under the same id")
    p.set_defaults(func=_round_import)

    p = sub.add_parser("simulate-round", help="append simulated months after a round (demo and training only)")
    p.add_argument("round", help="round id")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--days", type=int, default=90, help="how many days after each customer's start (default 90)")
    p.add_argument("--replace", action="store_true", help="replace an earlier simulation of this round")
    p.set_defaults(func=_simulate)
