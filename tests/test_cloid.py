"""hlmm.exchange.cloid: layout, uniqueness, tag recovery; accepted by the official SDK's Cloid."""
import pytest
from hypothesis import given, strategies as st
from hyperliquid.utils.types import Cloid

from hlmm.exchange.cloid import (
    SEQ_MAX,
    SESSION_MAX,
    TAG_MAX,
    CloidFactory,
    CloidParts,
    is_ours,
    is_valid_cloid,
    make_cloid,
    parse_cloid,
)

sessions = st.integers(min_value=0, max_value=SESSION_MAX)
seqs = st.integers(min_value=0, max_value=SEQ_MAX)
tags = st.integers(min_value=0, max_value=TAG_MAX)


@given(session=sessions, seq=seqs, tag=tags)
def test_make_parse_round_trip(session, seq, tag):
    c = make_cloid(session, seq, tag)
    assert is_valid_cloid(c) and len(c) == 34 and c == c.lower()
    assert parse_cloid(c) == CloidParts(session, seq, tag)
    assert parse_cloid(c.upper().replace("0X", "0x")) == CloidParts(session, seq, tag)
    assert is_ours(c) and is_ours(c, session) and not is_ours(c, session ^ 1)
    assert Cloid.from_str(c).to_raw() == c  # the SDK takes it as is


def test_bit_layout_fixed_positions():
    c = make_cloid(0x0123456789AB, 0xCDEF0123, 0x456789ABCD)
    assert c == "0x68" + "0123456789ab" + "cdef0123" + "456789abcd"
    assert make_cloid(0, 0, 0) == "0x68000000000000000000000000000000"
    assert make_cloid(SESSION_MAX, SEQ_MAX, TAG_MAX) == "0x68" + "f" * 30


@pytest.mark.parametrize("field, args", [
    ("session", (SESSION_MAX + 1, 0, 0)),
    ("seq", (0, SEQ_MAX + 1, 0)),
    ("tag", (0, 0, TAG_MAX + 1)),
    ("tag", (0, 0, -1)),
    ("tag", (0, 0, 1.5)),
    ("seq", (0, True, 0)),
])
def test_out_of_range_fields_are_refused(field, args):
    with pytest.raises(ValueError, match=f"cloid {field} must be an int"):
        make_cloid(*args)


@pytest.mark.parametrize("foreign", [
    "0x00000000000000000000000000000001",  # SDK test vector
    "0x1e60610f0b3d420597c88c1fed2ad5ee",  # Rust SDK test vector
    "0x68",  # too short
    "68000000000000000000000000000000",  # no 0x
    "0x68zz0000000000000000000000000000",
    None,
    12,
])
def test_foreign_or_malformed_cloids_are_not_ours(foreign):
    assert parse_cloid(foreign) is None
    assert not is_ours(foreign)


def test_factory_unique_monotonic_and_carries_tags():
    f = CloidFactory()
    seen = []
    for i in range(1000):
        c = f.next(tag=i * 7919)
        p = parse_cloid(c)
        assert p.session == f.session and p.seq == i and p.tag == i * 7919
        assert f.is_ours(c)
        seen.append(c)
    assert len(set(seen)) == 1000
    assert seen == sorted(seen)  # one session: ordered by sequence
    assert f.next_seq == 1000


def test_factories_do_not_collide_across_restarts():
    sessions = {CloidFactory().session for _ in range(200)}
    assert len(sessions) == 200
    a, b = CloidFactory(), CloidFactory()
    ca = a.next(5)
    assert not b.is_ours(ca) and is_ours(ca)


def test_factory_is_deterministic_given_session_and_seq():
    f = CloidFactory(session=0xABCDEF, start_seq=41)
    assert f.next(tag=9) == make_cloid(0xABCDEF, 41, 9)
    assert f.next(tag=9) == make_cloid(0xABCDEF, 42, 9)
    assert "ABCDEF".lower() in repr(f) and "next_seq=43" in repr(f)


def test_factory_moves_to_a_new_session_when_the_sequence_runs_out():
    f = CloidFactory(session=7, start_seq=SEQ_MAX)
    last = f.next()
    assert parse_cloid(last) == CloidParts(7, SEQ_MAX, 0)
    nxt = f.next()
    p = parse_cloid(nxt)
    assert p.session != 7 and p.seq == 0
    assert f.is_ours(last) and f.is_ours(nxt)


def test_factory_rejects_bad_arguments():
    with pytest.raises(ValueError):
        CloidFactory(session=SESSION_MAX + 1)
    with pytest.raises(ValueError):
        CloidFactory(start_seq=-1)
    with pytest.raises(ValueError):
        CloidFactory().next(tag=TAG_MAX + 1)
