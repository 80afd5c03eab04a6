"""The campaign step of the demo job: assign a demo round and write its call-team workbook.

``workbench.runner.demo`` runs steps ``f(business_dir, business, log)`` after the
import and the scoring. This one plans a round of the business's example
playbook dated the day after the demo as-of date, from the scores in
``<business_dir>/workbench.duckdb`` and any survey reasons the analysis stage
finds there, saves it, and writes ``<business_dir>/campaign/<round>_calls_zh.xlsx``
(phones masked) plus a small summary workbook of the round.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

from workbench.data.demo import DEMO_AS_OF

#: The example playbook per demo business.
DEMO_PLAYBOOKS = {"dealership": "dealership_winback", "phone_brand": "phone_young_winback"}


def campaign_demo_step(business_dir: Path, business: str, log: Callable[[str], None] = print) -> Path:
    """Assign the demo round for ``business`` and write its call workbook; returns the workbook path."""
    from workbench.campaigns.rounds import create_round
    from workbench.campaigns.workbook import write_round_workbook
    from workbench.reports.files import excel_workbook, write_frame

    db = Path(business_dir) / "workbench.duckdb"
    out = Path(business_dir) / "campaign"
    round_date = DEMO_AS_OF + dt.timedelta(days=2)
    plan = create_round(db, DEMO_PLAYBOOKS[business], round_date, replace=True)
    rid = plan.round["round_id"]
    path = write_round_workbook(db, rid, out / f"{rid}_calls_zh.xlsx", language="zh", privacy="masked",
                                playbook=plan.playbook)
    a = plan.assignments
    with excel_workbook(out / f"{rid}_summary.xlsx") as wb:
        write_frame(wb, "arms", plan.counts())
        write_frame(wb, "balance", plan.balance)
        write_frame(wb, "by_reason", a[a["arm"] != "excluded"].groupby(
            ["reason_family", "reason", "reason_source", "arm"]).size().rename("customers").reset_index())
        write_frame(wb, "bundles", a[a["arm"] == "treatment"].groupby("bundle", dropna=False).size()
                    .rename("customers").reset_index())
    n = a["arm"].value_counts()
    log(f"{business}: round {rid}: {n.get('treatment', 0):,} to contact, {n.get('holdout', 0):,} holdout "
        f"(seed {plan.round['seed']}), {n.get('excluded', 0):,} excluded; planned cost "
        f"{plan.round['planned_cost']:,.0f}; call workbook {path}")
    return path
