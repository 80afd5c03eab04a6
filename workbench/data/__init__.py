"""Data: the embedded DuckDB store, its table schema, validated imports and demo data.

This package owns everything that touches raw customer data: the declarative
table schema (``schema.yaml``), short-lived store connections, CSV/XLSX readers
that cope with real exports (encodings, Chinese headers, date formats), the
all-or-nothing importer with spreadsheet-accurate error reports, and the seeded
demo-data generator with its planted effects.
"""
