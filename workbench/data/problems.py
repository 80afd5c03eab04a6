"""Problems found in input files, located the way a person finds them in a spreadsheet.

Rows are numbered as Excel or LibreOffice shows them (the header is row 1),
columns by letter and by the header text the file actually has, so a clerk
can go straight to the cell.
"""

from __future__ import annotations

from dataclasses import dataclass
from workbench.errors import InputError


def column_letter(index: int) -> str:
    """0-based column index -> spreadsheet letters (0 -> A, 26 -> AA)."""
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input file; ``row``/``column`` are None for file-level problems."""

    file: str
    reason: str
    sheet: str | None = None
    row: int | None = None
    column: str | None = None       # canonical column name (None for a column without a header)
    header: str | None = None       # the header as written in the file
    letter: str | None = None       # spreadsheet column letter
    value: str | None = None

    def __str__(self) -> str:
        parts = [self.file]
        if self.sheet:
            parts.append(f"sheet '{self.sheet}'")
        if self.row is not None:
            parts.append(f"row {self.row}")
        if self.column or self.letter:
            col = f"column {self.letter} " if self.letter else "column "
            col += f"'{self.header}'" if self.header else ""
            if self.header and self.column and self.header != self.column:
                col += f" ({self.column})"
            elif not self.header and self.column:
                col += self.column
            parts.append(col.strip())
        where = ", ".join(parts)
        value = f"{_quote(self.value)} " if self.value is not None else ""
        return f"{where}: {value}{self.reason}"


def _quote(value: str, limit: int = 60) -> str:
    text = str(value)
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return repr(text)


class ImportValidationError(InputError):
    """Input files failed validation; nothing was written. ``problems`` lists every one found."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__(self.report())

    def report(self) -> str:
        lines = [f"{len(self.problems)} problem(s) found; nothing was imported:"]
        lines += [f"  {p}" for p in self.problems]
        return "\n".join(lines)
