# cython: language_level=3
"""Fast column parser for trade-history CSV text.

``parse_columns`` walks the bytes of a CSV body once and fills typed numpy columns:

* ``KIND_FLOAT``    -> float64 (NaN for an empty field)
* ``KIND_TEXT``     -> int32 codes into a caller-owned intern dict (bytes -> code; -1 empty)
* ``KIND_DATETIME`` -> int32 ``[n, 7]`` parts (a, b, c, hour, minute, second, millis) in the
  order written, plus uint8 flags; the caller decides day-first vs month-first from the
  whole column (a date like 06/07 cannot be decided row by row)
* ``KIND_SKIP``     -> nothing

Every row gets a status (``ROW_*``) and the column of its first problem, so the caller can
report bad rows by line number and keep the rest.  A row containing a quote character is
marked ``ROW_QUOTED`` and left to the caller's csv-module path (quoting is rare in these
exports; keeping it out of the fast loop keeps the loop simple).

Numbers: a strict decimal grammar (sign, digits, point, exponent; no inf/nan/hex).  Values
with at most 15 significant digits and a decimal exponent within +-22 are converted
exactly (Clinger's fast path: both factors are exact doubles, so one rounding); longer
ones (JavaScript float artefacts such as ``499.48524999999995``) go to ``strtod``.
"""
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from libc.stdint cimport int16_t, int32_t, int64_t, uint8_t, uint64_t
from libc.stdlib cimport strtod
from libc.string cimport memchr, memcmp, memcpy

import numpy as np

cimport numpy as cnp

cnp.import_array()

SKIP = KIND_SKIP
FLOAT = KIND_FLOAT
TEXT = KIND_TEXT
DATETIME = KIND_DATETIME

STATUS_OK = ROW_OK
STATUS_FIELD_COUNT = ROW_FIELD_COUNT
STATUS_BAD_NUMBER = ROW_BAD_NUMBER
STATUS_BAD_DATETIME = ROW_BAD_DATETIME
STATUS_QUOTED = ROW_QUOTED

FLAG_TIME_FIRST = DT_TIME_FIRST
FLAG_PADDED = DT_PADDED
FLAG_YEAR_FIRST = DT_YEAR_FIRST
FLAG_PM = DT_PM
FLAG_AM = DT_AM
FLAG_HAS_TIME = DT_HAS_TIME
FLAG_HAS_SECONDS = DT_HAS_SECONDS

cdef double[23] _POW10 = [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14,
                          1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22]


cdef inline bint _is_space(char ch) noexcept nogil:
    return ch == b' ' or ch == b'\t' or ch == b'\r'


cdef inline bint _is_dt_space(char ch) noexcept nogil:
    # inside a date-time a comma separates words too ("6/27/2026, 2:11:28 PM")
    return ch == b' ' or ch == b'\t' or ch == b'\r' or ch == b','


cdef inline bint _is_digit(char ch) noexcept nogil:
    return b'0' <= ch <= b'9'


