"""Reports: files people open.

Owns the safe Excel writer (no formulas from user text), workbook helpers and
HTML exports shared by every stage.
"""
