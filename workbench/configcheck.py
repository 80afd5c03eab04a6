"""One key checker for the YAML configuration loaders: every problem names the file and the dotted key path.

Scoring industries, campaign playbooks and survey templates check their
documents with the same few questions (is this a mapping with these keys, a
number in range, a whole number, one of these choices, true or false?). This
class asks them once. A loader gives it the file name and its own error class;
it either raises at the first problem (``{file}: {key}: {why}``) or, with
``collect=True``, notes every problem and raises them together at the end.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

#: A problem found in a config file: (file, dotted key path, why).
Problem = tuple[str, str, str]
_SHOWN = 80  # characters of a value quoted in a message


def shown(value: Any) -> str:
    """``repr(value)`` cut to a readable length, so a 100,000-character value does not flood a message."""
    text = repr(value)
    return text if len(text) <= _SHOWN else f"{text[:_SHOWN - 20]}...{text[-12:]} ({len(text)} characters)"


def problem_lines(problems: Iterable[Problem]) -> list[str]:
    """Each problem as ``file: key: why`` (``file: why`` for the file as a whole)."""
    return [f"{f}: {k}: {why}" if k else f"{f}: {why}" for f, k, why in problems]


def is_number(value: Any) -> bool:
    """True for a finite int or float that fits a float (YAML's ``true`` and ``.nan`` are not numbers)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(float(value))
    except OverflowError:  # an int with hundreds of digits
        return False


def child(key: str, name: Any) -> str:
    """The dotted path of ``name`` under ``key`` (``''`` is the top level)."""
    return f"{key}.{name}" if key else str(name)


class ConfigChecker:
    """Checks one configuration document, naming ``source`` and the key path in every problem.

    ``error`` is the loader's exception class. Raising mode calls it with one message
    ``"{source}: {key}: {why}"``; collecting mode (``collect=True``) calls it in :meth:`finish`
    with the list of every :data:`Problem`, and the checks return a neutral value after noting a
    problem so the caller can go on looking.
    """

    def __init__(self, source: str, error: Callable[..., Exception], *, collect: bool = False):
        self.source = source
        self.error = error
        self.collect = collect
        self.problems: list[Problem] = []

    def fail(self, key: str, why: str) -> None:
        """Report a problem at ``key``: raise now, or note it when collecting."""
        self.problems.append((self.source, key, why))
        if not self.collect:
            raise self.error(f"{self.source}: {key or '(top level)'}: {why}")

    def finish(self) -> None:
        """Collecting mode: raise the error with every problem noted, if any."""
        if self.problems:
            raise self.error(list(self.problems))

    def unknown_message(self, allowed: Iterable[str]) -> str:
        """Why an unknown key is refused (a subclass may word it its own way)."""
        return f"unknown key; allowed keys are {sorted(allowed)}"

    def unknown_keys(self, doc: dict, key: str, allowed: Iterable[str]) -> None:
        """Refuse every key of ``doc`` outside ``allowed`` (YAML keys may be numbers or null, too)."""
        allowed = set(allowed)
        for name in sorted((k for k in doc if k not in allowed), key=str):
            self.fail(child(key, name), self.unknown_message(allowed))

    def mapping(self, doc: Any, key: str, allowed: Iterable[str] | None = None,
                required: Iterable[str] | None = None) -> dict:
        """``doc`` as a mapping with no key outside ``allowed`` and every key of ``required``."""
        if not isinstance(doc, dict):
            self.fail(key, f"expected a mapping, got {type(doc).__name__}")
            return {}
        if allowed is not None:
            self.unknown_keys(doc, key, allowed)
        for req in sorted(required or ()):
            if req not in doc:
                self.fail(child(key, req), "missing")
        return doc

    def number(self, value: Any, key: str, lo: float | None = None, hi: float | None = None) -> float | None:
        """A finite number within [lo, hi], as a float (None after a problem when collecting)."""
        if not is_number(value):
            return self.fail(key, f"expected a number, got {shown(value)}")
        if lo is not None and value < lo:
            return self.fail(key, f"{value} is below the minimum {lo}")
        if hi is not None and value > hi:
            return self.fail(key, f"{value} is above the maximum {hi}")
        return float(value)

    def whole(self, value: Any, key: str, lo: int | None = None, hi: int | None = None) -> int | None:
        """A whole number within [lo, hi] (``3.0`` is not one: write ``3``)."""
        if isinstance(value, bool) or not isinstance(value, int):
            return self.fail(key, f"expected a whole number, got {shown(value)}")
        if self.number(value, key, lo, hi) is None:
            return None
        return int(value)

    def plain_text(self, value: Any, key: str) -> str | None:
        """Non-empty text, stripped (a number or a list is not text)."""
        if not isinstance(value, str) or not value.strip():
            return self.fail(key, f"expected non-empty text, got {shown(value)}")
        return value.strip()

    def flag(self, value: Any, key: str, default: bool | None = None) -> bool | None:
        """``true`` or ``false``; a missing (None) value gives ``default`` when there is one."""
        if value is None and default is not None:
            return default
        if not isinstance(value, bool):
            self.fail(key, f"expected true or false, got {shown(value)}")
            return default
        return value

    def choices(self, value: Any, key: str, allowed: Iterable[Any], kind: str) -> tuple:
        """A non-empty list whose every item is one of ``allowed``."""
        allowed = tuple(allowed)
        if not isinstance(value, list) or not value:
            self.fail(key, f"expected a non-empty list of {kind}")
            return ()
        for v in value:
            if not _is_in(v, allowed):
                self.fail(key, f"unknown {kind} {shown(v)}; allowed: {sorted(map(str, allowed))}")
                return ()
        return tuple(value)


def _is_in(value: Any, allowed: tuple) -> bool:
    """``value in allowed`` without hashing (a YAML list or mapping item is unhashable) and without
    letting ``true`` pass for ``1``."""
    return any(value == a and type(value) is not bool or value is a for a in allowed)
