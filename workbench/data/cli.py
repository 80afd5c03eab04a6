"""``workbench purge``: erase one customer's personal data on request (see :mod:`workbench.data.purge`)."""

from __future__ import annotations

import argparse
import sys


def _purge(args: argparse.Namespace) -> int:
    from workbench.data.purge import PurgeError, purge_customers

    try:
        result = purge_customers(args.db, args.customer)
    except PurgeError as exc:
        print(exc, file=sys.stderr)
        return 2
    print(result)
    if args.verbose:
        print(result.changes[result.changes["cells"] > 0].to_string(index=False))
    print("Workbooks written before (earlier months in outputs/) are files outside the store: delete or "
          "re-export those that list these customers.")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("purge", help="erase a customer's personal data (name, phone, free texts), keep aggregates")
    p.add_argument("--customer", action="append", required=True, metavar="ID",
                   help="customer id to erase (repeat for several)")
    p.add_argument("-v", "--verbose", action="store_true", help="list the tables and columns changed")
    p.set_defaults(func=_purge)
