from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from app.core.delivery import WINDOW, SeqWindow, TokenBucket, admit


def test_window_remembers_stored_seqs_and_gaps() -> None:
    w = SeqWindow()
    assert not w.stored(0)
    for seq in (0, 1, 2, 4):
        w.add(seq)
    assert [w.stored(s) for s in range(6)] == [True, True, True, False, True, False]
    w.add(3)  # a resend filling the gap
    assert w.stored(3) and w.top == 4


def test_seqs_older_than_the_window_count_as_new() -> None:
    w = SeqWindow()
    w.add(5)
    w.add(5 + WINDOW + 10)
    assert not w.stored(5)
    assert w.stored(5 + WINDOW + 10)


@given(st.lists(st.integers(min_value=0, max_value=3000), max_size=200))
def test_window_agrees_with_a_set_inside_the_window(seqs: list[int]) -> None:
    w = SeqWindow()
    for s in seqs:
        w.add(s)
    top = max(seqs, default=-1)
    for s in range(max(0, top - WINDOW + 1), top + 2):
        assert w.stored(s) == (s in set(seqs))
    assert SeqWindow.decode(w.encode()) == w


@given(
    st.lists(st.integers(min_value=0, max_value=2500), max_size=80),
    st.lists(st.integers(min_value=0, max_value=2500), max_size=80),
)
def test_merge_is_the_union(a: list[int], b: list[int]) -> None:
    wa, wb, both = SeqWindow(), SeqWindow(), SeqWindow()
    for s in a:
        wa.add(s)
        both.add(s)
    for s in b:
        wb.add(s)
        both.add(s)
    wa.merge(wb)
    assert wa == both


def test_token_bucket_allows_a_burst_then_the_rate() -> None:
    bucket = TokenBucket(rate=10, burst=100)
    assert bucket.allow(0.0, 100)
    assert not bucket.allow(0.0, 1)
    assert not bucket.allow(0.5, 6)
    assert bucket.allow(0.5, 5)
    assert bucket.allow(10.5, 100)
    # A full bucket, then 10 s of trying every millisecond: burst + 10 s x 10/s.
    sent = sum(1 for i in range(10_001) if bucket.allow(100 + i / 1000))
    assert sent == 100 + 100


def test_gaps_lists_what_a_device_must_resend() -> None:
    w = SeqWindow()
    assert w.gaps() == []
    for seq in (0, 1, 3, 6):
        w.add(seq)
    assert w.gaps() == [2, 4, 5]


def test_admit_sorts_a_frame() -> None:
    from app.core.protocol import Reading

    window = SeqWindow()
    window.add(3)
    readings = [Reading(s, 0, {"heart_rate": 70}) for s in (3, 4, 4, 5)] + [
        Reading(6, 0, {"heart_rate": 70}, patient="OTHER"),
        Reading(7, 0, {"heart_rate": 70}, patient="MRN-1"),
    ]
    admission = admit(readings, "MRN-1", window, TokenBucket(rate=1, burst=10), now_s=0)
    assert [r.seq for r in admission.new] == [4, 5, 7]
    assert admission.resent == [3, 4]
    assert [(r.seq, r.code.value) for r in admission.refusals] == [(6, "unauthorized")]

    over = admit(readings, "MRN-1", window, TokenBucket(rate=1, burst=5), now_s=0)
    assert over.new == [] and over.resent == []
    assert {r.code.value for r in over.refusals} == {"rate_limited"} and len(over.refusals) == 6
