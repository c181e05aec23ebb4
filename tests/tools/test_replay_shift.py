"""`vigil replay --shift-to-now` moves a recording by whole days, so that a
morning weighing is still a morning weighing (daily profiles and a cuff's
morning and evening sittings learn what they would have), unless whole days
would take its start out of the gateway's 7-day window."""

from __future__ import annotations

import pytest

from app.tools.replay import RecordingError, Row, check_times, shift_ms

DAY, HOUR = 86_400_000, 3_600_000
NOW = 1_800_000_000_000 + 15 * HOUR  # some afternoon


def rows(first_ms: int, last_ms: int) -> list[Row]:
    return [Row("HF-1", first_ms, {"weight": 80.0}), Row("HF-1", last_ms, {"weight": 80.2})]


def test_a_recording_a_year_old_keeps_its_times_of_day() -> None:
    recording = rows(NOW - 400 * DAY + 7 * HOUR, NOW - 398 * DAY + 7 * HOUR)
    offset = shift_ms(recording, NOW)
    assert offset % DAY == 0
    assert NOW - DAY <= recording[-1].ts_ms + offset <= NOW - 60_000
    check_times(recording, True, NOW)  # the gateway takes all of it


def test_one_spanning_nearly_the_whole_window_ends_a_minute_ago() -> None:
    recording = rows(NOW - 400 * DAY, NOW - 400 * DAY + int(6.9 * DAY))
    offset = shift_ms(recording, NOW)
    assert recording[-1].ts_ms + offset == NOW - 60_000
    check_times(recording, True, NOW)


def test_the_refusal_counts_one_reading_as_one() -> None:
    """`1 readings are older than 7 days`, as a newcomer saw it."""
    one_old = [Row("HF-1", NOW - 10 * DAY, {"weight": 80.0}), Row("HF-1", NOW - HOUR, {"weight": 80.2})]
    with pytest.raises(RecordingError, match=r"^1 reading is older than 7 days, "):
        check_times(one_old, False, NOW)
    with pytest.raises(RecordingError, match=r"^2 readings are older than 7 days, "):
        check_times(rows(NOW - 10 * DAY, NOW - 9 * DAY), False, NOW)
