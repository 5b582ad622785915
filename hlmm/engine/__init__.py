"""hlmm.engine: the trading engine, and the API for embedding it.

::

    from hlmm.engine import Engine, Quote, QuoteContext, Target

    engine = Engine(config, url, credentials, strategy=MyStrategy())
    engine.on_fill(lambda fill: ...)        # every fill applied (FillEvent)
    engine.on_status(lambda status: ...)    # once a second (EngineStatus)
    engine.on_sync(lambda result: ...)      # after every safety sync (SyncResult)
    summary = engine.run(duration_s=600)    # SessionSummary

Names are imported on first use, so ``import hlmm.engine.loop`` does not load the whole engine.
"""
from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Engine": "hlmm.engine.engine",
    "FillEvent": "hlmm.engine.engine",
    "Strategy": "hlmm.engine.strategy",
    "ModelStrategy": "hlmm.engine.strategy",
    "Quote": "hlmm.engine.strategy",
    "QuoteContext": "hlmm.engine.strategy",
    "Target": "hlmm.engine.reconcile",
    "CycleOutcome": "hlmm.engine.quoting",
    "SyncResult": "hlmm.engine.sync",
    "EngineStatus": "hlmm.engine.status",
    "AssetStatus": "hlmm.engine.status",
    "StatusPanel": "hlmm.engine.status",
    "SessionSummary": "hlmm.engine.summary",
    "EventLoop": "hlmm.engine.loop",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'hlmm.engine' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
