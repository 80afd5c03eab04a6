"""Scoring: who is lost or slipping, and who is worth winning back.

Owns the RFM summary (all time and last 365 days, necessary vs discretionary
spend, each customer's own visit rhythm), the churn index and the lighter early
warning, lifecycle stages, value tiers and octants, and customer lifetime value.
"""
