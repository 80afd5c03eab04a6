"""Surveys: churn-reason questionnaires and whom to ask.

Owns the bilingual survey template format and reason taxonomy, the template
lint, sample-size calculations and stratified samples with design weights, and
the field exports (XLSForm for ODK/KoboToolbox, the call team's interview
workbook, a printable questionnaire).
"""
