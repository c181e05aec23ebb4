"""The next expected offset per partition of vigil.readings, and what to do
with a record that comes past a gap (app.core.offsets)."""

from __future__ import annotations

from app.core.offsets import OffsetCursors, Step


def test_records_in_order_are_processed() -> None:
    cursors = OffsetCursors()
    for offset in (10, 11, 12):
        assert cursors.check(0, offset, committed=10, now=0.0) is Step.PROCESS
        cursors.processed(0, offset)
    assert cursors.expected(0) == 13


def test_the_first_record_after_an_assignment_is_expected_at_the_committed_offset() -> None:
    cursors = OffsetCursors()
    assert cursors.check(1, 1652, committed=1650, now=0.0) is Step.SEEK
    assert cursors.expected(1) == 1650


def test_with_nothing_committed_the_first_record_is_taken_as_it_comes() -> None:
    cursors = OffsetCursors()
    assert cursors.check(0, 37, committed=None, now=0.0) is Step.PROCESS


def test_a_later_gap_is_found_too() -> None:
    cursors = OffsetCursors()
    cursors.check(0, 10, committed=10, now=0.0)
    cursors.processed(0, 10)
    assert cursors.check(0, 12, committed=10, now=0.0) is Step.SEEK
    assert cursors.expected(0) == 11


def test_records_past_the_gap_are_skipped_until_the_expected_one_comes_or_it_is_time_to_seek_again() -> None:
    cursors = OffsetCursors(reseek_after_s=2.0)
    assert cursors.check(0, 12, committed=10, now=0.0) is Step.SEEK
    assert cursors.check(0, 13, committed=10, now=1.0) is Step.SKIP
    assert cursors.check(0, 14, committed=10, now=2.5) is Step.RESEEK
    assert cursors.check(0, 15, committed=10, now=3.0) is Step.SKIP
    assert cursors.check(0, 10, committed=10, now=3.1) is Step.PROCESS
    cursors.processed(0, 10)
    assert cursors.check(0, 11, committed=10, now=3.2) is Step.PROCESS


def test_a_record_read_again_is_processed_and_partitions_are_apart() -> None:
    cursors = OffsetCursors()
    cursors.check(0, 20, committed=None, now=0.0)
    cursors.processed(0, 20)
    assert cursors.check(0, 18, committed=None, now=0.0) is Step.PROCESS
    assert cursors.check(1, 5, committed=5, now=0.0) is Step.PROCESS


def test_everything_is_forgotten_on_a_rebalance() -> None:
    cursors = OffsetCursors()
    cursors.check(0, 12, committed=10, now=0.0)
    cursors.reset()
    assert cursors.expected(0) is None
    assert cursors.check(0, 12, committed=12, now=0.0) is Step.PROCESS


def test_a_gap_whose_records_never_come_again_is_given_up_after_max_seeks() -> None:
    """The records may be gone (retention deleted them): the partition must
    not stall waiting for them."""
    cursors = OffsetCursors(reseek_after_s=2.0, max_seeks=3)
    assert cursors.check(0, 500, committed=10, now=0.0) is Step.SEEK
    assert cursors.check(0, 501, committed=10, now=2.0) is Step.RESEEK
    assert cursors.check(0, 502, committed=10, now=4.0) is Step.RESEEK
    assert cursors.check(0, 503, committed=10, now=5.0) is Step.SKIP
    assert cursors.check(0, 504, committed=10, now=6.0) is Step.SETTLE  # 10-499 given up
    assert cursors.check(0, 500, committed=10, now=6.1) is Step.PROCESS  # read on from the first seen
    cursors.processed(0, 500)
    assert cursors.check(0, 501, committed=10, now=6.2) is Step.PROCESS


def test_a_gap_whose_partition_goes_quiet_is_sought_again_by_the_timer() -> None:
    """No record arrives after the seek (Faust dropped the records fetched
    again, the devices are quiet): the timer seeks again, up to max_seeks."""
    cursors = OffsetCursors(reseek_after_s=2.0, max_seeks=3)
    assert cursors.check(0, 12, committed=10, now=0.0) is Step.SEEK
    assert cursors.reseeks_due(now=1.0) == []
    assert cursors.reseeks_due(now=2.0) == [(0, 10)]
    assert cursors.reseeks_due(now=3.0) == []
    assert cursors.reseeks_due(now=4.0) == [(0, 10)]
    assert cursors.reseeks_due(now=9.0) == []  # three seeks: the next record decides (GIVE_UP)
    assert cursors.check(0, 10, committed=10, now=9.1) is Step.PROCESS


def test_giving_up_goes_back_to_the_first_record_seen_past_the_gap() -> None:
    """Records 10 and 11 never come again; 12-15 came while the worker
    sought, and were skipped. Giving up, it reads on from 12 (seeking there
    once), not from the record in hand: only the records never seen are
    given up (an outside review: 12-15 were lost too). If 12 does not come
    either, it processes what comes."""
    cursors = OffsetCursors(reseek_after_s=2.0, max_seeks=2)
    assert cursors.check(0, 12, committed=10, now=0.0) is Step.SEEK
    assert cursors.check(0, 13, committed=10, now=1.0) is Step.SKIP
    assert cursors.check(0, 14, committed=10, now=2.0) is Step.RESEEK
    assert cursors.check(0, 15, committed=10, now=3.0) is Step.SKIP
    assert cursors.check(0, 16, committed=10, now=4.0) is Step.SETTLE
    assert cursors.expected(0) == 12
    assert cursors.check(0, 12, committed=10, now=4.1) is Step.PROCESS
    cursors.processed(0, 12)
    assert cursors.check(0, 13, committed=10, now=4.2) is Step.PROCESS

    cursors = OffsetCursors(reseek_after_s=2.0, max_seeks=1, settle_seeks=2)
    assert cursors.check(0, 12, committed=10, now=0.0) is Step.SEEK
    assert cursors.check(0, 14, committed=10, now=2.0) is Step.SETTLE
    assert cursors.check(0, 15, committed=10, now=3.0) is Step.SKIP  # 12 may yet come
    assert cursors.reseeks_due(now=4.0) == [(0, 12)]  # not yet: seek to it again (the timer)
    assert cursors.reseeks_due(now=6.0) == []  # settle_seeks spent
    assert cursors.check(0, 16, committed=10, now=6.5) is Step.GIVE_UP  # it did not come


def test_giving_up_on_the_first_record_seen_past_the_gap_processes_it() -> None:
    cursors = OffsetCursors(reseek_after_s=2.0, max_seeks=1)
    assert cursors.check(0, 12, committed=10, now=0.0) is Step.SEEK
    assert cursors.check(0, 12, committed=10, now=2.0) is Step.GIVE_UP  # nothing before it was seen
