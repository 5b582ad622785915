# cython: language_level=3
"""Keccak-256 in C: a sponge of rate 136 bytes over Keccak-f[1600] (FIPS 202 permutation,
original Keccak padding). Lanes are read and written little-endian byte by byte, so the
result does not depend on the host's byte order."""
from cpython.bytes cimport PyBytes_FromStringAndSize
from libc.stdint cimport uint8_t, uint64_t
from libc.string cimport memset

cdef uint64_t[24] _RC = [
    0x0000000000000001ULL, 0x0000000000008082ULL, 0x800000000000808aULL, 0x8000000080008000ULL,
    0x000000000000808bULL, 0x0000000080000001ULL, 0x8000000080008081ULL, 0x8000000000008009ULL,
    0x000000000000008aULL, 0x0000000000000088ULL, 0x0000000080008009ULL, 0x000000008000000aULL,
    0x000000008000808bULL, 0x800000000000008bULL, 0x8000000000008089ULL, 0x8000000000008003ULL,
    0x8000000000008002ULL, 0x8000000000000080ULL, 0x000000000000800aULL, 0x800000008000000aULL,
    0x8000000080008081ULL, 0x8000000000008080ULL, 0x0000000080000001ULL, 0x8000000080008008ULL,
]
cdef enum:
    RATE = 136  # bytes absorbed per permutation: (1600 - 2 * 256) / 8


cdef inline uint64_t _rotl(uint64_t x, int n) noexcept nogil:
    return (x << n) | (x >> (64 - n))


cdef void keccak_f1600(uint64_t* st) noexcept nogil:
    # Lanes live in locals (a<x><y>: column x, row y) so the compiler keeps them in registers.
    cdef uint64_t a00, a10, a20, a30, a40, a01, a11, a21, a31, a41, a02, a12, a22, a32, a42, a03, a13, a23, a33, a43, a04, a14, a24, a34, a44
    cdef uint64_t b00, b10, b20, b30, b40, b01, b11, b21, b31, b41, b02, b12, b22, b32, b42, b03, b13, b23, b33, b43, b04, b14, b24, b34, b44
    cdef uint64_t c0, c1, c2, c3, c4, d0, d1, d2, d3, d4
    cdef int rnd
    a00 = st[0]; a10 = st[1]; a20 = st[2]; a30 = st[3]; a40 = st[4]
    a01 = st[5]; a11 = st[6]; a21 = st[7]; a31 = st[8]; a41 = st[9]
    a02 = st[10]; a12 = st[11]; a22 = st[12]; a32 = st[13]; a42 = st[14]
    a03 = st[15]; a13 = st[16]; a23 = st[17]; a33 = st[18]; a43 = st[19]
    a04 = st[20]; a14 = st[21]; a24 = st[22]; a34 = st[23]; a44 = st[24]
    for rnd in range(24):
        # theta: xor each column's parity into its neighbours
        c0 = a00 ^ a01 ^ a02 ^ a03 ^ a04
        c1 = a10 ^ a11 ^ a12 ^ a13 ^ a14
        c2 = a20 ^ a21 ^ a22 ^ a23 ^ a24
        c3 = a30 ^ a31 ^ a32 ^ a33 ^ a34
        c4 = a40 ^ a41 ^ a42 ^ a43 ^ a44
        d0 = c4 ^ _rotl(c1, 1)
        d1 = c0 ^ _rotl(c2, 1)
        d2 = c1 ^ _rotl(c3, 1)
        d3 = c2 ^ _rotl(c4, 1)
        d4 = c3 ^ _rotl(c0, 1)
        a00 ^= d0; a10 ^= d1; a20 ^= d2; a30 ^= d3; a40 ^= d4
        a01 ^= d0; a11 ^= d1; a21 ^= d2; a31 ^= d3; a41 ^= d4
        a02 ^= d0; a12 ^= d1; a22 ^= d2; a32 ^= d3; a42 ^= d4
        a03 ^= d0; a13 ^= d1; a23 ^= d2; a33 ^= d3; a43 ^= d4
        a04 ^= d0; a14 ^= d1; a24 ^= d2; a34 ^= d3; a44 ^= d4
        # rho and pi: rotate each lane and move (x, y) -> (y, 2x + 3y)
        b00 = a00; b02 = _rotl(a10, 1); b04 = _rotl(a20, 62); b01 = _rotl(a30, 28); b03 = _rotl(a40, 27)
        b13 = _rotl(a01, 36); b10 = _rotl(a11, 44); b12 = _rotl(a21, 6); b14 = _rotl(a31, 55); b11 = _rotl(a41, 20)
        b21 = _rotl(a02, 3); b23 = _rotl(a12, 10); b20 = _rotl(a22, 43); b22 = _rotl(a32, 25); b24 = _rotl(a42, 39)
        b34 = _rotl(a03, 41); b31 = _rotl(a13, 45); b33 = _rotl(a23, 15); b30 = _rotl(a33, 21); b32 = _rotl(a43, 8)
        b42 = _rotl(a04, 18); b44 = _rotl(a14, 2); b41 = _rotl(a24, 61); b43 = _rotl(a34, 56); b40 = _rotl(a44, 14)
        # chi: non-linear mix along each row
        a00 = b00 ^ (~b10 & b20)
        a10 = b10 ^ (~b20 & b30)
        a20 = b20 ^ (~b30 & b40)
        a30 = b30 ^ (~b40 & b00)
        a40 = b40 ^ (~b00 & b10)
        a01 = b01 ^ (~b11 & b21)
        a11 = b11 ^ (~b21 & b31)
        a21 = b21 ^ (~b31 & b41)
        a31 = b31 ^ (~b41 & b01)
        a41 = b41 ^ (~b01 & b11)
        a02 = b02 ^ (~b12 & b22)
        a12 = b12 ^ (~b22 & b32)
        a22 = b22 ^ (~b32 & b42)
        a32 = b32 ^ (~b42 & b02)
        a42 = b42 ^ (~b02 & b12)
        a03 = b03 ^ (~b13 & b23)
        a13 = b13 ^ (~b23 & b33)
        a23 = b23 ^ (~b33 & b43)
        a33 = b33 ^ (~b43 & b03)
        a43 = b43 ^ (~b03 & b13)
        a04 = b04 ^ (~b14 & b24)
        a14 = b14 ^ (~b24 & b34)
        a24 = b24 ^ (~b34 & b44)
        a34 = b34 ^ (~b44 & b04)
        a44 = b44 ^ (~b04 & b14)
        # iota
        a00 ^= _RC[rnd]
    st[0] = a00; st[1] = a10; st[2] = a20; st[3] = a30; st[4] = a40
    st[5] = a01; st[6] = a11; st[7] = a21; st[8] = a31; st[9] = a41
    st[10] = a02; st[11] = a12; st[12] = a22; st[13] = a32; st[14] = a42
    st[15] = a03; st[16] = a13; st[17] = a23; st[18] = a33; st[19] = a43
    st[20] = a04; st[21] = a14; st[22] = a24; st[23] = a34; st[24] = a44


