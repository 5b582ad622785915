# cython: language_level=3
"""Fast pre-filter for ``hlmm audit``: classify JSON-lines log text without decoding it.

hlmm writes every line with the same header, in this key order (``hlmm.log``)::

    {"ts":"2026-01-13T15:13:53.123Z","level":"info","component":"engine.orders","event":"order_resting",...}

:class:`LogScanner` walks a buffer of lines in C.  For each line that has this header and ends
with ``}`` it parses the timestamp, applies the ``[since_ms, until_ms)`` window, counts the event
by (name, level) and the component, keeps per-event first/last timestamps and records time gaps
between consecutive event lines.  Only two kinds of line come back to Python:

* *wanted* event lines (events some rule decodes, and every line at ``want_level`` or above):
  ``(event_id, line_no, ts_ms, level_index, raw_bytes)``;
* every line that is not an hlmm event line: ``(kind, line_no, raw_bytes)`` with ``kind`` one
  of :data:`KINDS` (truncated, broken header, other JSON, text, binary).

Two more things happen in C.  ``count_field(event, field)`` counts the values of one flat string
field of an event (e.g. ``ladder_level_dropped.cause``) without handing its lines to Python.
``barrier(event)`` makes :meth:`LogScanner.scan` return right after a line of that event, so the
caller can change what it wants before the rest of the buffer is scanned.

Lines that pass the header check are not validated further here (a rule that decodes one
finds out if its body is corrupt).  That is what makes the scan cheap: no JSON decoding, no
Python object per line, names interned in fixed C hash tables.

Timestamps: ``YYYY-MM-DD[T ]HH:MM:SS[.fraction][Z|±HH:MM|±HHMM]`` (no zone = UTC), to epoch ms.
"""
from cpython.bytes cimport PyBytes_FromStringAndSize
from cpython.mem cimport PyMem_Calloc, PyMem_Free
from libc.stdint cimport int64_t, uint32_t, INT64_MIN, INT64_MAX
from libc.string cimport memchr, memcmp, memcpy, memset

KINDS = {1: "truncated", 2: "bad_header", 3: "json", 4: "text", 5: "binary"}
LEVEL_NAMES = ("debug", "info", "warning", "error", "critical", "unknown")

cdef const char *_HDR_TS = b'{"ts":"'
cdef const char *_HDR_LEVEL = b'","level":"'
cdef const char *_HDR_COMPONENT = b'","component":"'
cdef const char *_HDR_EVENT = b'","event":"'


# ------------------------------------------------------------------------------- names

cdef inline uint32_t _fnv1a(const char *p, int n) noexcept nogil:
    cdef uint32_t h = 2166136261u
    cdef int i
    for i in range(n):
        h = (h ^ <unsigned char>p[i]) * 16777619u
    return h


cdef int name_id(NameTable *t, const char *p, int n) noexcept nogil:
    """The id of name ``p[:n]`` in ``t``, adding it if new; OVERFLOW_ID when full or too long."""
    cdef uint32_t h
    cdef int slot, ident
    if n <= 0 or n >= NAME_CAP:
        return OVERFLOW_ID
    h = _fnv1a(p, n)
    slot = <int>(h & (TABLE_SLOTS - 1))
    while True:
        ident = t.slots[slot]
        if ident < 0:
            break
        if t.hashes[ident] == h and t.lens[ident] == n and memcmp(t.names[ident], p, n) == 0:
            return ident
        slot = (slot + 1) & (TABLE_SLOTS - 1)
    if t.n >= OVERFLOW_ID:
        return OVERFLOW_ID
    ident = t.n
    t.n += 1
    t.slots[slot] = ident
    t.hashes[ident] = h
    t.lens[ident] = n
    memcpy(t.names[ident], p, n)
    return ident


cdef NameTable *_new_table() except NULL:
    cdef NameTable *t = <NameTable *>PyMem_Calloc(1, sizeof(NameTable))
    cdef int i
    if t == NULL:
        raise MemoryError()
    for i in range(TABLE_SLOTS):
        t.slots[i] = -1
    return t


