"""``workbench campaign-*`` subcommands: plan a round, write its call workbook, import results, close it.

Exit codes: 0 success, 2 a call workbook with problems (each printed with its cell address), 1 other errors.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from workbench.privacy import add_privacy_argument


def _round(args: argparse.Namespace) -> int:
    from workbench.campaigns.rounds import create_round
    from workbench.campaigns.workbook import write_round_workbook

    filters = {"tiers": args.tiers, "stages": args.stages, "reasons": args.reasons}
    plan = create_round(args.db, args.playbook, args.date, budget=args.budget, filters=filters,
                        holdout_share=args.holdout_share, seed=args.seed, campaign_id=args.campaign,
                        replace=args.replace)
    rid = plan.round["round_id"]
    print(f"round {rid}: seed {plan.round['seed']}, planned cost {plan.round['planned_cost']:,.2f}"
          + (f" of {plan.round['budget']:,.2f}" if plan.round["budget"] is not None else ""))
    print(plan.counts().to_string(index=False))
    if args.workbook:
        path = write_round_workbook(args.db, rid, args.workbook, language=args.language, privacy=args.privacy,
                                    playbook=plan.playbook)
        print(f"call workbook: {path}")
    return 0


def _workbook(args: argparse.Namespace) -> int:
    from workbench.campaigns.workbook import write_round_workbook

    path = write_round_workbook(args.db, args.round_id, args.out, language=args.language, privacy=args.privacy)
    print(f"call workbook: {path}")
    return 0


def _import(args: argparse.Namespace) -> int:
    from workbench.campaigns.workbook import CallWorkbookError, import_call_workbook, outcome_counts

    for f in args.files:
        try:
            att = import_call_workbook(args.db, f)
        except CallWorkbookError as exc:
            print(str(exc), file=sys.stderr)
            return 2
        print(f"{f}: {len(att):,} contact results stored")
        print(outcome_counts(att).to_string(index=False))
    return 0


def _close(args: argparse.Namespace) -> int:
    from workbench.campaigns.rounds import close_round

    close_round(args.db, args.round_id)
    print(f"round {args.round_id} closed")
    return 0


def _list(args: argparse.Namespace) -> int:
    from workbench.campaigns.rounds import list_rounds

    print(list_rounds(args.db, args.campaign).to_string(index=False))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add the campaign subcommands to the ``workbench`` command."""
    p = sub.add_parser("campaign-round", help="plan and save a win-back round (optionally write its call workbook)")
    p.add_argument("playbook", help="playbook name in campaigns/ or a YAML path")
    p.add_argument("--date", required=True, help="round date, e.g. 2026-11-02")
    p.add_argument("--budget", type=float, help="budget for the round (capped by the playbook's round_cap)")
    p.add_argument("--tiers", type=int, nargs="*", help="only these tiers")
    p.add_argument("--stages", nargs="*", help="only these stages")
    p.add_argument("--reasons", nargs="*", help="only these reason codes")
    p.add_argument("--holdout-share", type=float, help="holdout share (default: the playbook's)")
    p.add_argument("--seed", type=int, help="holdout seed (default: the playbook's)")
    p.add_argument("--campaign", help="campaign id (default: the playbook id); rounds of a campaign form a sequence")
    p.add_argument("--replace", action="store_true", help="re-plan a round of the same date with no results yet")
    p.add_argument("--workbook", type=Path, help="also write the call-team workbook here")
    p.add_argument("--language", choices=["zh", "en"], default="zh")
    add_privacy_argument(p)
    p.set_defaults(func=_round)

    p = sub.add_parser("campaign-workbook", help="write the call-team workbook of a saved round")
    p.add_argument("round_id")
    p.add_argument("out", type=Path)
    p.add_argument("--language", choices=["zh", "en"], default="zh")
    add_privacy_argument(p)
    p.set_defaults(func=_workbook)

    p = sub.add_parser("campaign-import", help="import filled-in call workbooks into contact_attempts")
    p.add_argument("files", nargs="+", type=Path)
    p.set_defaults(func=_import)

    p = sub.add_parser("campaign-close", help="close a round so its customers can continue in the next one")
    p.add_argument("round_id")
    p.set_defaults(func=_close)

    p = sub.add_parser("campaign-rounds", help="list rounds with their arms")
    p.add_argument("--campaign")
    p.set_defaults(func=_list)
