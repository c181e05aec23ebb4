"""Delivery bookkeeping for one device: which `seq`s are already stored, and
how fast it may send. Pure: the caller passes the time.

`SeqWindow` remembers the highest stored `seq` and, as a bitmap, which of the
`WINDOW` sequence numbers below it are stored too (the replay window of IPsec
and DTLS). A resent reading whose `seq` is in the window is acknowledged again
without being stored twice. A `seq` older than the window is treated as new:
storing it again is a harmless duplicate (it keeps its reading id), while
refusing it could lose a reading the device never got an ack for.

Windows only ever gain stored seqs, so two copies can be merged (`merge`) by
union: the gateway merges what it learns from other gateways into its own.

`TokenBucket` limits readings per second with a burst, so a device replaying
its offline buffer gets through while a runaway one is held back.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from app.core.errors import Code, Refusal, StateError
from app.core.protocol import Reading

WINDOW = 1024
_MASK = (1 << WINDOW) - 1


@dataclass(slots=True)
class SeqWindow:
    top: int = -1  # highest stored seq; -1: none yet
    bits: int = 0  # bit i set: seq (top - i) is stored; bit 0 is top itself

    def stored(self, seq: int) -> bool:
        if self.top < 0 or seq > self.top:
            return False
        offset = self.top - seq
        return offset < WINDOW and bool(self.bits >> offset & 1)

    def add(self, seq: int) -> None:
        if seq > self.top:
            shift = seq - self.top if self.top >= 0 else WINDOW
            self.bits = ((self.bits << shift) | 1) & _MASK if shift < WINDOW else 1
            self.top = seq
        elif self.top - seq < WINDOW:
            self.bits |= 1 << (self.top - seq)

    def gaps(self) -> list[int]:
        """Seqs inside the window, below `top`, that are not stored, ascending."""
        if self.top < 0:
            return []
        lowest = max(0, self.top - WINDOW + 1)
        return [s for s in range(lowest, self.top) if not self.bits >> (self.top - s) & 1]

    def merge(self, other: SeqWindow) -> None:
        if other.top < 0:
            return
        if other.top > self.top:
            mine = SeqWindow(other.top, other.bits)
            mine._or_shifted(self)
            self.top, self.bits = mine.top, mine.bits
        else:
            self._or_shifted(other)

    def _or_shifted(self, lower: SeqWindow) -> None:
        if lower.top < 0:
            return
        shift = self.top - lower.top
        if shift < WINDOW:
            self.bits = (self.bits | (lower.bits << shift)) & _MASK

    def encode(self) -> bytes:
        """`top` as 8 bytes, then the bitmap's 128 bytes, big-endian."""
        return (self.top + 1).to_bytes(8, "big") + self.bits.to_bytes(WINDOW // 8, "big")

    @classmethod
    def decode(cls, data: bytes) -> SeqWindow:
        if len(data) != 8 + WINDOW // 8:
            raise StateError("undecodable sequence window")
        return cls(int.from_bytes(data[:8], "big") - 1, int.from_bytes(data[8:], "big"))


@dataclass(slots=True)
class TokenBucket:
    rate: float  # readings per second, sustained
    burst: float  # readings at once
    tokens: float = -1.0
    last_s: float = 0.0

    def allow(self, now_s: float, n: int = 1) -> bool:
        """Take `n` readings' worth of tokens if there are enough."""
        if self.tokens < 0:
            self.tokens, self.last_s = self.burst, now_s
        self.tokens = min(self.burst, self.tokens + (now_s - self.last_s) * self.rate)
        self.last_s = now_s
        if self.tokens >= n:
            self.tokens -= n
            return True
        return False


@dataclass(slots=True)
class Admission:
    """A frame's readings sorted by what the gateway does with them."""

    new: list[Reading] = field(default_factory=list)  # to store, then acknowledge
    resent: list[int] = field(default_factory=list)  # already stored: acknowledge only
    refusals: list[Refusal] = field(default_factory=list)


def admit(
    readings: list[Reading], patient: str, window: SeqWindow, bucket: TokenBucket, now_s: float
) -> Admission:
    """Decide, for one frame's valid readings from a device registered for
    `patient`: over the rate, all are refused (`rate_limited`); a reading
    naming another patient is refused (`unauthorized`); one whose seq is
    stored, or repeated within the frame, is a resend; the rest are new."""
    admission = Admission()
    if not readings:
        return admission
    if not bucket.allow(now_s, len(readings)):
        admission.refusals = [
            Refusal(Code.RATE_LIMITED, "too many readings; slow down and resend later", r.seq) for r in readings
        ]
        return admission
    seen: set[int] = set()
    for r in readings:
        if r.patient is not None and r.patient != patient:
            admission.refusals.append(
                Refusal(Code.UNAUTHORIZED, "device is not registered for that patient", r.seq)
            )
        elif window.stored(r.seq) or r.seq in seen:
            admission.resent.append(r.seq)
        else:
            seen.add(r.seq)
            admission.new.append(r)
    return admission
