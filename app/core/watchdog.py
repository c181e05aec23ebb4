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

One partition can stall alone: records wait on it and the worker handles
none of them, while its other partitions go on (so the worker as a whole
makes progress). Seen as possible after a rebalance: records Faust drops
after a seek back (docs/reliability.md, worker-join-leave) do not come
again, and once the seeks are spent and the devices of that partition have
nothing more to send, nothing would move it. Its patients would be watched
by nobody while the worker looks well; so a ready worker on whose partition
records have waited for `stall_s` with nothing handled there is stalled too.

Pure: the caller passes the time (monotonic seconds) and what it sees.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field


@dataclass(slots=True)
class Watchdog:
    stall_s: float  # 0: never stalled (the watchdog is off)
    stuck_since: float | None = None  # the start of the current stretch without progress
    progress: Hashable = None  # what the worker had done at the last look
    # Per partition where records wait: what the worker had handled there, and since when.
    waiting_since: dict[int, tuple[int | None, float]] = field(default_factory=dict)

    def observe(
        self,
        now: float,
        *,
        kafka_up: bool,
        ready: bool,
        progress: Hashable,
        behind: bool = False,
        waiting: Mapping[int, int | None] | None = None,
    ) -> float | None:
        """Seconds stalled, once they reach `stall_s`; None until then.
        `waiting`: the partitions where records wait (`partitions_waiting`),
        each with the offset after the last record handled there."""
        moved, self.progress = progress != self.progress, progress
        if self.stall_s <= 0:
            return None
        one = self._one_partition(now, waiting if kafka_up and ready and waiting else {})
        if not kafka_up or (ready and not behind):
            self.stuck_since = None
            return one
        if self.stuck_since is None or moved:
            self.stuck_since = now
        stuck = now - self.stuck_since
        return stuck if stuck >= self.stall_s else one

    def stalled_partitions(self, now: float) -> list[int]:
        """The partitions on which records have waited `stall_s` with none handled."""
        return sorted(p for p, (_, start) in self.waiting_since.items() if now - start >= self.stall_s)

    def _one_partition(self, now: float, waiting: Mapping[int, int | None]) -> float | None:
        """Seconds records have waited on one partition with nothing handled
        there, the longest, once they reach `stall_s`."""
        since = {}
        for partition, handled in waiting.items():
            was = self.waiting_since.get(partition)
            since[partition] = was if was is not None and was[0] == handled else (handled, now)
        self.waiting_since = since
        longest = max((now - start for _, start in since.values()), default=0.0)
        return longest if longest >= self.stall_s else None


def partitions_waiting(
    backlog: Mapping[int, tuple[int, int]], handled: Callable[[int], int | None]
) -> dict[int, int | None]:
    """The partitions where records wait, each with `handled(partition)`.
    `backlog` is Kafka's view, per partition (its end, where the group
    resumes: its commit or the log's start); `handled(partition)` the offset
    after the last record the worker handled there since its assignment, or
    None (nothing yet: it resumes where the group does)."""
    waiting = {}
    for partition, (end, resume) in backlog.items():
        done = handled(partition)
        if end > max(resume, done if done is not None else resume):
            waiting[partition] = done
    return waiting
