"""Audit inputs: which files, in which order, compressed how, and whether they are logs at all.

* A path may be a file, a directory (its log-like files), or ``-`` (standard input).
* ``rotated=True`` adds the rotated siblings of each file (``mm.log.1`` … ``mm.log.N``, also
  with ``.gz``/``.bz2``/``.xz``), as :class:`hlmm.log.FileSink` leaves them.
* Compression is recognised by content (gzip, bzip2, xz), not by name, and streamed by
  :mod:`hlmm.audit.decompress`.  zstd and zip are recognised and refused with the command to
  run instead.  A compressed stream cut short is audited up to the damage.
* The first 64 KiB (decompressed) decide whether a file is a log.  It is *not* a log when no
  line of that sample looks like one and the sample is binary, or when it is a CSV table.  Such
  a file gets a one-line :attr:`Source.problem`; the audit skips it (and fails with
  :class:`~hlmm.errors.InputError` when no input is a log).
* Inputs are read in time order: by the first timestamp in each file (rotated files without
  one: the higher suffix is older), then in the order given.
"""
from __future__ import annotations

import csv
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from hlmm._core.logscan import parse_iso_ms
from hlmm.audit.decompress import BrokenStream, iter_decompressed
from hlmm.errors import InputError

SAMPLE_BYTES = 64 * 1024
MAX_ROTATED = 1000

