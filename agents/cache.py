"""What the worker holds in front of the `patients` table.

`DecodedStates`: the table's store (RocksDB) holds states encoded; decoding
one per record cost about a fifth of the worker's throughput, so the states
of the patients seen most recently stay decoded. Emptied whenever partitions
move, so a state another worker advanced is never used.

`PatientCensus`: the `vigil_worker_patients` gauge, counted a slice of keys
at a time; counting all of a RocksDB table at once held up the worker for
135 ms per 100,000 patients at every scrape.

`Unflushed`: the record cache (after Kafka Streams' record cache). A
patient's state changed by a record is kept here, encoded, until the next
flush writes it to the table and its changelog once, however many records
changed it; the records behind those states are held back from Faust's
offset commits until Kafka has the changelog records (agents/app.py), and
released in the order they came. A crash therefore replays records, never
loses a state.
"""

from __future__ import annotations

import itertools
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from app.core.state import PatientState

# A flush is forced before the flush interval when the record cache holds
# this many patients, or as many as the decoded-state cache
# (`VIGIL_WORKER_DECODED_CACHE`) if that is more: a cap below the patients
# seen in one interval would write every patient at every reading again.
MAX_UNFLUSHED = 10_000
# ... or holds back this many records (Faust events, about 1 KB each with
# their values): at one reading per record, 20,000 a second, a 5 s interval.
MAX_HELD_RECORDS = 100_000

CENSUS_SLICE = 2_000  # keys counted per step (about 3 ms of the event loop)


class DecodedStates:
    """A bounded map of pseudonym key -> decoded state, least recently seen out first."""

    def __init__(self, size: int) -> None:  # patients (`VIGIL_WORKER_DECODED_CACHE`)
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


class PatientCensus:
    """How many patients the worker's table holds, for `vigil_worker_patients`.

    Faust counts a RocksDB table by iterating every key of its partitions
    (`Store._size`): 135 ms per 100,000 patients, on the event loop, at
    every scrape of /metrics, with the agent stopped meanwhile. The census
    counts `CENSUS_SLICE` keys per `step` (a timer's), and `count` is the
    total of the last complete pass: exact as of that pass, a full pass
    every `patients / CENSUS_SLICE` steps. A pass starts over when the
    partitions move (`restart`). Tables held in memory (`memory://`) know
    their size at once."""

    def __init__(self, slice_keys: int = CENSUS_SLICE) -> None:
        self.slice = slice_keys
        self.count: int | None = None  # None until the first pass completes
        self._keys: Iterator[bytes] | None = None
        self._partial = 0

    def restart(self) -> None:
        self._keys = None

    def step(self, store: Any) -> int | None:
        """Count the next slice of `store` (a Faust table's `data`); the last
        complete pass's total."""
        if not hasattr(store, "_dbs_for_actives"):  # not RocksDB: its size is at hand
            self.count = len(store)
            return self.count
        if self._keys is None:
            # Faust's own definition of the table's keys (`Store._iterkeys`):
            # those of the partitions this worker holds, less its offset key.
            dbs = list(store._dbs_for_actives())
            self._keys = itertools.chain.from_iterable(store._visible_keys(db) for db in dbs)
            self._partial = 0
        counted = sum(1 for _ in itertools.islice(self._keys, self.slice))
        self._partial += counted
        if counted < self.slice:
            self.count, self._keys = self._partial, None
        return self.count
