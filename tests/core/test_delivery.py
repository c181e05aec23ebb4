from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from app.core.delivery import (
    DELTA_MAX,
    MAX_HELLO_GAPS,
    UNKNOWN,
    WINDOW,
    Budget,
    SeqWindow,
    TokenBucket,
    WindowRecords,
    admit,
    decode_delta,
    encode_delta,
    fingerprint,
)
from app.core.errors import StateError
from app.core.protocol import Reading


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


def fp_of(seq: int) -> int:
    return seq * 7919 % 65521 + 1  # any non-zero fingerprint that depends on the seq


@given(st.lists(st.integers(min_value=0, max_value=3000), max_size=200))
def test_window_agrees_with_a_dict_inside_the_window(seqs: list[int]) -> None:
    w = SeqWindow()
    for s in seqs:
        w.add(s, fp_of(s))
    top = max(seqs, default=-1)
    for s in range(max(0, top - WINDOW + 1), top + 2):
        assert w.stored(s) == (s in set(seqs))
        assert w.fingerprint(s) == (fp_of(s) if s in set(seqs) else None)
    assert SeqWindow.decode(w.encode()) == w


@given(
    st.lists(st.integers(min_value=0, max_value=2500), max_size=80),
    st.lists(st.integers(min_value=0, max_value=2500), max_size=80),
)
def test_merge_is_the_union(a: list[int], b: list[int]) -> None:
    wa, wb, both = SeqWindow(), SeqWindow(), SeqWindow()
    for s in a:
        wa.add(s, fp_of(s))
        both.add(s, fp_of(s))
    for s in b:
        wb.add(s, fp_of(s))
        both.add(s, fp_of(s))
    wb_copy = SeqWindow.decode(wb.encode())
    wa.merge(wb)
    assert wa == both
    wb_copy.merge(SeqWindow.decode(both.encode()))
    assert wb_copy == both


def _read(records: list[tuple[str, bytes]], known: SeqWindow | None = None) -> SeqWindow:
    """What a gateway learns from these records of one device, merged in order."""
    known = known if known is not None else SeqWindow()
    for _, value in records:
        known.merge_record(value)
    return known


@given(
    st.lists(
        st.tuples(st.lists(st.integers(min_value=0, max_value=2500), max_size=6), st.floats(0.0, 4.0)),
        max_size=60,
    ),
    st.lists(st.integers(min_value=0, max_value=2500), max_size=20),
)
def test_window_records_tell_a_reader_everything_and_the_last_one_alone_once_the_run_ends(
    rounds: list[tuple[list[int], float]], before: list[int]
) -> None:
    """Whole windows and deltas, in rounds `gap` seconds apart: a gateway that
    read every record knows what the writer's window holds; and once the run
    has closed, the last record alone (what compaction keeps) does too."""
    writer, reader = SeqWindow(), SeqWindow()
    for seq in before:  # what another gateway already wrote, read by both
        writer.add(seq, fp_of(seq))
        reader.add(seq, fp_of(seq))
    log, now = WindowRecords(snapshot_s=10.0), 0.0
    written: list[tuple[str, bytes]] = []
    for seqs, gap in rounds:
        for seq in seqs:
            writer.add(seq, fp_of(seq))
        if seqs:
            log.stored("dev", writer, tuple(seqs), tuple(fp_of(s) for s in seqs))
        now += gap
        taken = log.take(now)
        assert len(taken) <= 1  # at most one record a round
        written += taken
    assert _read(written, reader) == writer
    written += log.take(now + 10.5)  # the run has ended: its close
    assert not log.waiting()
    if written:
        assert decode_delta(written[-1][1]) is None
        assert SeqWindow.decode(written[-1][1]) == writer


