"""``irad audit``: automatic checks that a defense's robustness numbers are not artefacts of masked gradients."""

from irad.auditing.report import CheckResult, DefenseAudit, format_audit
from irad.auditing.runner import PRESETS, audit, run_audits

__all__ = ["PRESETS", "CheckResult", "DefenseAudit", "audit", "format_audit", "run_audits"]
