"""Campaigns: per-reason retention scripts, bundle offers and rounds.

Owns playbook loading and validation, the assignment engine (script step,
channel, bundle, agent, randomised holdout), the call-team workbook and its
read-back into contact attempts and outcomes.
"""
