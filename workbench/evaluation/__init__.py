"""Evaluation: did a round work, for whom, and is it worth continuing?

Owns per-round outcomes in months 1-3, treated-vs-holdout and before/after
comparisons with significance tests, effect sizes and corrections, design
checks (sample-ratio mismatch, contamination, detectable effect) and the
monthly trend across rounds.
"""
