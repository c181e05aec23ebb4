"""The handshake guard: caps on connections still handshaking, and a budget
of failed handshakes per source address."""

from __future__ import annotations

from app.core.handshake import GuardLimits, HandshakeGuard


def test_handshaking_connections_are_capped_in_all_and_per_source() -> None:
    guard = HandshakeGuard(GuardLimits(max_pending=5, max_pending_per_source=3))
    assert [guard.open("10.0.0.1") for _ in range(4)] == [True, True, True, False]
    assert [guard.open("10.0.0.2") for _ in range(3)] == [True, True, False]  # 5 in all
    guard.close("10.0.0.1")
    assert guard.open("10.0.0.2") and not guard.open("10.0.0.3")
    for _ in range(10):  # closing more than was opened changes nothing
        guard.close("10.0.0.9")
    assert guard.pending == 5


def test_failed_handshakes_are_throttled_per_source() -> None:
    guard = HandshakeGuard(GuardLimits(failure_rate=0.5, failure_burst=3))
    assert guard.throttled("10.0.0.1", 0.0) is None
    for _ in range(3):
        guard.failed("10.0.0.1", 0.0)
    assert guard.throttled("10.0.0.1", 0.0) == 2  # one failure's worth back in 2 s
    assert guard.throttled("10.0.0.2", 0.0) is None  # others are not affected
    for _ in range(100):  # failing on while throttled does not dig a deeper hole
        guard.failed("10.0.0.1", 0.1)
    assert guard.throttled("10.0.0.1", 2.0) is None
    guard.failed("10.0.0.1", 2.0)
    assert guard.throttled("10.0.0.1", 2.0) is not None


def test_the_guard_forgets_the_least_recent_sources_first() -> None:
    guard = HandshakeGuard(GuardLimits(failure_burst=1, max_sources=2))
    guard.failed("a", 0.0)
    guard.failed("b", 0.0)
    guard.failed("a", 0.0)  # a is now the most recent
    guard.failed("c", 0.0)  # b is forgotten
    assert guard.throttled("a", 0.0) and guard.throttled("c", 0.0) and guard.throttled("b", 0.0) is None
