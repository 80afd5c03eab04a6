"""The declarative table schema: load ``schema.yaml``, check it, and derive DDL and header aliases.

Every importable table is described once, as data; the importer, the store's
DDL and the documentation all read this one description.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from workbench.errors import ConfigError

SCHEMA_PATH = Path(__file__).with_name("schema.yaml")

TYPES = {"id", "text", "date", "money", "integer", "number", "enum", "boolean"}
SQL_TYPES = {
    "id": "VARCHAR",
    "text": "VARCHAR",
    "date": "DATE",
    "money": "DECIMAL(14,2)",
    "integer": "INTEGER",
    "number": "DOUBLE",
    "enum": "VARCHAR",
    "boolean": "BOOLEAN",
}
_COLUMN_KEYS = {"type", "required", "aliases", "values", "min", "max", "references", "personal"}
_TABLE_KEYS = {"description", "key", "key_optional", "on_duplicate_key", "columns"}


class SchemaError(ConfigError):
    """The schema file itself is malformed (a developer error, reported with the key)."""


def fold_header(text: str) -> str:
    """Normalise a header for alias matching: NFKC, lower case, spaces/_/- folded, BOM and quotes dropped."""
    text = unicodedata.normalize("NFKC", str(text)).replace("\ufeff", "").strip().strip('"').lower()
    return re.sub(r"[\s_\-]+", " ", text).strip()


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    required: bool = False
    aliases: tuple[str, ...] = ()
    values: dict[str, tuple[str, ...]] = field(default_factory=dict)
    min: float | None = None
    max: float | None = None
    references: str | None = None
    personal: bool = False  # identifies or describes a person: masked/dropped by privacy, erased by purge

    @property
    def sql_type(self) -> str:
        return SQL_TYPES[self.type]

    def spellings(self) -> list[str]:
        """All header spellings accepted for this column, canonical name first."""
        return [self.name, *self.aliases]


@dataclass(frozen=True)
class Table:
    name: str
    description: str
    columns: dict[str, Column]
    key: tuple[str, ...]
    key_optional: bool
    on_duplicate_key: str

    @property
    def required(self) -> list[Column]:
        return [c for c in self.columns.values() if c.required]

    def header_map(self) -> dict[str, str]:
        """Folded header spelling -> canonical column name."""
        out: dict[str, str] = {}
        for col in self.columns.values():
            for spelling in col.spellings():
                out[fold_header(spelling)] = col.name
        return out

    def ddl(self) -> str:
        cols = [f'"{c.name}" {c.sql_type}' for c in self.columns.values()]
        cols.append('"_key" VARCHAR NOT NULL')  # identity used for de-duplication on re-import
        cols.append('"_import_id" INTEGER')
        return f'CREATE TABLE IF NOT EXISTS "{self.name}" (\n  ' + ",\n  ".join(cols) + "\n)"


def _flag(spec: dict, key: str, where: str) -> bool:
    value = spec.get(key, False)
    if not isinstance(value, bool):
        raise SchemaError(f"{where}.{key}: expected true or false, got {value!r}")
    return value


def _parse_column(table: str, name: str, spec: Any) -> Column:
    where = f"tables.{table}.columns.{name}"
    if not isinstance(spec, dict):
        raise SchemaError(f"{where}: expected a mapping, got {type(spec).__name__}")
    unknown = set(spec) - _COLUMN_KEYS
    if unknown:
        raise SchemaError(f"{where}: unknown key(s) {sorted(unknown)}")
    ctype = spec.get("type")
    if ctype not in TYPES:
        raise SchemaError(f"{where}.type: {ctype!r} is not one of {sorted(TYPES)}")
    values: dict[str, tuple[str, ...]] = {}
    if ctype == "enum":
        raw = spec.get("values")
        if not isinstance(raw, dict) or not raw:
            raise SchemaError(f"{where}.values: an enum needs a mapping of values to spellings")
        values = {str(k): tuple(str(s) for s in (v or [])) for k, v in raw.items()}
    return Column(
        name=name,
        type=ctype,
        required=bool(spec.get("required", False)),
        aliases=tuple(str(a) for a in spec.get("aliases", [])),
        values=values,
        min=spec.get("min"),
        max=spec.get("max"),
        references=spec.get("references"),
        personal=_flag(spec, "personal", where),
    )


def parse_schema(doc: Any) -> dict[str, Table]:
    """Check a loaded schema document and build the table descriptions."""
    if not isinstance(doc, dict) or not isinstance(doc.get("tables"), dict):
        raise SchemaError("schema: top-level key 'tables' (a mapping) is missing")
    tables: dict[str, Table] = {}
    for tname, tspec in doc["tables"].items():
        if not isinstance(tspec, dict):
            raise SchemaError(f"tables.{tname}: expected a mapping")
        unknown = set(tspec) - _TABLE_KEYS
        if unknown:
            raise SchemaError(f"tables.{tname}: unknown key(s) {sorted(unknown)}")
        columns = {c: _parse_column(tname, c, s) for c, s in (tspec.get("columns") or {}).items()}
        if not columns:
            raise SchemaError(f"tables.{tname}.columns: no columns")
        key = tuple(tspec.get("key", []))
        for k in key:
            if k not in columns:
                raise SchemaError(f"tables.{tname}.key: {k!r} is not a column")
        on_dup = tspec.get("on_duplicate_key", "skip")
        if on_dup not in {"skip", "update"}:
            raise SchemaError(f"tables.{tname}.on_duplicate_key: {on_dup!r} is not 'skip' or 'update'")
        table = Table(tname, str(tspec.get("description", "")), columns, key,
                      bool(tspec.get("key_optional", False)), on_dup)
        seen: dict[str, str] = {}
        for col in columns.values():
            for spelling in col.spellings():
                folded = fold_header(spelling)
                if seen.get(folded, col.name) != col.name:
                    raise SchemaError(f"tables.{tname}.columns.{col.name}.aliases: {spelling!r} is also an alias of {seen[folded]!r}")
                seen[folded] = col.name
        tables[tname] = table
    for table in tables.values():
        for col in table.columns.values():
            if col.references and col.references not in tables:
                raise SchemaError(f"tables.{table.name}.columns.{col.name}.references: unknown table {col.references!r}")
    return tables


@lru_cache(maxsize=1)
def load_schema() -> dict[str, Table]:
    """The workbench's table schema (parsed once per process)."""
    return parse_schema(yaml.safe_load(SCHEMA_PATH.read_text(encoding="utf-8")))


def importable_tables() -> list[str]:
    return list(load_schema())
