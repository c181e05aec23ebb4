"""The worker's watchdog: a worker that Kafka answers but that stays not ready
without progress is stalled (and stops itself, `agents.app`); nothing else
is."""

from __future__ import annotations

from app.core.watchdog import Watchdog, partitions_waiting


def looks(dog: Watchdog, seconds: range, **seen: object) -> list[float | None]:
    """What the watchdog says at each of `seconds` (one look a second)."""
    kafka_up = bool(seen.get("kafka_up", True))
    ready = bool(seen.get("ready", False))
    behind = bool(seen.get("behind", False))
    progress = seen.get("progress", 0)
    return [
        dog.observe(
            float(t),
            kafka_up=kafka_up,
            ready=ready,
            behind=behind,
            progress=progress(t) if callable(progress) else progress,  # type: ignore[arg-type]
        )
        for t in seconds
    ]


def test_not_ready_without_progress_while_kafka_answers_is_a_stall_after_stall_s() -> None:
    said = looks(Watchdog(stall_s=60), range(0, 61))
    assert said[:60] == [None] * 60
    assert said[60] == 60.0


def test_a_long_recovery_is_not_a_stall() -> None:
    """Ten minutes not ready while the changelog is read: progress at every look."""
    assert looks(Watchdog(stall_s=60), range(0, 600), progress=lambda t: t // 10) == [None] * 600


def test_progress_restarts_the_count() -> None:
    dog = Watchdog(stall_s=60)
    looks(dog, range(0, 50))
    assert looks(dog, range(50, 51), progress=1) == [None]  # a record handled at 50 s
    said = looks(dog, range(51, 111), progress=1)
    assert said[:-1] == [None] * 59
    assert said[-1] == 60.0  # 60 s after the last progress, not after the first look


def test_kafka_down_is_not_a_stall_and_the_count_starts_again_when_it_answers() -> None:
    dog = Watchdog(stall_s=60)
    looks(dog, range(0, 50))
    assert looks(dog, range(50, 300), kafka_up=False) == [None] * 250  # a broker down for minutes
    said = looks(dog, range(300, 361))
    assert said[:60] == [None] * 60
    assert said[60] == 60.0


def test_a_ready_worker_is_never_stalled() -> None:
    """Ready with no partitions (more workers than partitions) handles nothing, for hours."""
    assert looks(Watchdog(stall_s=60), range(0, 7200, 5), ready=True) == [None] * 1440


def test_a_moment_of_readiness_restarts_the_count() -> None:
    dog = Watchdog(stall_s=60)
    looks(dog, range(0, 59))
    looks(dog, range(59, 60), ready=True)
    assert looks(dog, range(60, 119)) == [None] * 59


def test_stall_s_zero_turns_it_off() -> None:
    assert looks(Watchdog(stall_s=0), range(0, 3600, 10)) == [None] * 360


def test_ready_but_behind_without_progress_is_a_stall() -> None:
    """Records wait on its partitions and it handles none: a consumer that
    fetches nothing more while it keeps its partitions."""
    said = looks(Watchdog(stall_s=60), range(0, 61), ready=True, behind=True)
    assert said[:60] == [None] * 60
    assert said[60] == 60.0


def test_ready_and_behind_but_handling_records_is_no_stall() -> None:
    """A backlog worked through (after an outage): progress at every look."""
    said = looks(Watchdog(stall_s=60), range(0, 600), ready=True, behind=True, progress=lambda t: t)
    assert said == [None] * 600


def test_caught_up_restarts_the_count() -> None:
    dog = Watchdog(stall_s=60)
    looks(dog, range(0, 59), ready=True, behind=True)
    looks(dog, range(59, 60), ready=True, behind=False)
    assert looks(dog, range(60, 119), ready=True, behind=True) == [None] * 59


def test_records_wait_past_the_last_handled_or_where_the_group_resumes() -> None:
    backlog = {0: (100, 90), 1: (50, 50), 2: (7, 7)}  # (Kafka's end, where the group resumes)
    handled = {0: 100, 1: None, 2: None}.get
    assert not partitions_waiting(backlog, handled)  # 0 handled to its end; 1 and 2 committed to theirs
    assert partitions_waiting({**backlog, 0: (101, 90)}, handled)  # one more record on 0
    assert partitions_waiting({**backlog, 1: (51, 50)}, handled)  # nothing handled on 1 since it came
    assert not partitions_waiting({1: (50, 50)}, {1: 40}.get)  # handled short of the commit: it counts
    assert not partitions_waiting({}, handled)  # no partitions: an idle worker


def test_one_partition_waiting_with_nothing_handled_is_a_stall_while_the_others_go_on() -> None:
    """Records wait on partition 1 and none is handled there, while partition
    0's records go through (progress at every look): the patients of
    partition 1 are watched by nobody. A restart reads them from the commit."""
    dog = Watchdog(stall_s=60)
    said = [
        dog.observe(float(t), kafka_up=True, ready=True, progress=t, behind=True, waiting={0: 100 + t, 1: 40})
        for t in range(0, 61)
    ]
    assert said[:60] == [None] * 60
    assert said[60] == 60.0
    assert dog.stalled_partitions(60.0) == [1]


def test_partitions_that_move_or_catch_up_are_no_stall() -> None:
    """Each waiting partition handles a record now and then (a backlog
    worked through), or catches up for a look: the count starts again."""
    dog = Watchdog(stall_s=60)
    moving = [
        dog.observe(
            float(t), kafka_up=True, ready=True, progress=t, behind=True, waiting={0: t // 30, 1: t // 50}
        )
        for t in range(0, 600)
    ]
    assert moving == [None] * 600
    dog = Watchdog(stall_s=60)
    for t in range(0, 59):
        dog.observe(float(t), kafka_up=True, ready=True, progress=t, behind=True, waiting={1: 40})
    dog.observe(59.0, kafka_up=True, ready=True, progress=59, behind=False, waiting={})  # caught up
    later = [
        dog.observe(float(t), kafka_up=True, ready=True, progress=t, behind=True, waiting={1: 40})
        for t in range(60, 119)
    ]
    assert later == [None] * 59


def test_a_partition_waiting_while_kafka_is_down_or_the_worker_not_ready_is_no_partition_stall() -> None:
    dog = Watchdog(stall_s=60)
    down = [
        dog.observe(float(t), kafka_up=False, ready=True, progress=t, behind=True, waiting={1: 40})
        for t in range(0, 300)
    ]
    assert down == [None] * 300
    recovering = [  # not ready, recovering the changelog (progress): the whole-worker rule's case
        dog.observe(float(t), kafka_up=True, ready=False, progress=t, behind=False, waiting={1: 40})
        for t in range(300, 600)
    ]
    assert recovering == [None] * 300


def test_partitions_waiting_names_each_with_what_was_handled_there() -> None:
    backlog = {0: (100, 90), 1: (51, 50), 2: (7, 7), 3: (30, 10)}
    handled = {0: 100, 1: None, 2: None, 3: 20}.get
    assert partitions_waiting(backlog, handled) == {1: None, 3: 20}
