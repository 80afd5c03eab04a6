"""What personal data leaves the store in a workbook for callers and interviewers.

One setting, ``privacy``, chooses a profile for every contact list the workbench writes (the survey's
interviewer workbook and the campaign's call workbook):

* ``in_house`` - the business's own staff: full phone numbers and names;
* ``masked`` - phones shown as ``138****5678`` (the caller dials from the CRM), names kept;
* ``outside_call_centre`` - an outside agency: phones masked and names dropped (the column is left out,
  scripts greet without a name), so the workbook carries no directly identifying data beyond the
  workbench's customer id.

The profile is a parameter of the survey design and campaign notebooks, ``--privacy`` on the command
line, and a pipeline variable (``privacy``) for monthly runs, so one line of a pipeline config switches
every workbook of the month.
"""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass

import pandas as pd


@dataclass(frozen=True)
class ContactPrivacy:
    """A privacy profile: which contact fields a workbook may show, and how."""

    name: str
    mask_phones: bool
    drop_names: bool

    def keeps(self, column: str) -> bool:
        """Whether a workbook for this profile carries ``column`` at all."""
        return not (self.drop_names and column == "name")


PROFILES: dict[str, ContactPrivacy] = {
    "in_house": ContactPrivacy("in_house", mask_phones=False, drop_names=False),
    "masked": ContactPrivacy("masked", mask_phones=True, drop_names=False),
    "outside_call_centre": ContactPrivacy("outside_call_centre", mask_phones=True, drop_names=True),
}


def contact_privacy(setting: str | ContactPrivacy | None = None) -> ContactPrivacy:
    """The profile named by ``setting`` (None: ``in_house``); a clear error for an unknown name."""
    if isinstance(setting, ContactPrivacy):
        return setting
    key = "in_house" if setting is None or str(setting).strip() == "" else str(setting).strip().lower()
    key = key.replace("-", "_").replace(" ", "_")
    if key not in PROFILES:
        raise ValueError(f"unknown privacy setting {setting!r}: use one of {', '.join(PROFILES)}")
    return PROFILES[key]


def mask_phone(phone: object) -> str:
    """138****5678: keep the first three and last four digits (short numbers are fully starred)."""
    text = "" if phone is None or phone is pd.NA or (isinstance(phone, float) and phone != phone) else str(phone)
    if re.fullmatch(r"\d*\*+\d*", text):
        return text  # already masked: masking twice must not hide the last four digits
    digits = re.sub(r"\D", "", text)
    digits = re.sub(r"^(?:0086|86)(?=1\d{10}$)", "", digits)  # +86 / 0086 before a mainland mobile number
    if len(digits) < 8:
        return "*" * len(digits)
    return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]


def protect_contacts(frame: pd.DataFrame, setting: str | ContactPrivacy | None) -> pd.DataFrame:
    """``frame`` with its ``phone`` column masked and its ``name`` column left out, as the profile asks.

    Works on a copy; columns that are absent are left alone, so it fits any contact list."""
    p = contact_privacy(setting)
    out = frame.copy()
    if p.mask_phones and "phone" in out.columns:
        out["phone"] = out["phone"].map(mask_phone)
    return out[[c for c in out.columns if p.keeps(str(c))]]


def add_privacy_argument(parser: argparse.ArgumentParser) -> None:
    """``--privacy PROFILE`` (and ``--mask-phones``, short for ``--privacy masked``) on a command that writes
    a contact workbook."""
    parser.add_argument("--privacy", choices=list(PROFILES), default="in_house",
                        help="what contact data the workbook carries: in_house (all), masked (phones as "
                             "138****5678), outside_call_centre (masked phones, no names)")
    parser.add_argument("--mask-phones", dest="privacy", action="store_const", const="masked",
                        help="same as --privacy masked")
