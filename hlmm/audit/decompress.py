"""Streaming decompression of gzip, bzip2 and xz logs, in bounded memory, keeping what decodes.

Why not :class:`gzip.GzipFile`: its ``read(n)`` raises on a stream cut short and the data it had
decoded in that call is lost, and it hides the compressed position (for progress).  Here the
decompressor objects are fed 1 MiB of compressed input at a time, each step yields at most
``out_block`` bytes (a small file that decompresses to gigabytes stays in bounded memory), and
concatenated members/streams (``cat a.gz b.gz``) are followed.  A stream that ends early or
fails to decode raises :class:`BrokenStream` *after* everything before the damage was yielded.
"""
from __future__ import annotations

import bz2
import lzma
import zlib
from collections.abc import Iterator
from typing import BinaryIO

IN_BLOCK = 1 << 20

_MAGIC = {"gzip": b"\x1f\x8b", "bzip2": b"BZh", "xz": b"\xfd7zXZ\x00"}


class BrokenStream(Exception):
    """The compressed data ends early or is corrupt (``decoded`` bytes came out before)."""

    def __init__(self, message: str, decoded: int) -> None:
        super().__init__(message)
        self.decoded = decoded


def _new(kind: str):  # type: ignore[no-untyped-def]
    if kind == "gzip":
        return zlib.decompressobj(16 + zlib.MAX_WBITS)
    if kind == "bzip2":
        return bz2.BZ2Decompressor()
    if kind == "xz":
        return lzma.LZMADecompressor()
    raise ValueError(f"unknown compression {kind!r}")


def iter_decompressed(raw: BinaryIO, kind: str, out_block: int) -> Iterator[tuple[bytes, int]]:
    """Yield ``(decompressed bytes, compressed bytes read so far)``; see the module docstring."""
    magic = _MAGIC[kind]
    d = None            # the current member's decompressor (None: between members)
    pending = b""       # compressed bytes read but not given to ``d`` yet
    consumed = decoded = 0
    raw_eof = False

    def read() -> bytes:
        nonlocal consumed, raw_eof
        data = raw.read(IN_BLOCK)
        consumed += len(data)
        raw_eof = not data
        return data

    while True:
        if d is None:  # the start of a member (or the end of the input)
            if not pending and not raw_eof:
                pending = read()
            data = pending.lstrip(b"\x00")  # zero padding between/after members is allowed
            if not data:
                pending = b""
                if raw_eof:
                    return
                continue
            if len(data) < len(magic) and not raw_eof:
                pending = data + read()
                continue
            if not data.startswith(magic):
                raise BrokenStream(f"{kind} stream is followed by bytes that are not {kind} data", decoded)
            d, pending = _new(kind), data
        try:
            if kind == "gzip":
                out = d.decompress(pending, out_block)
                if d.eof:  # the rest of the input is in unused_data (unconsumed_tail repeats it)
                    pending, d = d.unused_data, None
                    hungry = False
                else:
                    pending = d.unconsumed_tail
                    hungry = not out and not pending
            else:
                if d.needs_input:
                    out = d.decompress(pending, out_block)
                    pending = b""
                else:  # it still holds input: drain before feeding more
                    out = d.decompress(b"", out_block)
                if d.eof:
                    pending, d = d.unused_data + pending, None
                    hungry = False
                else:
                    hungry = d.needs_input and not pending
        except (zlib.error, OSError, lzma.LZMAError, EOFError, ValueError) as exc:
            raise BrokenStream(f"{kind} data is corrupt ({exc})", decoded) from None
        if out:
            decoded += len(out)
            yield out, consumed
        if hungry:
            pending = b"" if raw_eof else read()
            if not pending:
                raise BrokenStream(f"{kind} stream ends early", decoded)