cdef list _names(NameTable *t):
    return [t.names[i][:t.lens[i]].decode("utf-8", "replace") for i in range(t.n)]


# --------------------------------------------------------------------------- timestamps

cdef inline int _digits(const char *p, int n, int *out) noexcept nogil:
    """Parse exactly ``n`` ASCII digits; 0 on a non-digit."""
    cdef int i, v = 0, c
    for i in range(n):
        c = <unsigned char>p[i] - 48
        if c < 0 or c > 9:
            return 0
        v = v * 10 + c
    out[0] = v
    return 1


cdef inline int64_t _days_from_civil(int64_t y, int m, int d) noexcept nogil:
    # Howard Hinnant's algorithm: days since 1970-01-01 of a proleptic Gregorian date.
    cdef int64_t era, yoe, doy, doe
    if m <= 2:
        y -= 1
    era = (y if y >= 0 else y - 399) // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


cdef inline int _days_in_month(int y, int m) noexcept nogil:
    if m == 2:
        return 29 if (y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)) else 28
    return 30 if (m == 4 or m == 6 or m == 9 or m == 11) else 31


cdef bint parse_iso_ms_c(const char *p, int n, int64_t *out) noexcept nogil:
    cdef int y, mo, d, hh, mi, ss, ms = 0, i, k, oh, om, sign
    cdef int64_t t
    if n < 19:
        return 0
    if not (_digits(p, 4, &y) and p[4] == b'-' and _digits(p + 5, 2, &mo) and p[7] == b'-'
            and _digits(p + 8, 2, &d) and (p[10] == b'T' or p[10] == b' ')
            and _digits(p + 11, 2, &hh) and p[13] == b':' and _digits(p + 14, 2, &mi)
            and p[16] == b':' and _digits(p + 17, 2, &ss)):
        return 0
    if mo < 1 or mo > 12 or d < 1 or d > _days_in_month(y, mo) or hh > 23 or mi > 59 or ss > 60:
        return 0
    i = 19
    if i < n and (p[i] == b'.' or p[i] == b','):
        i += 1
        k = 0
        while i < n and 48 <= <unsigned char>p[i] <= 57:
            if k < 3:
                ms = ms * 10 + (<unsigned char>p[i] - 48)
            k += 1
            i += 1
        if k == 0:
            return 0
        while k < 3:
            ms *= 10
            k += 1
    t = ((_days_from_civil(y, mo, d) * 24 + hh) * 60 + mi) * 60 + ss
    t = t * 1000 + ms
    if i < n:
        if p[i] == b'Z' or p[i] == b'z':
            i += 1
        elif p[i] == b'+' or p[i] == b'-':
            sign = 1 if p[i] == b'+' else -1
            i += 1
            if n - i >= 5 and p[i + 2] == b':' and _digits(p + i, 2, &oh) and _digits(p + i + 3, 2, &om):
                i += 5
            elif n - i >= 4 and _digits(p + i, 2, &oh) and _digits(p + i + 2, 2, &om):
                i += 4
            elif n - i >= 2 and _digits(p + i, 2, &oh):
                om = 0
                i += 2
            else:
                return 0
            t -= sign * (oh * 60 + om) * 60000
    if i != n:
        return 0
    out[0] = t
    return 1


def parse_iso_ms(text) -> int | None:
    """Epoch milliseconds of an ISO 8601 timestamp (no zone = UTC), or ``None`` if it is not one."""
    cdef bytes b = text.encode("ascii", "replace") if isinstance(text, str) else bytes(text)
    cdef int64_t t
    if parse_iso_ms_c(b, len(b), &t):
        return t
    return None


# ------------------------------------------------------------------------------ levels

cdef inline int _level_index(const char *p, int n) noexcept nogil:
    if n == 4 and memcmp(p, b"info", 4) == 0:
        return 1
    if n == 5 and memcmp(p, b"debug", 5) == 0:
        return 0
    if n == 7 and memcmp(p, b"warning", 7) == 0:
        return 2
    if n == 5 and memcmp(p, b"error", 5) == 0:
        return 3
    if n == 8 and memcmp(p, b"critical", 8) == 0:
        return 4
    return 5