def test_a_busy_device_writes_deltas_between_whole_windows() -> None:
    log, window = WindowRecords(snapshot_s=10.0), SeqWindow()
    kinds = []
    for i in range(80):  # five seqs a second for 16 s, a round every 0.25 s
        now = i * 0.25
        for seq in range(i * 5 // 4, (i + 1) * 5 // 4):
            window.add(seq, fp_of(seq))
            log.stored("dev", window, (seq,), (fp_of(seq),))
        kinds += ["whole" if decode_delta(v) is None else "delta" for _, v in log.take(now)]
    assert kinds[0] == "whole" and kinds.count("whole") == 2  # at 0 s and at 10 s
    assert kinds.count("delta") == 78


def test_a_stopping_gateway_writes_every_open_run_whole() -> None:
    """On a stop no later round closes the runs: the last round writes whole
    windows only, so compaction keeps a whole window of every device."""
    log, a, b = WindowRecords(snapshot_s=10.0), SeqWindow(), SeqWindow()
    for now, seq in ((0.0, 1), (0.25, 2)):
        for device, window in (("a", a), ("b", b)):
            window.add(seq, fp_of(seq))
            log.stored(device, window, (seq,), (fp_of(seq),))
        log.take(now)  # the first round whole, the second deltas: both runs open
    a.add(3, fp_of(3))
    log.stored("a", a, (3,), (fp_of(3),))  # stored since the last round
    final = dict(log.take(0.5, final=True))
    assert SeqWindow.decode(final["a"]) == a and SeqWindow.decode(final["b"]) == b
    assert not log.waiting()


def test_no_delta_is_read_as_a_whole_window_by_a_gateway_that_knows_only_those() -> None:
    """An older gateway decodes every record as version 1 or 2 by its length:
    no delta may have one of those lengths, or it would be merged as a window
    of other seqs (docs/asyncapi.yaml: older gateways skip deltas)."""
    for count in range(1, 2 * DELTA_MAX):
        delta = encode_delta([(seq, fp_of(seq)) for seq in range(count)])
        try:
            SeqWindow.decode(delta)
        except StateError:
            continue
        raise AssertionError(f"a delta of {count} seqs decoded as a whole window")


def test_delta_records_round_trip_and_malformed_ones_are_refused() -> None:
    entries = [(0, 1), (7, 2**32 - 1), (2**40, 5)]
    assert decode_delta(encode_delta(entries)) == entries
    assert decode_delta(SeqWindow(3, 1).encode()) is None  # a whole window: not a delta
    for bad in (b"\x03", b"\x03" + bytes(5), b"\x03" + bytes(12)):  # empty, truncated, seq -1
        try:
            decode_delta(bad)
        except StateError:
            continue
        raise AssertionError("decoded a malformed delta")


def test_merge_keeps_a_known_fingerprint_over_an_unknown_one() -> None:
    old, new = SeqWindow(), SeqWindow()
    old.add(5)  # from a version 1 record: stored, content unknown
    new.add(5, 42)
    old.merge(new)
    assert old.fingerprint(5) == 42
    new.merge(SeqWindow.decode(SeqWindow(5, 1).encode()))
    assert new.fingerprint(5) == 42


def test_version_1_records_still_decode_with_unknown_fingerprints() -> None:
    v1 = (41 + 1).to_bytes(8, "big") + (0b1011).to_bytes(WINDOW // 8, "big")  # what the gateway wrote before
    assert len(v1) == 136
    w = SeqWindow.decode(v1)
    assert (w.top, [w.fingerprint(s) for s in (38, 39, 40, 41)]) == (41, [UNKNOWN, None, UNKNOWN, UNKNOWN])
    for bad in (b"", v1[:-1], b"\x03" + w.encode()[1:]):
        try:
            SeqWindow.decode(bad)
        except StateError:
            continue
        raise AssertionError("decoded a malformed window")


def test_seqs_leaving_the_window_forget_their_fingerprints() -> None:
    w = SeqWindow()
    w.add(3, 77)
    w.add(3 + WINDOW, 78)  # seq 3's slot is reused
    assert w.fingerprint(3) is None and w.fingerprint(3 + WINDOW) == 78
    w.add(3 + WINDOW + 5, 79)
    assert w.fingerprint(3 + WINDOW + 1) is None  # a gap, not the slot's previous content


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


def test_hello_replies_are_bounded() -> None:
    w = SeqWindow()
    assert w.hello() == (None, [], None)
    for seq in (0, 1, 3, 6):
        w.add(seq)
    assert w.hello() == (6, [2, 4, 5], 0)
    sparse = SeqWindow()
    for seq in range(0, 3000, 2):  # every other seq missing
        sparse.add(seq)
    last, gaps, gaps_from = sparse.hello()
    assert (last, len(gaps)) == (2998, MAX_HELLO_GAPS)
    assert gaps == list(range(gaps_from, 2998, 2)) and gaps[-1] == 2997


def reading(seq: int, hr: int = 70, patient: str | None = None) -> Reading:
    return Reading(seq, 1_000, {"heart_rate": hr}, patient)


def test_admit_sorts_a_frame() -> None:
    window = SeqWindow()
    window.add(3, fingerprint(reading(3)))
    window.add(2)  # stored before fingerprints were kept
    readings = [reading(3), reading(4), reading(4), reading(5), reading(2, hr=99)]
    readings += [reading(6, patient="OTHER"), reading(7, patient="MRN-1")]
    readings += [reading(3, hr=71), reading(5, hr=71)]
    admission = admit(readings, "MRN-1", window)
    assert [r.seq for r in admission.new] == [4, 5, 7]
    assert admission.fingerprints == [fingerprint(reading(s)) for s in (4, 5, 7)]
    assert admission.resent == [3, 4, 2]
    assert [(r.seq, r.code.value, r.field) for r in admission.refusals] == [
        (6, "unauthorized", "patient"),
        (3, "seq_reused", "seq"),
        (5, "seq_reused", "seq"),
    ]


def test_a_fingerprint_is_of_time_and_vitals_not_seq_or_order() -> None:
    a = Reading(1, 1_000, {"heart_rate": 70, "spo2": 97})
    assert fingerprint(a) == fingerprint(Reading(2, 1_000, {"spo2": 97, "heart_rate": 70}))
    assert fingerprint(a) != fingerprint(Reading(1, 1_001, {"heart_rate": 70, "spo2": 97}))
    assert fingerprint(a) != fingerprint(Reading(1, 1_000, {"heart_rate": 71, "spo2": 97}))
    assert 0 < fingerprint(a) < 2**32


def test_every_frame_costs_and_over_the_budget_a_device_hears_once_an_interval() -> None:
    budget = Budget(TokenBucket(rate=10, burst=5), interval_s=1.0)
    assert budget.exhausted(0.0) is None
    assert budget.charge(0.0, 1) is None  # a hello
    assert budget.charge(0.0, 4) is None  # a batch of four
    over = [budget.exhausted(0.0) for _ in range(1000)]  # a flood, refused unread
    assert over[0] is not None and over[0].notify and over[0].pause_s == 0.1
    assert sum(o.notify for o in over if o) == 1
    assert budget.summary(0.5) is None  # not before an interval has passed
    assert budget.summary(1.0) == (0.0, 0.0, {"rate_limited": 1000})
    assert budget.summary(2.0) is None
    refused = budget.charge(1.0, 11)  # more than the burst never passes
    assert refused is not None and refused.notify  # a new interval: the device hears it
    assert budget.exhausted(1.0) is None and budget.charge(1.0, 5) is None
    again = budget.exhausted(1.05)
    assert again is not None and not again.notify
    assert budget.summary(1.1, final=True) == (1.0, 1.05, {"rate_limited": 2})


def test_token_bucket_says_how_long_to_wait() -> None:
    bucket = TokenBucket(rate=20, burst=100)
    assert bucket.wait_s(0.0, 100) == 0.0
    assert bucket.allow(0.0, 100)
    assert bucket.wait_s(0.0, 1) == 0.05
    assert math.isinf(bucket.wait_s(0.0, 101))


def test_a_frame_too_costly_for_the_budget_pauses_its_device_too() -> None:
    budget = Budget(TokenBucket(rate=20, burst=1000), interval_s=1.0)
    assert budget.charge(0.0, 990) is None  # 10 tokens left
    refused = budget.charge(0.0, 500)  # a big batch: read (it costs parsing), refused
    assert refused is not None and refused.pause_s == 1.0  # until it could pass, at most an interval
    assert budget.charge(0.0, 30).pause_s == 1.0  # 20 tokens short: 1 s at 20/s
    assert budget.charge(0.0, 12).pause_s == 0.1
    assert budget.charge(0.0, 2000).pause_s == 1.0  # never passes: the whole interval


def test_a_resend_spelling_a_number_another_way_is_the_same_reading() -> None:
    """Firmware that keeps its values as floats resends `65.0` for the `65`
    it sent (found by a firmware writer's client: refused `seq_reused`,
    renumbered and stored twice). A number's value is what counts; another
    value is still another reading."""
    window = SeqWindow()
    window.add(5, fingerprint(Reading(5, 1_000, {"heart_rate": 65, "temperature": 37.2})))
    admission = admit([Reading(5, 1_000, {"heart_rate": 65.0, "temperature": 37.2})], "MRN-1", window)
    assert admission.resent == [5] and not admission.refusals and not admission.new
    admission = admit([Reading(5, 1_000, {"heart_rate": 65.5, "temperature": 37.2})], "MRN-1", window)
    assert [r.code.value for r in admission.refusals] == ["seq_reused"]
    assert fingerprint(Reading(1, 1_000, {"on_oxygen": True})) != fingerprint(
        Reading(1, 1_000, {"on_oxygen": 1})
    )
