"""Early warning: a lighter index that flags active and silent customers who are starting to slip.

Article 000: once lost customers are being won back, keep watching for those
*showing signs* of leaving, with fewer indicators than the lost-customer index,
and act before they are lost (winning back costs more). The indicators,
weights, threshold and the stages it watches come from the industry YAML.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from workbench.scoring.churn import weighted_index
from workbench.scoring.config import IndustryConfig


def early_warning(values: pd.DataFrame, stages: pd.Series, config: IndustryConfig) -> pd.DataFrame:
    """Per customer: ``early_warning_index`` (0-100), ``early_warning`` flag and ``early_warning_reason``.

    ``values`` are the raw indicators (:func:`workbench.scoring.churn.indicator_values`);
    only customers in the configured stages (default active and silent) can be flagged.
    """
    ew = config.early_warning
    idx = weighted_index(values, ew, max_reasons=2)
    watched = stages.isin(list(ew.stages)).to_numpy()
    index = idx["index"].to_numpy()
    flag = watched & (np.nan_to_num(index, nan=-1.0) >= ew.threshold)
    reason = np.where(flag, idx["reasons"].to_numpy(dtype=object), None)
    return pd.DataFrame({
        "customer_id": values["customer_id"],
        "early_warning_index": index,
        "early_warning": flag,
        "early_warning_reason": pd.array(reason, dtype="str"),
    }, index=values.index)