cdef int parse_number(const char* s, Py_ssize_t n, double* out) noexcept nogil:
    """FIELD_OK with ``out`` set, FIELD_EMPTY for blanks, FIELD_BAD for anything else."""
    cdef Py_ssize_t i = 0, j, start
    cdef bint neg = False, any_digit = False, inexact = False, exp_neg = False
    cdef uint64_t m = 0
    cdef int nd = 0, d
    cdef int64_t exp10 = 0, e = 0
    cdef char[512] buf
    cdef char* endp
    cdef double v
    while n > 0 and _is_space(s[n - 1]):
        n -= 1
    while i < n and _is_space(s[i]):
        i += 1
    if i == n:
        return FIELD_EMPTY
    start = i
    if s[i] == b'-' or s[i] == b'+':
        neg = s[i] == b'-'
        i += 1
    while i < n and _is_digit(s[i]):
        any_digit = True
        d = s[i] - 48
        if m == 0 and d == 0:
            pass
        elif nd < 19:
            m = m * 10 + <uint64_t>d
            nd += 1
        else:
            exp10 += 1
            inexact = True
        i += 1
    if i < n and s[i] == b'.':
        i += 1
        while i < n and _is_digit(s[i]):
            any_digit = True
            d = s[i] - 48
            if m == 0 and d == 0:
                exp10 -= 1
            elif nd < 19:
                m = m * 10 + <uint64_t>d
                nd += 1
                exp10 -= 1
            else:
                inexact = True
            i += 1
    if not any_digit:
        return FIELD_BAD
    if i < n and (s[i] == b'e' or s[i] == b'E'):
        i += 1
        if i < n and (s[i] == b'-' or s[i] == b'+'):
            exp_neg = s[i] == b'-'
            i += 1
        if i == n or not _is_digit(s[i]):
            return FIELD_BAD
        while i < n and _is_digit(s[i]):
            if e < 100000:
                e = e * 10 + (s[i] - 48)
            i += 1
        exp10 += -e if exp_neg else e
    if i != n:
        return FIELD_BAD
    if m == 0:
        out[0] = -0.0 if neg else 0.0
        return FIELD_OK
    if nd <= 15 and not inexact and -22 <= exp10 <= 22:
        v = <double>m
        if exp10 >= 0:
            v = v * _POW10[exp10]
        else:
            v = v / _POW10[-exp10]
        out[0] = -v if neg else v
        return FIELD_OK
    # Long mantissa or large exponent: let the C library round it correctly.
    if n - start >= 511:
        return FIELD_BAD
    memcpy(buf, s + start, n - start)
    buf[n - start] = 0
    v = strtod(buf, &endp)
    if endp != buf + (n - start) or v != v or v - v != 0.0:
        return FIELD_BAD
    out[0] = v
    return FIELD_OK


cdef inline Py_ssize_t _read_uint(const char* s, Py_ssize_t i, Py_ssize_t n, int32_t* val, int* ndig) noexcept nogil:
    """Digits at ``s[i:]`` as an int (at most 9 digits); returns the index after them."""
    cdef int32_t v = 0
    cdef int k = 0
    while i < n and _is_digit(s[i]):
        if k < 9:
            v = v * 10 + (s[i] - 48)
        k += 1
        i += 1
    val[0] = v
    ndig[0] = k
    return i


cdef int _parse_time_word(const char* s, Py_ssize_t n, DateTimeParts* out) noexcept nogil:
    cdef Py_ssize_t i = 0
    cdef int k = 0, k2 = 0
    cdef int32_t v = 0, frac = 0
    i = _read_uint(s, i, n, &v, &k)
    if k == 0 or k > 2 or i >= n or s[i] != b':':
        return FIELD_BAD
    out.hour = v
    i = _read_uint(s, i + 1, n, &v, &k)
    if k != 2:
        return FIELD_BAD
    out.minute = v
    out.second = 0
    out.millis = 0
    if i < n and s[i] == b':':
        i = _read_uint(s, i + 1, n, &v, &k)
        if k != 2:
            return FIELD_BAD
        out.second = v
        out.flags |= DT_HAS_SECONDS
        if i < n and (s[i] == b'.' or s[i] == b','):
            i = _read_uint(s, i + 1, n, &frac, &k2)
            if k2 == 0:
                return FIELD_BAD
            # keep milliseconds: scale the fraction (at most 9 digits were read) to 3 digits
            if k2 > 9:
                k2 = 9
            while k2 > 3:
                frac = frac // 10
                k2 -= 1
            while k2 < 3:
                frac *= 10
                k2 += 1
            out.millis = frac
    if i < n and (s[i] == b'Z' or s[i] == b'z') and i + 1 == n:
        i += 1
    if i != n:
        return FIELD_BAD
    if out.hour > 23 or out.minute > 59 or out.second > 60:
        return FIELD_BAD
    out.flags |= DT_HAS_TIME
    return FIELD_OK


cdef int _parse_date_word(const char* s, Py_ssize_t n, DateTimeParts* out) noexcept nogil:
    cdef Py_ssize_t i = 0
    cdef int k1 = 0, k2 = 0, k3 = 0
    cdef char sep
    cdef int32_t a = 0, b = 0, c = 0
    i = _read_uint(s, i, n, &a, &k1)
    if k1 == 0 or i >= n:
        return FIELD_BAD
    sep = s[i]
    if sep != b'/' and sep != b'-' and sep != b'.':
        return FIELD_BAD
    i = _read_uint(s, i + 1, n, &b, &k2)
    if k2 == 0 or k2 > 2 or i >= n or s[i] != sep:
        return FIELD_BAD
    i = _read_uint(s, i + 1, n, &c, &k3)
    if k3 == 0 or i != n:
        return FIELD_BAD
    if k1 == 4:
        if k3 > 2:
            return FIELD_BAD
        out.flags |= DT_YEAR_FIRST
    elif k1 > 2 or (k3 != 4 and k3 != 2):
        return FIELD_BAD
    if (k1 == 2 and s[0] == b'0') or (k2 == 2 and s[k1 + 1] == b'0'):
        out.flags |= DT_PADDED
    out.a = a
    out.b = b
    out.c = c
    return FIELD_OK


