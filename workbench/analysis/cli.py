"""``workbench responses ...``: import answer files and run the analysis from the command line."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _cmd_import(args: argparse.Namespace) -> int:
    from workbench.analysis.importer import import_responses
    from workbench.data.problems import ImportValidationError

    try:
        result = import_responses(args.db, args.survey_id, args.files, valid_rows_only=args.valid_rows_only,
                                  encoding=args.encoding)
    except ImportValidationError as exc:
        print(exc.report(), file=sys.stderr)
        return 2
    print(result.summary())
    for p in result.problems:
        print(f"  left out: {p}", file=sys.stderr)
    return 0


def _cmd_analyse(args: argparse.Namespace) -> int:
    from workbench.analysis.analyse import analyse_survey, save_analysis
    from workbench.analysis.report import write_analysis_workbook

    a = analyse_survey(args.db, args.survey_id, alpha=args.alpha, correction=args.correction,
                       weighted=not args.unweighted)
    save_analysis(args.db, a)
    if args.out:
        print(f"workbook: {write_analysis_workbook(a, args.out)}")
    print(a.tables["response_rates"].to_string(index=False))
    print(a.conclusion)
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("responses", help="survey answers: import and analyse")
    sub = p.add_subparsers(dest="responses_command", required=True)
    q = sub.add_parser("import", help="import answer files (interview workbook, Kobo/ODK export, CSV)")
    q.add_argument("survey_id")
    q.add_argument("files", nargs="+", type=Path)
    q.add_argument("--valid-rows-only", action="store_true",
                   help="import the rows without problems and report the others (default: all or nothing)")
    q.add_argument("--encoding", help="force a CSV encoding (default: detect UTF-8/BOM/GB18030)")
    q.set_defaults(func=_cmd_import)
    q = sub.add_parser("analyse", help="analyse a survey's stored answers and save the tables")
    q.add_argument("survey_id")
    q.add_argument("--alpha", type=float, default=0.05)
    q.add_argument("--correction", choices=["holm", "fdr_bh", "bonferroni"], default="holm")
    q.add_argument("--unweighted", action="store_true")
    q.add_argument("--out", type=Path, help="write the analysis workbook here (xlsx)")
    q.set_defaults(func=_cmd_analyse)