_MAGIC = (
    (b"\x1f\x8b", "gzip"),
    (b"BZh", "bzip2"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
    (b"PK\x03\x04", "zip"),
)
_UNSUPPORTED = {
    "zstd": "compressed with zstd; decompress it first (zstd -d FILE) or pipe it: zstdcat FILE | hlmm audit -",
    "zip": "a zip archive; extract the log first (unzip FILE)",
}
_LOG_SUFFIX = re.compile(r"\.(log|jsonl|json|txt|out|err)(\.\d+)?(\.(gz|bz2|xz))?$|\.\d+(\.(gz|bz2|xz))?$", re.I)
_ROTATION = re.compile(r"\.(\d+)(?:\.(?:gz|bz2|xz))?$")
_TS_TEXT = re.compile(rb"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?")
_LOGLIKE_LINE = re.compile(rb"^\s*(\{|\[?(TRACE|DEBUG|INFO|WARN|WARNING|ERROR|FATAL|CRITICAL)\b)|\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")


@dataclass
class Source:
    """One input: where it is, how it is compressed, whether it is a log, when it starts."""

    name: str                          # as shown in reports (``file:line``)
    path: Path | None                  # None: standard input
    order: int                         # position among the inputs given
    size: int = 0                      # bytes on disk (compressed size for compressed files)
    compression: str | None = None     # gzip, bzip2, xz
    problem: str | None = None         # why this is not a readable log (then it is skipped)
    first_ms: int | None = None        # first timestamp seen in the sample
    empty: bool = False
    read_error: str | None = None      # set while reading: a truncated/corrupt compressed stream
    decoded_bytes: int = 0             # log bytes read (after decompression)
    _stdin: BinaryIO | _Prefixed | None = field(default=None, repr=False)
    _stdin_blocks: Iterator[tuple[bytes, int]] | None = field(default=None, repr=False)
    _stdin_head: list[tuple[bytes, int]] = field(default_factory=list, repr=False)

    @property
    def rotation(self) -> int:
        m = _ROTATION.search(self.name)
        return int(m.group(1)) if m else 0

    def blocks(self, block_bytes: int) -> Iterator[tuple[bytes, int]]:
        """``(log bytes, on-disk position)`` blocks; raises :class:`BrokenStream` at damage."""
        if self._stdin is not None:  # standard input is read once: what sniff() took comes first
            if self._stdin_blocks is None:
                self._stdin_blocks = _blocks(self._stdin, self.compression, block_bytes)
            head, self._stdin_head = self._stdin_head, []
            yield from head
            yield from self._stdin_blocks
            return
        assert self.path is not None
        with open(self.path, "rb") as raw:
            yield from _blocks(raw, self.compression, block_bytes)


class _Prefixed:
    """A stream with ``prefix`` put back in front of what remains of ``rest``."""

    def __init__(self, prefix: bytes, rest: BinaryIO) -> None:
        self._prefix = prefix
        self._rest = rest

    def read(self, n: int = -1) -> bytes:
        if self._prefix:
            if n < 0 or n >= len(self._prefix):
                out, self._prefix = self._prefix, b""
                more = self._rest.read(-1 if n < 0 else n - len(out)) if n != len(out) else b""
                return out + more
            out, self._prefix = self._prefix[:n], self._prefix[n:]
            return out
        return self._rest.read(n)


def _blocks(raw: BinaryIO, compression: str | None, block_bytes: int) -> Iterator[tuple[bytes, int]]:
    if compression:
        yield from iter_decompressed(raw, compression, block_bytes)
        return
    pos = 0
    while True:
        block = raw.read(block_bytes)
        if not block:
            return
        pos += len(block)
        yield block, pos


def discover(paths: list[str], *, rotated: bool = False) -> list[Source]:
    """The inputs named by ``paths`` (files, directories, ``-``), sniffed and in time order.

    Raises :class:`InputError` for a path that does not exist.
    """
    sources: list[Source] = []
    seen: set[Path] = set()

    def add(path: Path) -> None:
        real = path.resolve()
        if real in seen:
            return
        seen.add(real)
        sources.append(Source(name=str(path), path=path, order=len(sources)))

    for text in paths:
        if text == "-":
            sources.append(Source(name="<stdin>", path=None, order=len(sources), _stdin=sys.stdin.buffer))
            continue
        path = Path(text)
        if path.is_dir():
            files = sorted(p for p in path.iterdir() if p.is_file() and _LOG_SUFFIX.search(p.name))
            if not files:
                raise InputError(f"{text}: no log files in this directory",
                                 hint="expected names like mm.log, hlmm.jsonl, mm.log.1, mm.log.2.gz")
            for p in files:
                add(p)
            continue
        if not path.exists():
            raise InputError(f"{text}: no such file")
        if not path.is_file():
            raise InputError(f"{text}: not a regular file")
        add(path)
        if rotated:
            for p in rotated_siblings(path):
                add(p)
    for src in sources:
        sniff(src)
    return order_by_time(sources)


def rotated_siblings(path: Path) -> list[Path]:
    """``path.1``, ``path.2``, … (optionally compressed) that exist, stopping at the first gap."""
    out = []
    for i in range(1, MAX_ROTATED + 1):
        found = None
        for suffix in ("", ".gz", ".bz2", ".xz"):
            candidate = path.with_name(f"{path.name}.{i}{suffix}")
            if candidate.is_file():
                found = candidate
                break
        if found is None:
            break
        out.append(found)
    return out


def order_by_time(sources: list[Source]) -> list[Source]:
    """Known first timestamps first (ascending); then higher rotation suffix (older) first."""
    return sorted(sources, key=lambda s: (s.first_ms is None, s.first_ms or 0, -s.rotation, s.order))


def sniff(src: Source) -> None:
    """Fill ``size``, ``compression``, ``first_ms``, ``empty`` and ``problem`` from the first bytes."""
    try:
        if src._stdin is not None:
            head = src._stdin.read(SAMPLE_BYTES)
            src._stdin = _Prefixed(head, src._stdin)  # standard input cannot be rewound
        else:
            assert src.path is not None
            src.size = src.path.stat().st_size
            with open(src.path, "rb") as f:
                head = f.read(SAMPLE_BYTES)
    except OSError as exc:
        src.problem = f"cannot read: {exc.strerror or exc}"
        return
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            if kind in _UNSUPPORTED:
                src.problem = _UNSUPPORTED[kind]
                return
            src.compression = kind
            break
    sample = b""
    try:
        if src._stdin is not None:
            src._stdin_blocks = _blocks(src._stdin, src.compression, 1 << 20)
            for block in src._stdin_blocks:
                src._stdin_head.append(block)
                sample += block[0]
                if len(sample) >= SAMPLE_BYTES:
                    break
        else:
            for block, _ in src.blocks(SAMPLE_BYTES):
                sample += block
                if len(sample) >= SAMPLE_BYTES:
                    break
    except (BrokenStream, OSError) as exc:
        if not sample:
            src.problem = f"{src.compression or 'file'} data is corrupt or truncated before any log line ({exc})"
            return
    sample = sample[:SAMPLE_BYTES]
    if not sample.strip():
        src.empty = True
        return
    src.problem = not_a_log_reason(sample)
    if src.problem is None:
        for m in _TS_TEXT.finditer(sample):
            src.first_ms = parse_iso_ms(m.group(0))
            if src.first_ms is not None:
                break


def not_a_log_reason(sample: bytes) -> str | None:
    """Why ``sample`` (a file's first bytes) is not a log, or ``None`` if it can be one."""
    lines = sample.split(b"\n")
    if len(lines) > 1:
        lines = lines[:-1]  # the last one may be cut by the sample size
    loglike = sum(1 for line in lines[:200] if _LOGLIKE_LINE.search(line[:200]))
    if _is_binary(sample):
        if loglike == 0:
            return "binary data, not a text log"
        return None
    if loglike == 0 and _csv_header(lines) is not None:
        cols = _csv_header(lines) or []
        shown = ", ".join(cols[:6]) + (", …" if len(cols) > 6 else "")
        return f"a CSV table (columns: {shown}), not a log"
    return None


def _is_binary(sample: bytes) -> bool:
    if b"\x00" in sample:
        return True
    control = sum(1 for c in sample[:8192] if c < 32 and c not in (9, 10, 12, 13, 27))
    if control > len(sample[:8192]) * 0.05:
        return True
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError as exc:
        # a multi-byte character cut at the end of the sample is fine; invalid bytes earlier are not
        return exc.start < len(sample) - 4
    return False


def _csv_header(lines: list[bytes]) -> list[str] | None:
    """The header columns if ``lines`` read as a CSV table with >= 3 consistent columns."""
    text = [line.decode("utf-8", "replace").rstrip("\r") for line in lines[:50] if line.strip()]
    if len(text) < 2:
        return None
    rows = list(csv.reader(text))
    width = len(rows[0])
    if width < 3 or any(not cell.strip() for cell in rows[0]):
        return None
    if any(re.fullmatch(r"[-+.\d\s]+", cell) for cell in rows[0]):
        return None  # a header row has names, not numbers
    same = sum(1 for row in rows[1:] if len(row) == width)
    if same < 0.9 * (len(rows) - 1):
        return None
    return [cell.strip() for cell in rows[0]]


def read_blocks(src: Source, block_bytes: int) -> Iterator[tuple[bytes, int]]:
    """Log-text blocks of ``src`` with the on-disk position after each.

    A truncated or corrupt compressed stream ends the iteration after the data that decoded;
    :attr:`Source.read_error` then says what happened.
    """
    total = 0
    try:
        for block, pos in src.blocks(block_bytes):
            total += len(block)
            src.decoded_bytes = total
            yield block, pos
    except BrokenStream as exc:
        src.read_error = f"{exc} after {total:,} bytes of log; the lines before were audited"
    except OSError as exc:
        src.read_error = f"read failed after {total:,} bytes: {exc.strerror or exc}"


def last_timestamp_ms(src: Source) -> int | None:
    """The last timestamp in ``src`` (a tail read for plain files; a full pass when compressed)."""
    if src.problem or src.empty or src._stdin is not None:
        return None
    tail = b""
    if src.compression is None:
        assert src.path is not None
        with open(src.path, "rb") as f:
            f.seek(max(0, src.size - SAMPLE_BYTES))
            tail = f.read()
    else:
        try:
            for block, _ in src.blocks(1 << 20):
                tail = (tail + block)[-SAMPLE_BYTES:]
        except (BrokenStream, OSError):
            pass
    last = None
    for m in _TS_TEXT.finditer(tail):
        t = parse_iso_ms(m.group(0))
        if t is not None:
            last = t
    return last


def display_size(n: int) -> str:
    """``12.3 MB``-style size."""
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000  # type: ignore[assignment]
    return f"{n} B"
