"""The finding rules of ``hlmm audit``, one module per idea.

Each rule is a :class:`~hlmm.audit.context.Rule`: it names the documented events it reads
(``events``; fields are listed in its module docstring) and turns them into findings.
:data:`RULES` is the order in which they run and report.
"""
from __future__ import annotations

from hlmm.audit.rules.adverse import AdverseSelection
from hlmm.audit.rules.calibration import PredictionsValidated
from hlmm.audit.rules.errors import Errors
from hlmm.audit.rules.killswitch import KillSwitch
from hlmm.audit.rules.ladder import LadderFunding
from hlmm.audit.rules.microprice import MicropriceDivergence
from hlmm.audit.rules.quotes import QuotesThroughMid
from hlmm.audit.rules.rate import RateLimitPressure
from hlmm.audit.rules.reconnects import ReconnectStorms
from hlmm.audit.rules.rejects import RejectStorms
from hlmm.audit.rules.stale import StaleData
from hlmm.audit.rules.sync import SyncMismatches
from hlmm.audit.rules.toxic_hours import ToxicHours
from hlmm.audit.rules.untracked import UntrackedFills
from hlmm.audit.rules.warmup import QuotingDuringWarmup

RULES = (
    KillSwitch,
    QuotesThroughMid,
    MicropriceDivergence,
    QuotingDuringWarmup,
    UntrackedFills,
    SyncMismatches,
    RateLimitPressure,
    RejectStorms,
    LadderFunding,
    StaleData,
    ReconnectStorms,
    PredictionsValidated,
    AdverseSelection,
    ToxicHours,
    Errors,
)

__all__ = ["RULES"]
