# Keccak-256 (the Ethereum hash: original Keccak padding 0x01, not SHA3's 0x06).
#
# Used by hlmm.exchange.signing, where three small hashes per signature made the
# per-call overhead of the Python-level wrappers (~3 us each) a third of the cost.
from libc.stdint cimport uint8_t, uint64_t

cdef void keccak_f1600(uint64_t* state) noexcept nogil
cdef void keccak256_raw(const uint8_t* data, size_t n, uint8_t* out) noexcept nogil   # out[32]
