"""What the worker holds in front of the `patients` table.

`DecodedStates`: the table's store (RocksDB) holds states encoded; decoding
one per record cost about a fifth of the worker's throughput, so the states
of the patients seen most recently stay decoded. Emptied whenever partitions
move, so a state another worker advanced is never used.

`Unflushed`: the record cache (after Kafka Streams' record cache). A
patient's state changed by a record is kept here, encoded, until the next
flush writes it to the table and its changelog once, however many records
changed it; the records behind those states are held back from Faust's
offset commits until Kafka has the changelog records (agents/app.py), and
released in the order they came. A crash therefore replays records, never
loses a state.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from app.core.state import PatientState

MAX_UNFLUSHED = 10_000  # patients changed since the last flush before one is forced

DECODED_CACHE = 10_000  # patients; a decoded state takes about 6.4 KB


class DecodedStates:
    """A bounded map of pseudonym key -> decoded state, least recently seen out first."""

    def __init__(self, size: int = DECODED_CACHE) -> None:
        self.size = size
        self._states: OrderedDict[bytes, PatientState] = OrderedDict()

    def take(self, key: bytes) -> PatientState | None:
        """Remove and return a patient's state: while a record changes it,
        it is out of the cache, so a failure leaves no half-done state."""
        return self._states.pop(key, None)

    def put(self, key: bytes, state: PatientState) -> None:
        self._states[key] = state
        self._states.move_to_end(key)
        if len(self._states) > self.size:
            self._states.popitem(last=False)

    def clear(self) -> None:
        self._states.clear()

    def __len__(self) -> int:
        return len(self._states)

    def keys(self) -> list[bytes]:
        return list(self._states)


class Change(NamedTuple):
    partition: int  # of `vigil.readings`, and so of the table's changelog
    data: bytes  # the encoded state (app.core.state.encode: bounded)


@dataclass
class Unflushed:
    """Patients' states changed since the last flush, and the records
    (Faust events) that changed them, to be released once they are written."""

    states: dict[bytes, Change] = field(default_factory=dict)
    events: list[Any] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.states)

    def __bool__(self) -> bool:
        return bool(self.states or self.events)

    def take(self) -> Unflushed:
        """Everything so far, leaving this empty for the records that follow."""
        taken = Unflushed(self.states, self.events)
        self.states, self.events = {}, []
        return taken

    def take_one(self, key: bytes, events: list[Any]) -> Unflushed:
        """One patient's state, to be written now; the given records (not
        yet listed here) stay behind the records before them, released with
        them by the next flush. Released first, a record would let Faust
        commit past an earlier one whose state is still here: Faust commits
        over a gap of one record at the head of what it was given (its
        `Consumer._new_offset` checks `min(acked) - committed > 1`), and a
        worker that then stops, or crashes, leaves that record's reading
        out of its patient's state for good."""
        return self.take_some([key], events)

    def take_some(self, keys: list[bytes], events: list[Any]) -> Unflushed:
        """As `take_one`, for the alerting patients of a record of several frames."""
        states = {key: change for key in keys if (change := self.states.pop(key, None)) is not None}
        self.events += events
        return Unflushed(states, [])

    def restore(self, taken: Unflushed) -> None:
        """Put back what a failed flush took; states changed since stay newer."""
        self.states = taken.states | self.states
        self.events = taken.events + self.events
