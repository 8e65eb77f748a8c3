"""Audit results: one :class:`CheckResult` per check, grouped per defense, as a table and as JSON."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

STATUSES = ("PASS", "WARN", "FAIL")  # in increasing severity


@dataclass
class CheckResult:
    """``status`` PASS, WARN or FAIL; ``evidence`` the measurements behind it; ``advice`` one line (empty on PASS)."""

    name: str
    status: str
    evidence: dict
    advice: str = ""


@dataclass
class DefenseAudit:
    defense: str
    checks: list[CheckResult] = field(default_factory=list)

    @property
    def status(self) -> str:
        return max((c.status for c in self.checks), key=STATUSES.index, default="PASS")

    def to_dict(self) -> dict:
        return {"defense": self.defense, "status": self.status, "checks": [asdict(c) for c in self.checks]}


def _brief(evidence: dict) -> str:
    return json.dumps(evidence, separators=(", ", ": "), default=str)


def format_audit(audit: DefenseAudit) -> str:
    """A printable table: check, status, evidence; then the advice for every WARN and FAIL."""
    width = max(len(c.name) for c in audit.checks)
    lines = [f"audit of {audit.defense}: {audit.status}"]
    lines += [f"  {c.name:{width}s}  {c.status:4s}  {_brief(c.evidence)}" for c in audit.checks]
    lines += [f"  -> {c.name}: {c.advice}" for c in audit.checks if c.status != "PASS"]
    return "\n".join(lines)