cdef inline bint _word_is(const char* s, Py_ssize_t n, char u0, char u1) noexcept nogil:
    return n == 2 and (s[0] == u0 or s[0] == u0 + 32) and (s[1] == u1 or s[1] == u1 + 32)


cdef int parse_datetime(const char* s, Py_ssize_t n, DateTimeParts* out) noexcept nogil:
    """A date and an optional time in either order: ``06/01/2025 - 17:38:42``,
    ``9/18/2025 - 14:59:56``, ``25/09/2025 13:33:06``, ``14:11:28 27/6/2026``,
    ``2025-06-01T17:38:42Z``, ``02-12-2024 22:50``, with an optional AM/PM word."""
    cdef Py_ssize_t i = 0, ws
    cdef bint has_date = False, has_time = False, has_ampm = False
    cdef int rc
    cdef Py_ssize_t k
    out.a = 0
    out.b = 0
    out.c = 0
    out.hour = 0
    out.minute = 0
    out.second = 0
    out.millis = 0
    out.flags = 0
    while n > 0 and _is_dt_space(s[n - 1]):
        n -= 1
    while i < n and _is_dt_space(s[i]):
        i += 1
    if i == n:
        return FIELD_EMPTY
    while i < n:
        while i < n and _is_dt_space(s[i]):
            i += 1
        if i == n:
            break
        ws = i
        while i < n and not _is_dt_space(s[i]):
            # ISO "dateTtime": split at a T between digits
            if (s[i] == b'T' or s[i] == b't') and i > ws and _is_digit(s[i - 1]) and i + 1 < n and _is_digit(s[i + 1]):
                break
            i += 1
        if i - ws == 1 and s[ws] == b'-':
            if i < n and (s[i] == b'T' or s[i] == b't'):
                i += 1
            continue
        if _word_is(s + ws, i - ws, b'A', b'M') or _word_is(s + ws, i - ws, b'P', b'M'):
            if has_ampm or not has_time:
                return FIELD_BAD
            has_ampm = True
            out.flags |= DT_PM if (s[ws] == b'P' or s[ws] == b'p') else DT_AM
        else:
            rc = FIELD_BAD
            for k in range(ws, i):
                if s[k] == b':':
                    if has_time:
                        return FIELD_BAD
                    rc = _parse_time_word(s + ws, i - ws, out)
                    if rc != FIELD_OK:
                        return FIELD_BAD
                    if not has_date:
                        out.flags |= DT_TIME_FIRST
                    has_time = True
                    break
            else:
                if has_date:
                    return FIELD_BAD
                rc = _parse_date_word(s + ws, i - ws, out)
                if rc != FIELD_OK:
                    return FIELD_BAD
                has_date = True
        if i < n and (s[i] == b'T' or s[i] == b't'):
            i += 1
    if not has_date:
        return FIELD_BAD
    if not has_time:
        out.flags &= ~DT_TIME_FIRST
    if has_ampm:
        if out.hour < 1 or out.hour > 12:
            return FIELD_BAD
        if out.flags & DT_PM:
            if out.hour != 12:
                out.hour += 12
        elif out.hour == 12:
            out.hour = 0
    return FIELD_OK


def parse_number_py(bytes text):
    """``parse_number`` for Python callers: a float, ``None`` for a blank, ValueError otherwise."""
    cdef double v = 0.0
    cdef int rc = parse_number(PyBytes_AS_STRING(text), PyBytes_GET_SIZE(text), &v)
    if rc == FIELD_EMPTY:
        return None
    if rc != FIELD_OK:
        raise ValueError(f"not a number: {text!r}")
    return v


