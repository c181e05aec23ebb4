"""Who may attempt a websocket handshake. Pure: the caller passes the time.

Two limits protect the gateway from clients that never become devices:

- connections still handshaking (TCP accepted, no HTTP answer yet) are
  capped in all and per source address: beyond the caps a new connection is
  closed at once, before anything is read from it (`open`);
- failed handshakes (unknown path, missing, unknown or revoked token) cost
  their source a token from its own bucket; a source without tokens left is
  answered 429 with Retry-After, whatever it sends (`throttled`).

Sources are IP addresses as the gateway sees them: behind a proxy or a NAT
they are shared. At most `max_sources` buckets are remembered, the least
recently used forgotten first.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from app.core.delivery import TokenBucket


@dataclass(frozen=True, slots=True)
class GuardLimits:
    max_pending: int = 512
    max_pending_per_source: int = 64
    failure_rate: float = 1.0  # failed handshakes per second per source, sustained
    failure_burst: int = 20
    max_sources: int = 10_000


class HandshakeGuard:
    def __init__(self, limits: GuardLimits = GuardLimits()) -> None:
        self.limits = limits
        self.pending = 0
        self._pending: dict[str, int] = {}
        self._failures: dict[str, TokenBucket] = {}

    def open(self, source: str) -> bool:
        """A connection from `source` was accepted: may it handshake? If so,
        call `close` once its handshake is answered or it is gone."""
        mine = self._pending.get(source, 0)
        if self.pending >= self.limits.max_pending or mine >= self.limits.max_pending_per_source:
            return False
        self.pending += 1
        self._pending[source] = mine + 1
        return True

    def close(self, source: str) -> None:
        mine = self._pending.get(source, 0)
        if mine <= 0:
            return
        self.pending -= 1
        if mine == 1:
            del self._pending[source]
        else:
            self._pending[source] = mine - 1

    def throttled(self, source: str, now_s: float) -> int | None:
        """Seconds to put in Retry-After if `source` has failed too often; None if it may try."""
        bucket = self._failures.get(source)
        if bucket is None or bucket.available(now_s) >= 1:
            return None
        return max(1, math.ceil(bucket.wait_s(now_s, 1)))

    def failed(self, source: str, now_s: float) -> None:
        """A handshake from `source` failed."""
        bucket = self._failures.pop(source, None)
        if bucket is None:
            bucket = TokenBucket(self.limits.failure_rate, self.limits.failure_burst)
            if len(self._failures) >= self.limits.max_sources:
                del self._failures[next(iter(self._failures))]  # the least recently failed
        bucket.allow(now_s, 1)
        self._failures[source] = bucket  # now the most recent
