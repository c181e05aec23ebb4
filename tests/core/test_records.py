"""Reading ids: stable, and the same UUID version 5 the documented recipe gives."""

from __future__ import annotations

import uuid

from hypothesis import given
from hypothesis import strategies as st

from app.core.records import _READING_NS, reading_id


@given(st.text(min_size=1, max_size=64), st.integers(min_value=0, max_value=2**53))
def test_reading_id_is_uuid5_of_device_and_seq(device_id: str, seq: int) -> None:
    expected = uuid.uuid5(_READING_NS, f"{device_id}\x1f{seq}")
    assert reading_id(device_id, seq) == str(expected)
    assert uuid.UUID(reading_id(device_id, seq)).version == 5
