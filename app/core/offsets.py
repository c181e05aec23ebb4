"""Which record of a partition of `vigil.readings` the worker expects next,
and what to do with one that comes past a gap.

Offsets within a partition of `vigil.readings` are contiguous (the topic is
neither compacted nor transactional), so a record arriving past the next
expected offset means records were skipped on the way to the agent (a
rebalance in Faust's fetch loop: docs/reliability.md, worker-join-leave).
Such a record is not processed; the shell seeks the partition back to the
expected offset and skips what arrives until the expected record does,
seeking again if it does not come within `reseek_after_s`, and giving up
after `max_seeks` seeks (the records may no longer be there: retention
deleted them), so that a partition never stalls on a gap. Giving up, it
goes back once to the first record it saw past the gap (records skipped
while it sought are there to read, and only the records never seen are
given up), then processes what comes.

Pure: the shell passes the committed offset and the time.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Step(Enum):
    PROCESS = "process"  # the expected record, or one before it (a re-read)
    SEEK = "seek"  # a new gap: count it, log it, seek back, do not process
    RESEEK = "reseek"  # still waiting for the expected record: seek again, do not process
    SKIP = "skip"  # still waiting after a recent seek: do not process
    SETTLE = "settle"  # sought back `max_seeks` times in vain: seek to the first record seen past the gap
    GIVE_UP = "give_up"  # and that did not come either: process from here


@dataclass
class _Cursor:
    expected: int | None
    seeking_since: float | None = None
    seeks: int = 0
    first_past: int | None = None  # the lowest offset seen past the gap
    settled: bool = False  # `expected` moved to `first_past`, the records before it given up


class OffsetCursors:
    """The next expected offset per partition, forgotten on every rebalance."""

    def __init__(self, reseek_after_s: float = 2.0, max_seeks: int = 5, settle_seeks: int = 2) -> None:
        self.reseek_after_s = reseek_after_s
        self.max_seeks = max_seeks
        self.settle_seeks = settle_seeks  # seeks to the first record seen past the gap, once settled
        self._cursors: dict[int, _Cursor] = {}

    def reset(self) -> None:
        self._cursors.clear()

    def knows(self, partition: int) -> bool:
        """Whether a record of the partition came since the last reset."""
        return partition in self._cursors

    def expected(self, partition: int) -> int | None:
        cursor = self._cursors.get(partition)
        return cursor.expected if cursor is not None else None

    def check(self, partition: int, offset: int, committed: int | None, now: float) -> Step:
        """What to do with record `offset`. The first record of a partition
        since the last reset is expected at `committed` (where Faust's seek
        after the assignment put the consumer), or anywhere if none is known."""
        cursor = self._cursors.setdefault(partition, _Cursor(committed))
        if cursor.expected is None or offset <= cursor.expected:
            return Step.PROCESS
        cursor.first_past = offset if cursor.first_past is None else min(cursor.first_past, offset)
        if cursor.seeking_since is None:
            cursor.seeking_since, cursor.seeks = now, 1
            return Step.SEEK
        if now - cursor.seeking_since < self.reseek_after_s:
            return Step.SKIP
        if cursor.seeks >= self._limit(cursor):
            if not cursor.settled and cursor.first_past < offset:
                cursor.expected, cursor.settled = cursor.first_past, True
                cursor.seeking_since, cursor.seeks = now, 1
                return Step.SETTLE
            return Step.GIVE_UP
        cursor.seeking_since, cursor.seeks = now, cursor.seeks + 1
        return Step.RESEEK

    def _limit(self, cursor: _Cursor) -> int:
        return self.settle_seeks if cursor.settled else self.max_seeks

    def reseeks_due(self, now: float) -> list[tuple[int, int]]:
        """(partition, expected offset) of the partitions whose records past a
        gap have not come within `reseek_after_s` of the last seek, for a
        timer to seek again: when no later record arrives either (Faust can
        drop the records fetched again when an older fetch moves its read
        offset past them after the seek, and the devices may have gone
        quiet), nothing else would."""
        due = []
        for partition, cursor in self._cursors.items():
            waited = cursor.seeking_since is not None and now - cursor.seeking_since >= self.reseek_after_s
            if waited and cursor.seeks < self._limit(cursor) and cursor.expected is not None:
                cursor.seeking_since, cursor.seeks = now, cursor.seeks + 1
                due.append((partition, cursor.expected))
        return due

    def processed(self, partition: int, offset: int) -> None:
        self._cursors[partition] = _Cursor(offset + 1)
