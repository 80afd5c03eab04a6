"""winback-workbench: find lost customers, learn why they left, win them back, measure it.

The package is organised by the stages of the win-back cycle: ``data`` (store,
imports, demo data), ``scoring`` (who is lost, slipping, worth winning back),
``surveys`` (churn-reason questionnaires and samples), ``analysis`` (survey
answers), ``campaigns`` (scripts, offers, rounds), ``evaluation`` (did a round
work), ``reports`` (Excel and HTML for people) and ``runner`` (jobs and
notebooks run by papermill).
"""

__version__ = "0.1.0"