cdef inline const char *_find_quote(const char *p, const char *end) noexcept nogil:
    return <const char *>memchr(p, b'"', end - p)


# ----------------------------------------------------------------------------- scanner

cdef class LogScanner:
    """Counts and filters hlmm JSON log lines; see the module docstring.

    ``want(name)`` marks an event whose lines :meth:`scan` returns.  Counters accumulate over
    every call (one scanner per audit, fed file after file in time order); line numbers are
    the caller's (``base_line`` + position in the buffer).
    """

    def __cinit__(self):
        self.events = _new_table()
        self.components = _new_table()
        self.values = _new_table()
        memset(self.barrier, 0, sizeof(self.barrier))
        memset(self.value_counts, 0, sizeof(self.value_counts))
        memset(self.field_key_len, 0, sizeof(self.field_key_len))
        memset(self.counts, 0, sizeof(self.counts))
        memset(self.comp_counts, 0, sizeof(self.comp_counts))
        memset(self.wanted, 0, sizeof(self.wanted))
        memset(self.level_counts, 0, sizeof(self.level_counts))
        cdef int i
        for i in range(MAX_NAMES):
            self.ev_first_ts[i] = -1
            self.ev_last_ts[i] = -1
        self.since_ms = INT64_MIN
        self.until_ms = INT64_MAX
        self.gap_ms = INT64_MAX
        self.max_gaps = 10000
        self.want_level = N_LEVELS
        self.first_ts = -1
        self.last_ts = -1
        self.min_ts = INT64_MAX
        self.max_ts = INT64_MIN
        self.file_index = 0
        self.gaps = []

    def __dealloc__(self):
        PyMem_Free(self.events)
        PyMem_Free(self.components)
        PyMem_Free(self.values)

    def event_id(self, name: str) -> int:
        """The id the scanner uses for event ``name`` (interning it)."""
        cdef bytes b = name.encode("utf-8")
        return name_id(self.events, b, len(b))

    def want(self, name: str, on: bool = True) -> int:
        """Return lines of event ``name`` from :meth:`scan` (or stop returning them)."""
        cdef int ident = self.event_id(name)
        if ident == OVERFLOW_ID:
            raise ValueError(f"event name {name!r} cannot be tracked (too long or too many names)")
        self.wanted[ident] = 1 if on else 0
        return ident

    def set_barrier(self, name: str, on: bool = True) -> int:
        """Make :meth:`scan` return right after each line of event ``name``."""
        cdef int ident = self.event_id(name)
        if ident == OVERFLOW_ID:
            raise ValueError(f"event name {name!r} cannot be tracked (too long or too many names)")
        self.barrier[ident] = 1 if on else 0
        return ident

    def count_field(self, event: str, field: str) -> None:
        """Count the values of string field ``field`` of ``event`` (one field per event).

        Only a value written as a plain JSON string without escapes is told apart; others count
        as ``(escaped)``, a missing field as ``(missing)``.  Meant for flat events, whose fields
        are not nested objects.
        """
        cdef int ident = self.event_id(event)
        cdef bytes key = b'"' + field.encode("utf-8") + b'":"'
        if ident == OVERFLOW_ID or len(key) >= NAME_CAP:
            raise ValueError(f"cannot count field {field!r} of event {event!r}")
        memcpy(self.field_key[ident], <const char *>key, len(key))
        self.field_key_len[ident] = len(key)

    def field_counts(self) -> dict:
        """``{event: {value: count}}`` of the counted fields (in-window lines only)."""
        cdef int i
        out = {}
        names = _names(self.events)
        for i in range(self.values.n):
            raw = self.values.names[i][:self.values.lens[i]]
            eid = (<unsigned char>raw[0]) << 8 | <unsigned char>raw[1]
            value = raw[2:].decode("utf-8", "replace")
            out.setdefault(names[eid], {})[value] = self.value_counts[i]
        if self.value_counts[OVERFLOW_ID]:
            out.setdefault("(other)", {})["(other)"] = self.value_counts[OVERFLOW_ID]
        return out

    def event_names(self) -> list:
        """Event names by id (index = id)."""
        return _names(self.events)

    def event_counts(self) -> dict:
        """``{event: [debug, info, warning, error, critical, unknown]}`` for events seen in the window."""
        cdef int i, k
        out = {}
        names = _names(self.events)
        for i in range(self.events.n):
            row = [self.counts[i][k] for k in range(N_LEVELS)]
            if any(row):
                out[names[i]] = row
        row = [self.counts[OVERFLOW_ID][k] for k in range(N_LEVELS)]
        if any(row):
            out["(other)"] = row
        return out

    def event_times(self) -> dict:
        """``{event: (first_ts_ms, last_ts_ms)}`` for events seen in the window."""
        cdef int i
        names = _names(self.events)
        return {names[i]: (self.ev_first_ts[i], self.ev_last_ts[i])
                for i in range(self.events.n) if self.ev_first_ts[i] >= 0}

    def component_counts(self) -> dict:
        cdef int i
        names = _names(self.components)
        out = {names[i]: self.comp_counts[i] for i in range(self.components.n) if self.comp_counts[i]}
        if self.comp_counts[OVERFLOW_ID]:
            out["(other)"] = self.comp_counts[OVERFLOW_ID]
        return out

    def level_counts_dict(self) -> dict:
        cdef int k
        return {LEVEL_NAMES[k]: self.level_counts[k] for k in range(N_LEVELS) if self.level_counts[k]}

    def gap_list(self) -> list:
        """Recorded gaps ``(file_index, line_no, from_ms, to_ms)`` (at most ``max_gaps``; ``n_gaps`` counts all)."""
        return list(self.gaps)

    def scan(self, buf, int64_t base_line=0, bint final=False, int64_t start=0):
        """Scan the complete lines of ``buf`` (bytes) from offset ``start``.

        Returns ``(end, n_lines, wanted, other, stopped)``: the offset after the last line
        consumed (up to and including the last newline; the whole buffer if ``final``), lines
        consumed, wanted event lines ``(event_id, line_no, ts_ms, level_index, raw)`` (level
        index into :data:`LEVEL_NAMES`; unknown levels are never wanted by level), other lines
        ``(kind, line_no, raw)``, and whether the scan stopped early after a barrier line (call
        again from ``end``).  Line numbers are ``base_line + 1 ...``.
        """
        cdef const unsigned char[::1] view = buf
        cdef list wanted_out = []
        cdef list other_out = []
        cdef int64_t before = self.n_lines
        cdef int64_t end
        cdef bint stopped = False
        if view.shape[0] == 0 or start >= view.shape[0]:
            return start, 0, wanted_out, other_out, False
        end = self._scan(&view[0], view.shape[0], start, final, base_line, wanted_out, other_out, &stopped)
        return end, self.n_lines - before, wanted_out, other_out, stopped

    cdef void _count_field(self, int eid, const char *p, const char *end) noexcept nogil:
        cdef int klen = self.field_key_len[eid]
        cdef const char *q = p
        cdef const char *r
        cdef const char *v
        cdef int vid
        cdef char key[NAME_CAP]
        while True:
            q = <const char *>memchr(q, b'"', end - q)
            if q == NULL or end - q < klen:
                v = b"(missing)"
                r = v + 9
                break
            if memcmp(q, self.field_key[eid], klen) == 0:
                v = q + klen
                r = v
                while r < end and r[0] != b'"' and r[0] != b'\\':
                    r += 1
                if r >= end or r[0] == b'\\':
                    v = b"(escaped)"
                    r = v + 9
                break
            q += 1
        if r - v > NAME_CAP - 3:
            r = v + NAME_CAP - 3
        key[0] = <char>((eid >> 8) & 0xFF)
        key[1] = <char>(eid & 0xFF)
        memcpy(key + 2, v, r - v)
        vid = name_id(self.values, key, <int>(r - v) + 2)
        self.value_counts[vid] += 1

    cdef int64_t _scan(self, const unsigned char *buf, int64_t n, int64_t start, bint final, int64_t base_line,
                       list wanted_out, list other_out, bint *stopped) except -1:
        cdef const char *base = <const char *>buf
        cdef const char *p
        cdef const char *end
        cdef const char *q
        cdef const char *r
        cdef const char *nl
        cdef int64_t pos = start, line_no = base_line, ts, length
        cdef int eid, cid, lvl, kind
        cdef bint ok
        while pos < n:
            nl = <const char *>memchr(base + pos, b'\n', n - pos)
            if nl == NULL:
                if not final:
                    break
                end = base + n
            else:
                end = nl
            p = base + pos
            pos = (end - base) + 1
            line_no += 1
            self.n_lines += 1
            if end > p and (end - 1)[0] == b'\r':
                end -= 1
            while end > p and ((end - 1)[0] == b' ' or (end - 1)[0] == b'\t'):
                end -= 1
            length = end - p
            if length == 0:
                self.n_blank += 1
                continue
            if length < 8 or memcmp(p, _HDR_TS, 7) != 0:
                if p[0] == b'{':
                    kind = KIND_JSON
                elif memchr(p, 0, length) != NULL:
                    kind = KIND_BINARY
                else:
                    kind = KIND_TEXT
                other_out.append((kind, line_no, PyBytes_FromStringAndSize(p, length)))
                continue
            if (end - 1)[0] != b'}':
                other_out.append((KIND_TRUNCATED, line_no, PyBytes_FromStringAndSize(p, length)))
                continue
            # --- header: ts, level, component, event -------------------------------------
            ok = False
            q = _find_quote(p + 7, end)
            if q != NULL and parse_iso_ms_c(p + 7, <int>(q - p - 7), &ts) \
                    and end - q > 11 and memcmp(q, _HDR_LEVEL, 11) == 0:
                r = _find_quote(q + 11, end)
                if r != NULL and end - r > 15 and memcmp(r, _HDR_COMPONENT, 15) == 0:
                    lvl = _level_index(q + 11, <int>(r - q - 11))
                    q = _find_quote(r + 15, end)
                    if q != NULL and end - q > 11 and memcmp(q, _HDR_EVENT, 11) == 0:
                        cid = name_id(self.components, r + 15, <int>(q - r - 15))
                        r = _find_quote(q + 11, end)
                        if r != NULL and r + 1 < end and (r[1] == b',' or r[1] == b'}'):
                            eid = name_id(self.events, q + 11, <int>(r - q - 11))
                            ok = True
            if not ok:
                other_out.append((KIND_BAD_HLMM, line_no, PyBytes_FromStringAndSize(p, length)))
                continue
            if ts < self.since_ms or ts >= self.until_ms:
                self.n_outside += 1
                continue
            # --- counting ------------------------------------------------------------------
            self.n_events += 1
            self.bytes_events += length + 1
            self.counts[eid][lvl] += 1
            self.level_counts[lvl] += 1
            self.comp_counts[cid] += 1
            if self.ev_first_ts[eid] < 0:
                self.ev_first_ts[eid] = ts
            self.ev_last_ts[eid] = ts
            if self.first_ts < 0:
                self.first_ts = ts
            self.last_ts = ts
            if ts < self.min_ts:
                self.min_ts = ts
            if self.max_ts == INT64_MIN:
                self.max_ts = ts
            elif ts > self.max_ts:
                if ts - self.max_ts > self.gap_ms:
                    self.n_gaps += 1
                    if len(self.gaps) < self.max_gaps:
                        self.gaps.append((self.file_index, line_no, self.max_ts, ts))
                self.max_ts = ts
            elif ts < self.max_ts - 1000:
                self.n_backwards += 1
            if self.field_key_len[eid]:
                self._count_field(eid, r + 1, end)
            if self.wanted[eid] or (lvl >= self.want_level and lvl < 5):
                wanted_out.append((eid, line_no, ts, lvl, PyBytes_FromStringAndSize(p, length)))
            if self.barrier[eid]:
                stopped[0] = True
                break
        return pos if pos < n else n
