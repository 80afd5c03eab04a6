"""Pick each customer's bundle from what they bought before; never a blanket discount (articles 000, 003).

A bundle is eligible for a customer when the stage policy allows offers in the
customer's stage, the bundle lists the customer's stage (and tier, when it
restricts tiers), the customer bought at least one of its ``requires_any``
categories before, and its ``price_sensitive`` rule fits the customer's reason.

Among eligible bundles the best fit wins (article 003: full plans for recent
customers, their old favourites for dormant ones):

* recent stages (active, silent): coverage = the share of the customer's past
  spend in the bundle's categories; ``full_plan`` bundles get +0.5;
* dormant stages (sleeping, lost, never): coverage counts only the customer's
  top two categories by spend (their favourites); ``favourite`` bundles get +0.5.

Ties go to the cheaper bundle, then to the playbook's order. ``max_per_round``
caps are filled in priority order; customers beyond a cap get their next best
eligible bundle.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from workbench.campaigns.playbook import Playbook

RECENT_STAGES = ("active", "silent")
KIND_BONUS = 0.5


def spend_matrix(spend: pd.DataFrame, customer_ids: pd.Series, categories: tuple[str, ...]) -> np.ndarray:
    """Customers x categories past spend (rows in ``customer_ids`` order); unknown categories are ignored."""
    pos = pd.Index(customer_ids.astype(str))
    m = np.zeros((len(pos), len(categories)))
    if len(spend):
        cat_pos = {c: j for j, c in enumerate(categories)}
        s = spend[spend["category"].isin(categories)]
        rows = pos.get_indexer(s["customer_id"].astype(str))
        ok = rows >= 0
        cols = s["category"].map(cat_pos).to_numpy()
        np.add.at(m, (rows[ok], cols[ok].astype(int)), s["amount"].astype(float).to_numpy()[ok])
    return m


def bundle_scores(frame: pd.DataFrame, spend: pd.DataFrame, playbook: Playbook) -> np.ndarray:
    """Customers x bundles fit score (-inf where not eligible). ``frame``: customer_id, tier, stage, reason."""
    ids = list(playbook.bundles)
    cats = playbook.categories
    amounts = spend_matrix(spend, frame["customer_id"], cats)
    total = amounts.sum(axis=1, keepdims=True)
    share = np.divide(amounts, total, out=np.zeros_like(amounts), where=total > 0)
    # favourites: the top two categories by spend (only those actually bought)
    order = np.argsort(-amounts, axis=1, kind="stable")[:, :2]
    top2 = np.zeros_like(amounts, dtype=bool)
    np.put_along_axis(top2, order, True, axis=1)
    top2 &= amounts > 0
    stage = frame["stage"].astype(str).to_numpy()
    tier = pd.to_numeric(frame["tier"], errors="coerce").fillna(0).astype(int).to_numpy()
    recent = np.isin(stage, RECENT_STAGES)
    offers_ok = np.array([playbook.stage_allows_offers(s) if s in playbook.stage_policy else False for s in stage],
                         dtype=bool)  # bool even when nobody is targeted (an empty list would make floats)
    sensitive = frame["reason"].isin(playbook.price_sensitive_reasons).to_numpy()
    out = np.full((len(frame), len(ids)), -np.inf)
    cat_idx = {c: j for j, c in enumerate(cats)}
    costs = np.array([playbook.bundles[b].cost for b in ids])
    for k, bid in enumerate(ids):
        b = playbook.bundles[bid]
        cols = [cat_idx[c] for c in b.categories]
        req = [cat_idx[c] for c in b.requires_any]
        ok = offers_ok & np.isin(stage, b.stages) & (amounts[:, req].sum(axis=1) > 0)
        if b.tiers is not None:
            ok &= np.isin(tier, b.tiers)
        if b.price_sensitive == "only":
            ok &= sensitive
        elif b.price_sensitive == "never":
            ok &= ~sensitive
        cover_recent = share[:, cols].sum(axis=1)
        cover_dormant = (share[:, cols] * top2[:, cols]).sum(axis=1)
        score = np.where(recent, cover_recent + KIND_BONUS * (b.kind == "full_plan"),
                         cover_dormant + KIND_BONUS * (b.kind == "favourite"))
        # ties: cheaper first, then playbook order (both far below any real difference in fit)
        score = score - 1e-9 * costs[k] / (1 + costs.max()) - 1e-12 * k
        out[ok, k] = score[ok]
    return out


def pick_bundles(scores: np.ndarray, playbook: Playbook, capped: np.ndarray | None = None,
                 priority: np.ndarray | None = None) -> np.ndarray:
    """Best bundle id per row (None where nothing is eligible).

    Rows where ``capped`` is True count against ``max_per_round`` (in ``priority`` order, 0 = first);
    a capped-out row falls back to its next best eligible bundle.
    """
    ids = np.array(list(playbook.bundles), dtype=object)
    s = scores.copy()
    n = len(s)
    caps = np.array([playbook.bundles[b].max_per_round or n + 1 for b in ids])
    capped = np.zeros(n, dtype=bool) if capped is None else np.asarray(capped, dtype=bool)
    prio = np.arange(n) if priority is None else np.asarray(priority)
    while True:
        best = np.argmax(s, axis=1) if len(ids) else np.zeros(n, dtype=int)
        has = np.isfinite(s[np.arange(n), best]) if n else np.zeros(0, dtype=bool)
        over = False
        for k in range(len(ids)):
            rows = np.flatnonzero(has & capped & (best == k))
            if len(rows) > caps[k]:
                drop = rows[np.argsort(prio[rows], kind="stable")[caps[k]:]]
                s[drop, k] = -np.inf
                over = True
        if not over:
            break
    out = np.where(has, ids[best], None) if n else np.array([], dtype=object)
    return out
