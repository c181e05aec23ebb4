"""`vigil lag`: how far the workers are behind `vigil.readings`, read from
Kafka itself (the end of each partition, and the worker group's committed
offset), so that it answers while no worker runs, when the workers' own
`vigil_worker_consumer_lag` gauge is gone with them (docs/operations.md)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.infra import preflight
from app.infra.settings import READINGS_TOPIC, Settings


@dataclass(frozen=True)
class PartitionLag:
    partition: int
    end: int  # the offset the next record written will get
    committed: int | None  # the worker group's; None: it has committed nothing on this partition

    @property
    def lag(self) -> int:
        """Records written and not yet committed (all of them when nothing is): the
        worker commits what it processed at each flush of its record cache
        (`VIGIL_WORKER_FLUSH_INTERVAL_S`), so under traffic it is a few
        seconds' worth of records, not 0."""
        return self.end - (self.committed or 0)


async def read(settings: Settings) -> list[PartitionLag]:
    """Per partition of `vigil.readings`: its end and the worker group's committed offset."""
    count = await preflight.partition_count(settings, READINGS_TOPIC) or 0
    found = await preflight.group_offsets(settings, READINGS_TOPIC, settings.worker_id, list(range(count)))
    return [PartitionLag(p, end, committed) for p, (_, end, committed) in sorted(found.items())]


def as_json(settings: Settings, lags: list[PartitionLag]) -> dict[str, Any]:
    """`vigil lag --json`'s document (docs/operations.md)."""
    return {
        "topic": READINGS_TOPIC,
        "group": settings.worker_id,
        "lag": sum(p.lag for p in lags),
        "partitions": [
            {"partition": p.partition, "end": p.end, "committed": p.committed, "lag": p.lag} for p in lags
        ],
    }


def table(settings: Settings, lags: list[PartitionLag]) -> str:
    rows = [f"{'partition':>9} {'end':>12} {'committed':>12} {'lag':>10}"]
    for p in lags:
        committed = "-" if p.committed is None else str(p.committed)
        rows.append(f"{p.partition:>9} {p.end:>12} {committed:>12} {p.lag:>10}")
    total = sum(p.lag for p in lags)
    rows.append(
        f"{READINGS_TOPIC}: {total} records not yet committed by the worker group {settings.worker_id!r} "
        "(processed records are committed at each flush of its record cache)"
    )
    return "\n".join(rows)
