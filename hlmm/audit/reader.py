"""Stream one input through the :class:`~hlmm._core.logscan.LogScanner` in constant memory.

Blocks of ``block_bytes`` are read (decompressed), prefixed with the incomplete last line of
the previous block and scanned; the scanner returns only the lines a rule wants and the lines
that are not hlmm events.  When the scanner pauses after a barrier event, the lines so far are
yielded first (so the consumers can change what they want) and the scan resumes where it stopped.  A line longer than :data:`MAX_LINE_BYTES` is not buffered: it is
reported as one ``overlong`` line (its first bytes) and skipped to the next newline.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator

from hlmm._core.logscan import LogScanner
from hlmm.audit.sources import Source, read_blocks

MAX_LINE_BYTES = 16 << 20
KIND_OVERLONG = 6  # beyond the scanner's kinds (1..5)

WantedLine = tuple[int, int, int, int, bytes]  # event id, line number, ts ms, level index, raw
OtherLine = tuple[int, int, bytes]        # kind, line number, raw


def scan_source(
    scanner: LogScanner,
    src: Source,
    src_index: int,
    block_bytes: int,
    progress: Callable[[int], None] | None = None,
) -> Iterator[tuple[list[WantedLine], list[OtherLine]]]:
    """Yield ``(wanted, other)`` line lists block by block; line numbers start at 1 per input."""
    scanner.file_index = src_index
    carry = b""
    line_base = 0
    skipping = False
    for block, pos in read_blocks(src, block_bytes):
        buf = carry + block if carry else block
        carry = b""
        if skipping:
            nl = buf.find(b"\n")
            if nl < 0:
                if progress is not None:
                    progress(pos)
                continue
            buf = buf[nl + 1:]
            skipping = False
        end = 0
        while True:
            end, n, wanted, other, stopped = scanner.scan(buf, line_base, False, end)
            line_base += n
            if not stopped:
                break
            yield wanted, other
        carry = buf[end:]
        if len(carry) > MAX_LINE_BYTES:
            line_base += 1
            other.append((KIND_OVERLONG, line_base, carry[:512]))
            carry = b""
            skipping = True
        if progress is not None:
            progress(pos)
        yield wanted, other
    if carry and not skipping:
        end = 0
        while True:
            end, n, wanted, other, stopped = scanner.scan(carry, line_base, True, end)
            line_base += n
            yield wanted, other
            if not stopped:
                break
