"""When a pipeline step applies: named conditions on the store, checked just before the step runs.

A step's ``when`` is a condition name, a list of them (all must hold),
``{any: [...]}`` (at least one holds) or ``{not: ...}``. Each named condition
looks at the store (and the drop folder) as it is at that moment, so a survey
designed by an earlier step this month counts as "in the field" for the later
ones. Each returns whether it holds and a short reason for the log and the
manifest.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class ConditionContext:
    """What a condition may look at."""

    db: Path
    month_start: dt.date
    month_end: dt.date
    drop_folder: Path | None = None


Check = Callable[[ConditionContext], tuple[bool, str]]


def _query(ctx: ConditionContext, sql: str, params: list[Any] | None = None) -> list[tuple]:
    """Rows of ``sql`` on the store; no rows when the store does not exist yet."""
    from workbench.data.store import connect

    import duckdb

    if not Path(ctx.db).exists():
        return []
    with connect(ctx.db, read_only=True) as con:
        try:
            return con.execute(sql, params or []).fetchall()
        except duckdb.CatalogException:  # a store from before the table existed
            return []


def _table_exists(ctx: ConditionContext, table: str) -> bool:
    rows = _query(ctx, "SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [table])
    return bool(rows and rows[0][0])


def always(ctx: ConditionContext) -> tuple[bool, str]:
    return True, "always"


def new_files(ctx: ConditionContext) -> tuple[bool, str]:
    """The drop folder holds data files not imported yet (by content checksum)."""
    from workbench.runner.import_step import find_drop_files

    if ctx.drop_folder is None or not Path(ctx.drop_folder).exists():
        return False, "no drop folder"
    files = find_drop_files(ctx.drop_folder, ctx.db)
    new = files[files["status"] == "new"]
    return (not new.empty), f"{len(new)} new file(s) in the drop folder"


def scores_exist(ctx: ConditionContext) -> tuple[bool, str]:
    """Customers have been scored (the ``customer_scores`` table has rows)."""
    if not _table_exists(ctx, "customer_scores"):
        return False, "no customer_scores table"
    n = _query(ctx, "SELECT count(*) FROM customer_scores")[0][0]
    return n > 0, f"{n:,} score rows"


def _surveys(ctx: ConditionContext) -> list[tuple[str, int]]:
    """(survey_id, responses recorded) for every designed survey."""
    return _query(ctx, """
        SELECT s.survey_id, count(r.survey_id) AS responses
          FROM surveys s LEFT JOIN survey_responses r USING (survey_id)
         GROUP BY s.survey_id ORDER BY s.survey_id""")


def survey_in_field(ctx: ConditionContext) -> tuple[bool, str]:
    """A survey has been designed and no answers to it have come back yet."""
    waiting = [s for s, n in _surveys(ctx) if n == 0]
    return bool(waiting), (f"in the field: {', '.join(waiting)}" if waiting else "no survey waiting for answers")


def survey_returned(ctx: ConditionContext) -> tuple[bool, str]:
    """Answers to at least one survey are in the store."""
    returned = [s for s, n in _surveys(ctx) if n > 0]
    return bool(returned), (f"answers for: {', '.join(returned)}" if returned else "no answers yet")


def rounds_exist(ctx: ConditionContext) -> tuple[bool, str]:
    """At least one campaign round has been assigned (this month or before)."""
    n = _query(ctx, "SELECT count(*) FROM rounds")
    n = n[0][0] if n else 0
    return n > 0, f"{n} round(s)"


def earlier_rounds(ctx: ConditionContext) -> tuple[bool, str]:
    """Rounds dated before this month: the ones with months of outcomes to evaluate."""
    rows = _query(ctx, "SELECT round_id FROM rounds WHERE round_date < ? ORDER BY round_date",
                  [ctx.month_start])
    ids = [r[0] for r in rows]
    return bool(ids), (f"earlier rounds: {', '.join(ids)}" if ids else f"no round before {ctx.month_start}")


CONDITIONS: dict[str, Check] = {
    "always": always,
    "new_files": new_files,
    "scores_exist": scores_exist,
    "survey_in_field": survey_in_field,
    "survey_returned": survey_returned,
    "rounds_exist": rounds_exist,
    "earlier_rounds": earlier_rounds,
}


def condition_problems(when: Any) -> list[str]:
    """Why ``when`` is not a valid condition expression (empty list if it is)."""
    if isinstance(when, str):
        return [] if when in CONDITIONS else [f"unknown condition {when!r} (known: {', '.join(CONDITIONS)})"]
    if isinstance(when, list):
        if not when:
            return ["an empty list"]
        return [p for w in when for p in condition_problems(w)]
    if isinstance(when, dict) and len(when) == 1:
        (op, arg), = when.items()
        if op == "any":
            if not isinstance(arg, list) or not arg:
                return ["any: needs a non-empty list"]
            return [p for w in arg for p in condition_problems(w)]
        if op == "not":
            return condition_problems(arg)
    return [f"{when!r} is not a condition: use a name, a list (all hold), {{any: [...]}} or {{not: ...}}"]


def describe(when: Any) -> str:
    """The condition as text, e.g. ``survey_in_field or survey_returned``."""
    if when is None:
        return "always"
    if isinstance(when, str):
        return when
    if isinstance(when, list):
        return " and ".join(describe(w) for w in when)
    (op, arg), = when.items()
    if op == "any":
        return "(" + " or ".join(describe(w) for w in arg) + ")"
    return f"not {describe(arg)}"


def evaluate(when: Any, ctx: ConditionContext) -> tuple[bool, str]:
    """Whether the condition holds now, and why."""
    if when is None:
        return True, "always"
    if isinstance(when, str):
        return CONDITIONS[when](ctx)
    if isinstance(when, list):
        results = [evaluate(w, ctx) for w in when]
        return all(r for r, _ in results), "; ".join(why for _, why in results)
    (op, arg), = when.items()
    if op == "any":
        results = [evaluate(w, ctx) for w in arg]
        return any(r for r, _ in results), "; ".join(why for _, why in results)
    held, why = evaluate(arg, ctx)
    return not held, f"not ({why})"
