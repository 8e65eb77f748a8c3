"""Evaluation: threat scenarios, the SA/RA loop, results JSON and tables."""

from irad.data import load_eval_data  # noqa: F401 (its home is irad.data; the benchmarks import it from here)
from irad.evaluation.experiment import EvalConfig, run_eval
from irad.evaluation.results import ResultRow, format_markdown, format_table, load_results
from irad.evaluation.runner import evaluate
from irad.evaluation.scenarios import EOT, SCENARIOS, attack_target

__all__ = ["EOT", "EvalConfig", "ResultRow", "SCENARIOS", "attack_target", "evaluate", "format_markdown",
           "format_table", "load_results", "run_eval"]
