# Column parser for trade-history CSV files (Hyperliquid's UI export and similar):
# numbers, interned text and locale-formatted date-times, with per-row status codes
# so bad rows are reported by line number instead of failing the file.
from libc.stdint cimport int32_t, int64_t, uint8_t, uint64_t

cdef enum:
    KIND_SKIP = 0
    KIND_FLOAT = 1
    KIND_TEXT = 2
    KIND_DATETIME = 3

cdef enum:
    ROW_OK = 0
    ROW_FIELD_COUNT = 1      # fewer or more fields than the header
    ROW_BAD_NUMBER = 2
    ROW_BAD_DATETIME = 3
    ROW_QUOTED = 4           # has a quote character: the caller re-splits it with the csv module

cdef enum:
    FIELD_OK = 0
    FIELD_EMPTY = 1
    FIELD_BAD = 2

# flags of a parsed date-time
cdef enum:
    DT_TIME_FIRST = 1        # "14:11:28 27/6/2026"
    DT_PADDED = 2            # a date field written with a leading zero ("06/01/2025")
    DT_YEAR_FIRST = 4        # "2025-06-01"
    DT_PM = 8
    DT_AM = 16
    DT_HAS_TIME = 32
    DT_HAS_SECONDS = 64

cdef struct DateTimeParts:
    int32_t a                # date fields in the order they are written
    int32_t b
    int32_t c
    int32_t hour
    int32_t minute
    int32_t second
    int32_t millis
    uint8_t flags

cdef int parse_number(const char* s, Py_ssize_t n, double* out) noexcept nogil
cdef int parse_datetime(const char* s, Py_ssize_t n, DateTimeParts* out) noexcept nogil
