"""The evaluation step of the demo job: simulate three months after the demo round and report on it.

``workbench.runner.demo`` runs steps ``f(business_dir, business, log)`` in order;
this one must come after the campaign step (which writes the demo round into
``<business_dir>/workbench.duckdb``). It appends three simulated months after
the round (``workbench.evaluation.simulate``, from the demo's planted
``CAMPAIGN_EFFECT``) and runs the evaluation notebook, leaving
``evaluation.ipynb``, ``evaluation.html``, ``evaluation.xlsx`` and the chart
images in ``<business_dir>/evaluation/``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

DEMO_MONTHS = 3


def evaluation_demo_step(business_dir: Path, business: str, log: Callable[[str], None] = print) -> Path:
    """Simulate the months after the newest round in the business's store and write the evaluation report."""
    from workbench.evaluation.report import run_evaluation_report
    from workbench.evaluation.rounds import latest_round
    from workbench.evaluation.simulate import simulate_round

    db = Path(business_dir) / "workbench.duckdb"
    round_id = latest_round(db)
    sim = simulate_round(db, round_id, seed=0, horizon_days=DEMO_MONTHS * 30, replace=True)
    files = run_evaluation_report(db, Path(business_dir) / "evaluation", round_id=round_id, months=DEMO_MONTHS,
                                  as_of=sim["data_end"].isoformat())
    log(f"{business}: simulated {DEMO_MONTHS} months after round {round_id} ({sim['customers']:,} customers, "
        f"{sim['returned']:,} came back, {sim['transactions']:,} purchases, {sim['attempts']:,} contact attempts); "
        f"evaluation in {files['html'].parent}")
    return files["html"]
