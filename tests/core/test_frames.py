"""Several frames in one `vigil.readings` record (version 2), and the partition it goes to."""

from __future__ import annotations

import orjson
import pytest
from aiokafka.partitioner import DefaultPartitioner
from hypothesis import given
from hypothesis import strategies as st

from app.core.errors import RecordError
from app.core.protocol import Reading
from app.core.records import (
    ReadingBatch,
    decode_frames,
    decode_readings,
    encode_frames,
    encode_readings,
    murmur2,
    partition_for,
)


def _frame(device: str, patient: str, seq: int, hr: float = 72.0) -> bytes:
    ts = 1_700_000_000_000
    return encode_readings(device, patient, ts, [Reading(seq, ts, {"hr": hr})], "t")


def test_a_one_frame_record_of_today_still_decodes() -> None:
    value = _frame("dev-1", "p-a", 7)
    (batch,) = decode_frames(value)
    assert batch == decode_readings(value)
    assert isinstance(batch, ReadingBatch) and batch.readings[0]["seq"] == 7


def test_a_bad_one_frame_record_is_refused_as_before() -> None:
    with pytest.raises(RecordError) as refused:
        decode_frames(orjson.dumps({"v": 1, "device_id": "d", "patient": "p", "received_ms": "x"}))
    assert refused.value.reason == "wrong_shape"


def test_several_frames_decode_in_order_each_as_its_own_record() -> None:
    frames = [_frame("dev-1", "p-a", 1), _frame("dev-2", "p-b", 5), _frame("dev-1", "p-a", 2)]
    decoded = decode_frames(encode_frames(frames))
    assert decoded == [decode_readings(f) for f in frames]
    seqs = [(b.device_id, b.readings[0]["seq"]) for b in decoded if isinstance(b, ReadingBatch)]
    assert seqs == [("dev-1", 1), ("dev-2", 5), ("dev-1", 2)]


def test_a_malformed_frame_is_reported_in_its_place_and_its_neighbours_kept() -> None:
    bad = orjson.dumps({"v": 1, "device_id": "dev-3", "patient": "p-c", "received_ms": 1, "readings": "no"})
    value = encode_frames([_frame("dev-1", "p-a", 1), bad, b"17", _frame("dev-2", "p-b", 9)])
    first, broken, not_a_frame, last = decode_frames(value)
    assert isinstance(first, ReadingBatch) and first.device_id == "dev-1"
    assert isinstance(broken, RecordError) and broken.reason == "wrong_shape"
    assert isinstance(not_a_frame, RecordError)
    assert isinstance(last, ReadingBatch) and last.readings[0]["seq"] == 9


@pytest.mark.parametrize(
    "value",
    [b"not json", b"[]", b'{"v": 3, "frames": []}', b'{"v": 2, "frames": []}', b'{"v": 2, "frames": {}}'],
)
def test_a_record_that_cannot_be_read_at_all_is_refused_whole(value: bytes) -> None:
    with pytest.raises(RecordError):
        decode_frames(value)


def test_decode_readings_alone_does_not_take_several_frames() -> None:
    """Readers must move to `decode_frames`: a version 2 record is not one frame."""
    with pytest.raises(RecordError):
        decode_readings(encode_frames([_frame("dev-1", "p-a", 1)]))


@given(st.binary(max_size=80), st.integers(min_value=1, max_value=64))
def test_partition_is_the_one_aiokafkas_default_partitioner_gives(key: bytes, partitions: int) -> None:
    every = list(range(partitions))
    assert partition_for(key, partitions) == DefaultPartitioner()(key, every, every)


def test_murmur2_matches_kafkas_known_values() -> None:
    # From Kafka's UtilsTest.testMurmur2 (signed ints there).
    cases = {b"21": -973932308, b"foobar": -790332482, b"a-little-bit-long-string": -985981536}
    for data, signed in cases.items():
        assert murmur2(data) == signed & 0xFFFFFFFF
