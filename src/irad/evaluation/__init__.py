"""Evaluation: threat scenarios, the SA/RA loop, results JSON and tables. ``irad eval`` as a function (``EvalConfig``,
``run_eval``) is :mod:`irad.evaluation.experiment`, not imported here: it builds on :mod:`irad.auditing`, which builds
on this harness."""

from irad.evaluation.results import ResultRow, format_markdown, format_table, load_results
from irad.evaluation.runner import evaluate
from irad.evaluation.scenarios import EOT, SCENARIOS, attack_target

__all__ = ["EOT", "ResultRow", "SCENARIOS", "attack_target", "evaluate", "format_markdown", "format_table",
           "load_results"]
