# Log line scanner for `hlmm audit`: classifies JSON-lines log text without decoding it, counts
# events by (name, level), parses timestamps, applies a time window, and hands back only the
# lines a rule needs (and every line that is not an hlmm event line).
from libc.stdint cimport int64_t, uint32_t

cdef enum:
    MAX_NAMES = 2048             # distinct event / component names tracked (the rest: OVERFLOW_ID)
    OVERFLOW_ID = MAX_NAMES - 1  # "(other)" bucket once a table is full
    NAME_CAP = 64                # longest name stored; longer names go to OVERFLOW_ID
    TABLE_SLOTS = 4096           # open-addressing slots (power of two, > MAX_NAMES)
    N_LEVELS = 6                 # debug info warning error critical, unknown

# Kinds of line handed back to Python besides wanted event lines.
cdef enum:
    KIND_TRUNCATED = 1           # starts like an hlmm line but does not end with '}'
    KIND_BAD_HLMM = 2            # hlmm prefix but a broken header (timestamp, keys)
    KIND_JSON = 3                # a JSON-looking object of another shape (tracing, ...)
    KIND_TEXT = 4                # anything else with no NUL byte
    KIND_BINARY = 5              # contains NUL bytes


ctypedef struct NameTable:
    int n
    int slots[TABLE_SLOTS]       # -1 empty, else the id
    uint32_t hashes[MAX_NAMES]
    int lens[MAX_NAMES]
    char names[MAX_NAMES][NAME_CAP]


cdef int name_id(NameTable *t, const char *p, int n) noexcept nogil
cdef bint parse_iso_ms_c(const char *p, int n, int64_t *out) noexcept nogil


cdef class LogScanner:
    cdef NameTable *events
    cdef NameTable *components
    cdef int64_t counts[MAX_NAMES][N_LEVELS]     # event id x level
    cdef int64_t ev_first_ts[MAX_NAMES]
    cdef int64_t ev_last_ts[MAX_NAMES]
    cdef int64_t comp_counts[MAX_NAMES]
    cdef unsigned char wanted[MAX_NAMES]
    cdef unsigned char barrier[MAX_NAMES]        # scan() pauses after a line of such an event
    cdef NameTable *values                       # "<event id><field value>" of counted fields
    cdef int64_t value_counts[MAX_NAMES]
    cdef char field_key[MAX_NAMES][NAME_CAP]     # '"field":"' pattern counted for an event ('' = none)
    cdef int field_key_len[MAX_NAMES]
    cdef public int want_level                   # also return every line at this level or above (0..4)
    cdef int64_t level_counts[N_LEVELS]
    cdef public int64_t since_ms                 # inclusive; INT64_MIN: open
    cdef public int64_t until_ms                 # exclusive; INT64_MAX: open
    cdef public int64_t gap_ms                   # record gaps longer than this between event lines
    cdef public int max_gaps
    cdef readonly int64_t n_lines                # every line seen (numbering)
    cdef readonly int64_t n_blank
    cdef readonly int64_t n_events               # hlmm event lines inside the window
    cdef readonly int64_t n_outside              # hlmm event lines outside the window
    cdef readonly int64_t n_backwards            # event lines stamped > 1 s before the latest one
    cdef readonly int64_t bytes_events           # bytes of in-window event lines
    cdef readonly int64_t first_ts               # first / last in-window event timestamp in read order (ms), or -1
    cdef readonly int64_t last_ts
    cdef readonly int64_t min_ts                 # earliest / latest in-window event timestamp (ms)
    cdef readonly int64_t max_ts
    cdef public int file_index                   # caller's index of the file being scanned (for gaps)
    cdef readonly int64_t n_gaps
    cdef list gaps                               # (file_index, line_no, from_ms, to_ms)

    cdef int64_t _scan(self, const unsigned char *buf, int64_t n, int64_t start, bint final, int64_t base_line,
                       list wanted_out, list other_out, bint *stopped) except -1
    cdef void _count_field(self, int eid, const char *p, const char *end) noexcept nogil
