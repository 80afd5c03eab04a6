"""Runner: jobs that tie the stages together.

Owns the demo job and the papermill notebook runs, writing each run's outputs
to a temporary folder and moving them into place only when everything succeeded.
"""