def parse_datetime_py(bytes text):
    """``parse_datetime`` for Python callers: ``(a, b, c, hour, minute, second, millis, flags)``."""
    cdef DateTimeParts p
    cdef int rc = parse_datetime(PyBytes_AS_STRING(text), PyBytes_GET_SIZE(text), &p)
    if rc == FIELD_EMPTY:
        return None
    if rc != FIELD_OK:
        raise ValueError(f"not a date-time: {text!r}")
    return (p.a, p.b, p.c, p.hour, p.minute, p.second, p.millis, p.flags)


def count_lines(bytes data, Py_ssize_t start, Py_ssize_t end):
    """Number of newline characters in ``data[start:end]``."""
    cdef const char* base = PyBytes_AS_STRING(data)
    cdef const char* p = base + start
    cdef const char* stop = base + end
    cdef const char* q
    cdef Py_ssize_t count = 0
    with nogil:
        while p < stop:
            q = <const char*>memchr(p, b'\n', stop - p)
            if q == NULL:
                break
            count += 1
            p = q + 1
    return count


def parse_columns(bytes data, Py_ssize_t start, Py_ssize_t end, int64_t first_line, kinds, list interns,
                  int delimiter=44):
    """Parse the CSV body ``data[start:end]`` (no header) into columns.

    ``kinds``: one ``KIND_*`` per column.  ``interns``: one dict (bytes -> code) per
    column, used for ``KIND_TEXT`` columns and shared across calls so codes stay stable.
    ``first_line``: the file line number of ``data[start]``.

    Returns a dict: ``n`` (rows), ``line`` int64, ``status`` uint8, ``err_col`` int16,
    ``columns`` (per column: a float64 array, an int32 array, a tuple
    ``(parts int32[n, 7], flags uint8[n])``, or None).
    """
    cdef Py_ssize_t ncols = len(kinds)
    if ncols == 0 or ncols > 64:
        raise ValueError("between 1 and 64 columns")
    if not (0 <= start <= end <= PyBytes_GET_SIZE(data)):
        raise ValueError("bad byte range")
    if len(interns) != ncols:
        raise ValueError("one intern dict per column")
    cdef int[64] kind
    cdef Py_ssize_t c
    for c in range(ncols):
        kind[c] = int(kinds[c])
        if kind[c] < KIND_SKIP or kind[c] > KIND_DATETIME:
            raise ValueError(f"bad column kind {kinds[c]!r}")
    cdef Py_ssize_t cap = count_lines(data, start, end) + 1
    line_arr = np.zeros(cap, dtype=np.int64)
    status_arr = np.zeros(cap, dtype=np.uint8)
    errcol_arr = np.full(cap, -1, dtype=np.int16)
    cdef int64_t[::1] line_v = line_arr
    cdef uint8_t[::1] status_v = status_arr
    cdef int16_t[::1] errcol_v = errcol_arr

    columns = []
    for c in range(ncols):
        if kind[c] == KIND_FLOAT:
            columns.append(np.full(cap, np.nan, dtype=np.float64))
        elif kind[c] == KIND_TEXT:
            columns.append(np.full(cap, -1, dtype=np.int32))
        elif kind[c] == KIND_DATETIME:
            columns.append((np.zeros((cap, 7), dtype=np.int32), np.zeros(cap, dtype=np.uint8)))
        else:
            columns.append(None)
    # raw pointers into the freshly allocated (C-contiguous) column arrays
    cdef double* fptr[64]
    cdef int32_t* tptr[64]
    cdef int32_t* dptr[64]
    cdef uint8_t* dfptr[64]
    cdef cnp.ndarray arr
    for c in range(ncols):
        fptr[c] = NULL
        tptr[c] = NULL
        dptr[c] = NULL
        dfptr[c] = NULL
        if kind[c] == KIND_FLOAT:
            arr = columns[c]
            fptr[c] = <double*>cnp.PyArray_DATA(arr)
        elif kind[c] == KIND_TEXT:
            arr = columns[c]
            tptr[c] = <int32_t*>cnp.PyArray_DATA(arr)
        elif kind[c] == KIND_DATETIME:
            arr = columns[c][0]
            dptr[c] = <int32_t*>cnp.PyArray_DATA(arr)
            arr = columns[c][1]
            dfptr[c] = <uint8_t*>cnp.PyArray_DATA(arr)

    cdef const char* base = PyBytes_AS_STRING(data)
    cdef const char* p = base + start
    cdef const char* stop = base + end
    cdef const char* eol
    cdef const char* line_end
    cdef const char* fs
    cdef const char* fe
    cdef const char* q
    cdef Py_ssize_t row = 0
    cdef int64_t lineno = first_line
    cdef int rc
    cdef uint8_t st
    cdef double value
    cdef DateTimeParts parts
    cdef char delim = <char>delimiter
    cdef bint blank
    cdef const char* prev_s[64]
    cdef Py_ssize_t[64] prev_n
    cdef int32_t[64] prev_code
    cdef Py_ssize_t flen
    cdef object key, code
    cdef dict intern
    for c in range(ncols):
        prev_s[c] = NULL
        prev_n[c] = -1
        prev_code[c] = -1

    while p < stop:
        q = <const char*>memchr(p, b'\n', stop - p)
        eol = q if q != NULL else stop
        line_end = eol
        if line_end > p and (line_end - 1)[0] == b'\r':
            line_end -= 1
        blank = True
        fs = p
        while fs < line_end:
            if not _is_space(fs[0]):
                blank = False
                break
            fs += 1
        if blank:
            p = eol + 1
            lineno += 1
            continue
        line_v[row] = lineno
        st = ROW_OK
        if memchr(p, b'"', line_end - p) != NULL:
            status_v[row] = ROW_QUOTED
            row += 1
            p = eol + 1
            lineno += 1
            continue
        fs = p
        c = 0
        while True:
            fe = <const char*>memchr(fs, delim, line_end - fs)
            if fe == NULL:
                fe = line_end
            if c >= ncols:
                # tolerate trailing empty fields ("a,b,c,,"), as spreadsheets write them
                q = fs
                while q < line_end and (q[0] == delim or _is_space(q[0])):
                    q += 1
                if q < line_end and st == ROW_OK:
                    st = ROW_FIELD_COUNT
                    errcol_v[row] = <int16_t>c
                break
            flen = fe - fs
            if kind[c] == KIND_FLOAT:
                rc = parse_number(fs, flen, &value)
                if rc == FIELD_OK:
                    fptr[c][row] = value
                elif rc == FIELD_BAD and st == ROW_OK:
                    st = ROW_BAD_NUMBER
                    errcol_v[row] = <int16_t>c
            elif kind[c] == KIND_TEXT:
                # trim spaces
                while flen > 0 and _is_space(fs[0]):
                    fs += 1
                    flen -= 1
                while flen > 0 and _is_space(fs[flen - 1]):
                    flen -= 1
                if flen > 0:
                    if prev_n[c] == flen and memcmp(prev_s[c], fs, flen) == 0:
                        tptr[c][row] = prev_code[c]
                    else:
                        intern = interns[c]
                        key = PyBytes_FromStringAndSize(fs, flen)
                        code = intern.get(key)
                        if code is None:
                            code = len(intern)
                            intern[key] = code
                        tptr[c][row] = <int32_t>code
                        prev_s[c] = fs
                        prev_n[c] = flen
                        prev_code[c] = <int32_t>code
            elif kind[c] == KIND_DATETIME:
                rc = parse_datetime(fs, flen, &parts)
                if rc == FIELD_OK:
                    dptr[c][row * 7 + 0] = parts.a
                    dptr[c][row * 7 + 1] = parts.b
                    dptr[c][row * 7 + 2] = parts.c
                    dptr[c][row * 7 + 3] = parts.hour
                    dptr[c][row * 7 + 4] = parts.minute
                    dptr[c][row * 7 + 5] = parts.second
                    dptr[c][row * 7 + 6] = parts.millis
                    dfptr[c][row] = parts.flags
                elif st == ROW_OK:
                    st = ROW_BAD_DATETIME
                    errcol_v[row] = <int16_t>c
            c += 1
            if fe >= line_end:
                break
            fs = fe + 1
        if st == ROW_OK and c < ncols:
            st = ROW_FIELD_COUNT
            errcol_v[row] = <int16_t>c
        status_v[row] = st
        row += 1
        p = eol + 1
        lineno += 1

    return {
        "n": row,
        "line": line_arr[:row],
        "status": status_arr[:row],
        "err_col": errcol_arr[:row],
        "columns": [
            None if col is None else (
                (col[0][:row], col[1][:row]) if isinstance(col, tuple) else col[:row]
            )
            for col in columns
        ],
        "next_line": lineno,
    }
