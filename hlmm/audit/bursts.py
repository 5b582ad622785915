"""Error bursts: aligned time windows holding at least ``min_count`` error lines, merged when adjacent."""
from __future__ import annotations

from dataclasses import dataclass

_MAX_WINDOWS = 200_000  # windows remembered (a week of 3-second windows); later ones are dropped


@dataclass
class Burst:
    """Adjacent windows that each held at least the threshold of errors."""

    first_ms: int
    last_ms: int
    count: int
    example: str

    def to_dict(self) -> dict[str, object]:
        from hlmm.audit.timebounds import iso

        return {"first": iso(self.first_ms), "last": iso(self.last_ms), "count": self.count,
                "example": self.example}


class Bursts:
    """Counts error lines per aligned window of ``window_ms``."""

    def __init__(self, window_ms: int, min_count: int) -> None:
        self.window_ms = max(1, int(window_ms))
        self.min_count = max(1, int(min_count))
        self._windows: dict[int, list] = {}  # window index -> [count, first_ms, last_ms, example]
        self.errors = 0

    def add(self, ts_ms: int | None, where: str) -> None:
        self.errors += 1
        if ts_ms is None:
            return
        key = ts_ms // self.window_ms
        w = self._windows.get(key)
        if w is None:
            if len(self._windows) >= _MAX_WINDOWS:
                return
            self._windows[key] = [1, ts_ms, ts_ms, where]
        else:
            w[0] += 1
            if ts_ms < w[1]:
                w[1] = ts_ms
            if ts_ms > w[2]:
                w[2] = ts_ms

    def bursts(self) -> list[Burst]:
        """Bursts, most errors first."""
        out: list[Burst] = []
        prev_key = None
        for key in sorted(self._windows):
            count, first, last, example = self._windows[key]
            if count < self.min_count:
                prev_key = None
                continue
            if prev_key is not None and key == prev_key + 1 and out:
                b = out[-1]
                b.count += count
                b.last_ms = max(b.last_ms, last)
            else:
                out.append(Burst(first, last, count, example))
            prev_key = key
        out.sort(key=lambda b: (-b.count, b.first_ms))
        return out
