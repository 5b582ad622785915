"""The result of an audit: inputs, line counts, the session's accounting, findings, generic analysis."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hlmm.audit.findings import Finding, Severity
from hlmm.errors import ExitCode


@dataclass
class AuditReport:
    """Everything ``hlmm audit`` prints; :meth:`to_dict` is the ``--json`` document."""

    inputs: list[dict[str, Any]]
    window: dict[str, Any]
    lines: dict[str, Any]
    session: dict[str, Any] | None
    events: dict[str, dict[str, int]]
    components: dict[str, int]
    findings: list[Finding]
    generic: dict[str, Any] | None
    bytes_read: int = 0                 # bytes on disk (compressed size for compressed inputs)
    log_bytes: int = 0                  # bytes of log text read (after decompression)
    elapsed_s: float = 0.0
    fail_on: Severity | None = Severity.CRITICAL
    rules: list[dict[str, Any]] = field(default_factory=list)

    def count(self, severity: Severity) -> int:
        return sum(1 for f in self.findings if f.severity == severity)

    def by_id(self, finding_id: str) -> list[Finding]:
        """The findings with this id (most rules report at most one)."""
        return [f for f in self.findings if f.id == finding_id]

    @property
    def exit_code(self) -> int:
        """5 when a finding is at least ``fail_on`` (critical by default), else 0."""
        if self.fail_on is None:
            return ExitCode.OK
        if any(f.severity >= self.fail_on for f in self.findings):
            return ExitCode.CRITICAL_FINDINGS
        return ExitCode.OK

    def to_dict(self) -> dict[str, Any]:
        return {
            "inputs": self.inputs,
            "window": self.window,
            "lines": self.lines,
            "bytes_read": self.bytes_read,
            "log_bytes": self.log_bytes,
            "elapsed_s": round(self.elapsed_s, 3),
            "session": self.session,
            "events": self.events,
            "components": self.components,
            "findings": [f.to_dict() for f in self.findings],
            "summary": {str(s): self.count(s) for s in (Severity.CRITICAL, Severity.WARNING, Severity.INFO)},
            "generic": self.generic,
            "exit_code": int(self.exit_code),
        }
