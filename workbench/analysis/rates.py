"""Response, cooperation, refusal and contact rates (AAPOR Standard Definitions) by stratum and interviewer.

The interview workbook records four statuses; they map to AAPOR final dispositions as follows (the sample
is a list of known customers, so every sampled case is eligible, e = 1):

=================  =====================================  ====
workbook status    AAPOR disposition                      code
=================  =====================================  ====
completed          complete interview (1.1)               I
refused            refusal / break-off (2.10)             R
not_reached        non-contact (2.20)                     NC
call_back          other, contact made (2.30) - an        O
                   appointment that never became an
                   interview
(blank, main)      not attempted, unknown (3.10)          U
(blank, reserve)   not released: left out entirely        -
=================  =====================================  ====

Partial interviews (P) are not recorded by the workbook and count 0; the formulas keep them.

* RR1   = I / ((I + P) + (R + NC + O) + U)
* COOP1 = I / ((I + P) + R + O)
* REF1  = R / ((I + P) + (R + NC + O) + U)
* CON1  = ((I + P) + R + O) / ((I + P) + R + O + NC + U)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

DISPOSITION = {"completed": "I", "refused": "R", "not_reached": "NC", "call_back": "O"}
CODES = ("I", "P", "R", "NC", "O", "U")


def dispositions(frame: pd.DataFrame) -> pd.DataFrame:
    """Add ``disposition`` (I/R/NC/O/U) to the respondent frame and drop reserves never released."""
    d = frame["status"].map(DISPOSITION)
    d = d.where(d.notna(), np.where(frame["role"] == "main", "U", None))
    out = frame.assign(disposition=d)
    return out[out["disposition"].notna()].reset_index(drop=True)


def aapor_rates(disp: pd.DataFrame, by: str | Sequence[str] | None = None) -> pd.DataFrame:
    """Disposition counts and RR1, COOP1, REF1, CON1 overall (``by=None``) or per group.

    ``disp`` needs a ``disposition`` column of AAPOR codes (see :func:`dispositions`)."""
    keys = [by] if isinstance(by, str) else list(by or [])
    g = disp.assign(_all="all")
    keys = keys or ["_all"]
    counts = (g.groupby(keys + ["disposition"], dropna=False).size().unstack("disposition", fill_value=0)
              .reindex(columns=list(CODES), fill_value=0))
    counts.columns.name = None
    i, p, r, nc, o, u = (counts[c].astype(float) for c in CODES)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = counts.assign(
            cases=counts.sum(axis=1),
            RR1=i / ((i + p) + (r + nc + o) + u),
            COOP1=i / ((i + p) + r + o),
            REF1=r / ((i + p) + (r + nc + o) + u),
            CON1=((i + p) + r + o) / ((i + p) + r + o + nc + u))
    out = out.reset_index()
    if keys == ["_all"]:
        out = out.drop(columns=["_all"])
    return out