cdef inline uint64_t _load64_le(const uint8_t* p) noexcept nogil:
    # compilers turn this into a single load on little-endian hosts
    return ((<uint64_t>p[0]) | (<uint64_t>p[1] << 8) | (<uint64_t>p[2] << 16) | (<uint64_t>p[3] << 24)
            | (<uint64_t>p[4] << 32) | (<uint64_t>p[5] << 40) | (<uint64_t>p[6] << 48) | (<uint64_t>p[7] << 56))


cdef inline void _xor_byte(uint64_t* st, size_t pos, uint8_t b) noexcept nogil:
    st[pos >> 3] ^= (<uint64_t>b) << (8 * (pos & 7))


cdef void keccak256_raw(const uint8_t* data, size_t n, uint8_t* out) noexcept nogil:
    cdef uint64_t[25] st
    cdef size_t i, off = 0
    memset(st, 0, sizeof(st))
    while n - off >= RATE:
        for i in range(RATE // 8):
            st[i] ^= _load64_le(data + off + 8 * i)
        keccak_f1600(st)
        off += RATE
    for i in range(n - off):
        _xor_byte(st, i, data[off + i])
    _xor_byte(st, n - off, 0x01)
    _xor_byte(st, RATE - 1, 0x80)
    keccak_f1600(st)
    for i in range(32):
        out[i] = <uint8_t>(st[i >> 3] >> (8 * (i & 7)))


def keccak256(const uint8_t[::1] data not None) -> bytes:
    """Keccak-256 digest (32 bytes) of a bytes-like object."""
    cdef uint8_t[32] out
    cdef size_t n = data.shape[0]
    with nogil:
        keccak256_raw(&data[0] if n else <const uint8_t*>out, n, out)
    return PyBytes_FromStringAndSize(<char*>out, 32)
