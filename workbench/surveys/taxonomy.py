"""The shared reason taxonomy (why customers leave), loaded from ``survey_templates/reason_taxonomy.yaml``.

Survey options, the analysis of answers and the campaign playbooks all speak in
these codes; each code maps to the strategy family the campaign stage uses.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import pandas as pd

from workbench.configcheck import ConfigChecker, shown
from workbench.errors import ConfigError
from workbench.paths import PROJECT_ROOT
from workbench.yamlfiles import read_yaml

TEMPLATES_DIR = PROJECT_ROOT / "survey_templates"
TAXONOMY_PATH = TEMPLATES_DIR / "reason_taxonomy.yaml"

#: The codes other modules rely on (exact spellings, in the taxonomy's order).
REASON_CODES: tuple[str, ...] = (
    "service_attitude", "price", "waiting_time", "service_speed", "quality", "not_fixed_first_time",
    "unkept_promise", "misleading_ads", "info_transparency", "reputation", "company_values",
    "distance_moved", "competitor_nearby", "no_need", "staff_left", "style_outdated",
    "few_attractive_offers", "only_contact_to_sell", "canned_scripts", "other",
)
LANGUAGES = ("zh", "en")


class TaxonomyError(ConfigError):
    """The taxonomy file is malformed; the message names the file and the key."""


def _labels(ck: ConfigChecker, value: object, where: str) -> dict[str, str]:
    """A {zh, en} label, both non-empty."""
    value = ck.mapping(value, where, required=LANGUAGES)
    return {lang: ck.plain_text(value[lang], f"{where}.{lang}") for lang in LANGUAGES}


def _parse(path: Path) -> pd.DataFrame:
    ck = ConfigChecker(str(path), TaxonomyError)
    raw = ck.mapping(read_yaml(path, TaxonomyError), "", {"families", "reasons"}, {"families", "reasons"})
    families = {name: _labels(ck, lab, f"families.{name}")
                for name, lab in ck.mapping(raw["families"], "families").items()}
    reasons = ck.mapping(raw["reasons"], "reasons")
    rows = []
    for code, entry in reasons.items():
        where = f"reasons.{code}"
        entry = ck.mapping(entry, where, {"label", "family", "source"}, {"label", "family"})
        label = _labels(ck, entry["label"], f"{where}.label")
        family = entry["family"]
        if not isinstance(family, str) or family not in families:
            ck.fail(f"{where}.family", f"{shown(family)} is not one of the families {sorted(families)}")
        rows.append({"code": code, "label_zh": label["zh"], "label_en": label["en"], "family": family,
                     "family_zh": families[family]["zh"], "family_en": families[family]["en"],
                     "source": str(entry.get("source") or "")})
    missing = [c for c in REASON_CODES if c not in reasons]
    if missing:
        ck.fail("reasons", f"required code(s) missing: {missing}")
    extra = [c for c in reasons if c not in REASON_CODES]
    if extra:
        ck.fail("reasons", f"code(s) {extra} are not in the shared contract "
                           f"(workbench.surveys.taxonomy.REASON_CODES); add them there first")
    return pd.DataFrame(rows)


@lru_cache(maxsize=8)
def _cached(path: str, mtime: float) -> pd.DataFrame:
    return _parse(Path(path))


def load_reason_taxonomy(path: str | Path | None = None) -> pd.DataFrame:
    """The taxonomy as a tidy frame: code, label_zh, label_en, family, family_zh, family_en, source.

    Validated on load (zh and en labels, a known family, every required code present).
    """
    p = Path(path) if path else TAXONOMY_PATH
    return _cached(str(p), p.stat().st_mtime).copy()


def reason_family(code: str, path: str | Path | None = None) -> str:
    """The strategy family for one reason code (KeyError for an unknown code)."""
    tax = load_reason_taxonomy(path).set_index("code")
    if code not in tax.index:
        raise KeyError(f"unknown reason code {code!r}")
    return str(tax.at[code, "family"])
