"""The scoring step of the demo job: run the scoring notebook on one demo business's store.

``workbench.runner.demo`` calls :func:`scoring_demo_step` for each business after
the import; it leaves the executed notebook, the chart and the workbook in
``<business dir>/scoring/`` and the scores in the business's store.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from workbench.data.demo import DEMO_AS_OF


def scoring_demo_step(business_dir: Path, business: str, log: Callable[[str], None] = print) -> Path:
    """Score ``business_dir/workbench.duckdb`` as of the demo date with the business's industry config."""
    from workbench.runner.notebooks import run_notebook
    from workbench.scoring.store import read_scores

    db = Path(business_dir) / "workbench.duckdb"
    out = Path(business_dir) / "scoring"
    executed = run_notebook("scoring.ipynb", out / "scoring.ipynb",
                            {"db": str(db), "as_of": DEMO_AS_OF.isoformat(), "industry": business,
                             "output_dir": str(out)})
    scores = read_scores(db, DEMO_AS_OF)
    counts = scores["stage"].value_counts()
    log(f"{business}: scored {len(scores):,} customers as of {DEMO_AS_OF}: "
        + ", ".join(f"{s} {counts.get(s, 0):,}" for s in ("active", "silent", "sleeping", "lost"))
        + f"; {int(scores['early_warning'].sum()):,} early warnings, "
        f"{int(scores['worth_winning_back'].sum()):,} worth winning back")
    return executed
