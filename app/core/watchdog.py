"""When a worker has stalled: the decision behind the worker's watchdog.

A worker can stay up and never be ready again while Kafka answers it: seen
after a broker restart (docs/reliability.md, "A worker wedged after a broker
restart"), when aiokafka's consumer stopped looking for its group
coordinator. It then processes nothing for any patient until restarted, so
it stops itself and its supervisor (`vigil up`, systemd, Kubernetes) starts
it again: a restarted worker recovers its patients from the changelog and
replays what it had not committed, as after a crash.

Stalled means, for `stall_s` seconds without a break: Kafka answers the
worker's probe, the worker is not ready or is behind (records wait on its
partitions past those it handled, as Kafka has them), and it makes no
progress (no record handled, no changelog record recovered). Ready and
behind without progress is the other face of the same trouble: a consumer
that keeps its partitions and fetches nothing more, as faust-streaming's
users report after a broker came back (faust-streaming/faust#523, #629).
Kafka down is not a stall (nothing to do but wait for it), nor is a long
recovery (progress), nor is a worker left idle by its group (ready with no
partitions, so never behind), nor a slow one (progress).

Pure: the caller passes the time (monotonic seconds) and what it sees.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass


@dataclass(slots=True)
class Watchdog:
    stall_s: float  # 0: never stalled (the watchdog is off)
    stuck_since: float | None = None  # the start of the current stretch without progress
    progress: Hashable = None  # what the worker had done at the last look

    def observe(
        self, now: float, *, kafka_up: bool, ready: bool, progress: Hashable, behind: bool = False
    ) -> float | None:
        """Seconds stalled, once they reach `stall_s`; None until then."""
        moved, self.progress = progress != self.progress, progress
        if self.stall_s <= 0 or not kafka_up or (ready and not behind):
            self.stuck_since = None
            return None
        if self.stuck_since is None or moved:
            self.stuck_since = now
        stuck = now - self.stuck_since
        return stuck if stuck >= self.stall_s else None


def records_wait(backlog: Mapping[int, tuple[int, int]], handled: Callable[[int], int | None]) -> bool:
    """Do records wait on any of these partitions? `backlog` is Kafka's view,
    per partition (its end, where the group resumes: its commit or the log's
    start); `handled(partition)` the offset after the last record the worker
    handled there since its assignment, or None (nothing yet: it resumes
    where the group does)."""
    for partition, (end, resume) in backlog.items():
        done = handled(partition)
        if end > max(resume, done if done is not None else resume):
            return True
    return False
