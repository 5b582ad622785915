"""``hlmm audit``: what went wrong in a session, and how it did — from its logs, in seconds.

Public API::

    from hlmm.audit import audit, AuditOptions
    report = audit(["logs/hlmm.jsonl"], AuditOptions(), rotated=True)
    report.findings        # [Finding(id, severity, title, count, first/last, examples, cause, look_at)]
    report.session         # span, account value, PnL split, fills, orders, rate headroom, ...
    report.exit_code       # 5 if a finding is critical

Modules: :mod:`~hlmm.audit.sources` (inputs), :mod:`~hlmm.audit.reader` (streaming through the
C scanner :mod:`hlmm._core.logscan`), :mod:`~hlmm.audit.session` (accounting),
:mod:`~hlmm.audit.rules` (one finding rule per module), :mod:`~hlmm.audit.generic` (logs of other
market makers), :mod:`~hlmm.audit.render` (tables).
"""
from hlmm.audit.findings import Finding, Severity
from hlmm.audit.options import AuditOptions
from hlmm.audit.report import AuditReport
from hlmm.audit.runner import audit
from hlmm.audit.timebounds import parse_time_bound

__all__ = ["AuditOptions", "AuditReport", "Finding", "Severity", "audit", "parse_time_bound"]
