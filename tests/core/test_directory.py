"""The records of `vigil.devices` and `vigil.patients`, and the gateway's
pseudonym check of a reading's patient (app/core/directory.py)."""

from __future__ import annotations

import orjson
import pytest

from app.core.delivery import SeqWindow, admit
from app.core.directory import (
    TOKEN_INDEX_CHARS,
    Device,
    SamePatient,
    decode_device,
    decode_patient,
    encode_device,
    encode_patient,
    match_token,
    token_hash,
    token_index,
)
from app.core.errors import Code
from app.core.protocol import parse_frame
from app.core.records import pseudonym

KEY = b"k" * 32


def _device(**changes: object) -> Device:
    fields: dict[str, object] = {
        "device_id": "bed-7",
        "patient": "",
        "created": "2026-11-30T10:00:00+00:00",
        "revoked": False,
        "token_sha256": token_hash("vgl_secret"),
        "subject": pseudonym(KEY, "MRN-0042"),
    }
    return Device(**(fields | changes))  # type: ignore[arg-type]


def test_a_device_record_round_trips_without_the_patient_identifier() -> None:
    device = _device()
    record = encode_device(device)
    assert decode_device(record) == device
    assert b"MRN-0042" not in record and b"vgl_secret" not in record


def test_a_device_record_needs_the_pseudonym() -> None:
    with pytest.raises(ValueError):
        encode_device(_device(subject="", patient="MRN-0042"))


@pytest.mark.parametrize(
    "value",
    [
        None,  # a tombstone
        b"not json",
        b"[]",
        orjson.dumps({"v": 2, "device_id": "bed-7"}),
        orjson.dumps({"v": 1, "device_id": "bed-7", "subject": "p-1", "token_sha256": "ab", "created": "x"}),
        orjson.dumps(
            {"v": 1, "device_id": "bed-7", "subject": 5, "token_sha256": "ab", "created": "x", "revoked": 0}
        ),
    ],
)
def test_a_device_record_this_version_cannot_read_is_no_device(value: bytes | None) -> None:
    assert decode_device(value) is None


def test_patient_records_round_trip_and_bad_ones_are_none() -> None:
    assert decode_patient(encode_patient("MRN-0042")) == "MRN-0042"
    for value in (None, b"{", orjson.dumps({"v": 1, "patient": ""}), orjson.dumps({"v": 9, "patient": "x"})):
        assert decode_patient(value) is None


def test_the_pseudonym_of_a_device_is_derived_only_where_it_is_not_known() -> None:
    assert _device().pseudonym(b"other key" * 4) == pseudonym(KEY, "MRN-0042")
    assert _device(subject="", patient="MRN-0042").pseudonym(KEY) == pseudonym(KEY, "MRN-0042")


def test_same_patient_compares_pseudonyms() -> None:
    same = SamePatient(KEY, pseudonym(KEY, "MRN-0042"))
    assert same("MRN-0042") and same("MRN-0042")
    assert not same("MRN-0043")
    assert not SamePatient(b"x" * 32, pseudonym(KEY, "MRN-0042"))("MRN-0042")


def test_a_reading_naming_another_patient_is_refused_by_pseudonym() -> None:
    frame = orjson.dumps(
        {
            "type": "batch",
            "readings": [
                {"type": "reading", "seq": 1, "ts": 1_000, "patient": "MRN-0042", "vitals": {"spo2": 97}},
                {"type": "reading", "seq": 2, "ts": 2_000, "patient": "MRN-0043", "vitals": {"spo2": 97}},
            ],
        }
    )
    parsed = parse_frame(frame, 10_000)
    admission = admit(parsed.readings, SamePatient(KEY, pseudonym(KEY, "MRN-0042")), SeqWindow())
    assert [r.seq for r in admission.new] == [1]
    assert [(r.seq, r.code) for r in admission.refusals] == [(2, Code.UNAUTHORIZED)]


def test_a_token_matches_only_its_whole_hash_among_devices_sharing_an_index() -> None:
    digest = token_hash("vgl_secret")
    same_index = digest[:TOKEN_INDEX_CHARS] + "0" * (len(digest) - TOKEN_INDEX_CHARS)
    other = _device(device_id="bed-8", token_sha256=same_index)
    mine = _device()
    assert token_index(same_index) == token_index(digest)
    assert match_token([other, mine], digest) == mine
    assert match_token([other], digest) is None  # the index alone opens nothing
    assert match_token([_device(revoked=True)], digest) is None
