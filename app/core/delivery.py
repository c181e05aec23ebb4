"""Delivery bookkeeping for one device: which `seq`s are already stored and
what was stored under each, and how much it may send. Pure: the caller
passes the time.

`SeqWindow` remembers the highest stored `seq` and, as a bitmap, which of the
`WINDOW` sequence numbers below it are stored too (the replay window of IPsec
and DTLS), and for each stored one a 4-byte `fingerprint` of what was stored
(its time and vitals). A reading whose `seq` is stored is a resend, acknowledged
again without being stored twice, only if its fingerprint matches: the same
`seq` with other content is refused with `seq_reused` (a device whose counter
went back), never acknowledged and dropped. A seq stored before fingerprints
were kept (an older `vigil.device-seqs` record) has fingerprint `UNKNOWN` and
counts as a resend, as it always did. A `seq` older than the window is treated
as new: storing it again is a harmless duplicate (it keeps its reading id),
while refusing it could lose a reading the device never got an ack for.

Windows only ever gain stored seqs, so two copies can be merged (`merge`) by
union: the gateway merges what it learns from other gateways into its own.
What a gateway writes to `vigil.device-seqs` is a whole window (4.2 KB) now
and then, and in between only the seqs stored since its last record
(`encode_delta`, 13 bytes a seq), which merge the same way.

`Budget` is what a device may send: every frame it sends costs tokens from
its `TokenBucket` (a reading frame one per reading, refused ones included; a
hello or an unreadable frame one), so a device replaying its offline buffer
gets through while a runaway one is held back. A frame that finds too few
tokens is refused whole; the device then hears `rate_limited` at most once an
interval, and those refusals reach `vigil.rejected` as one summary per interval
with counts by code instead of one record each.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from app.core.errors import Code, Refusal, StateError
from app.core.protocol import Reading, fingerprint_of

WINDOW = 1024
_MASK = (1 << WINDOW) - 1
FP_BYTES = 4
UNKNOWN = 0  # the fingerprint of a seq stored before fingerprints were kept
MAX_HELLO_GAPS = 256  # a hello reply lists at most this many gaps (the highest)
NOTICE_INTERVAL_S = 1.0  # at most one `rate_limited` frame and one summary record per device per interval

_V1_SIZE = 8 + WINDOW // 8
_V2 = b"\x02"
_V2_SIZE = 1 + _V1_SIZE + WINDOW * FP_BYTES
_V3 = b"\x03"
_ENTRY_SIZE = 8 + FP_BYTES


def fingerprint(reading: Reading) -> int:
    """4 bytes of a hash of what a reading says (time and vitals, not its
    seq): a resend of the same reading has the same fingerprint. Never UNKNOWN.
    A number is hashed by its value, not its spelling: 65.0 is 65 (firmware
    that keeps its values as floats resends `65.0` for a `65` it sent, and was
    told `seq_reused`)."""
    content = orjson.dumps([reading.ts_ms, _by_value(reading.vitals)], option=orjson.OPT_SORT_KEYS)
    return int.from_bytes(hashlib.blake2b(content, digest_size=FP_BYTES).digest(), "big") or 1


def _by_value(vitals: dict[str, Any]) -> dict[str, Any]:
    """`vitals` with each whole float as an int (the same dict when there is none)."""
    for value in vitals.values():
        if value.__class__ is float and value.is_integer():
            return {k: int(v) if v.__class__ is float and v.is_integer() else v for k, v in vitals.items()}
    return vitals


def _empty_fps() -> bytearray:
    return bytearray(WINDOW * FP_BYTES)


@dataclass(slots=True)
class SeqWindow:
    top: int = -1  # highest stored seq; -1: none yet
    bits: int = 0  # bit i set: seq (top - i) is stored; bit 0 is top itself
    # Ring of fingerprints, seq s at slot s % WINDOW; zero wherever s is not stored.
    fps: bytearray = field(default_factory=_empty_fps)

    def stored(self, seq: int) -> bool:
        if self.top < 0 or seq > self.top:
            return False
        offset = self.top - seq
        return offset < WINDOW and bool(self.bits >> offset & 1)

    def fingerprint(self, seq: int) -> int | None:
        """What was stored under `seq` (UNKNOWN if not recorded), or None if nothing is."""
        return self._get(seq) if self.stored(seq) else None

    def add(self, seq: int, fp: int = UNKNOWN) -> None:
        if seq > self.top:
            shift = seq - self.top if self.top >= 0 else WINDOW
            if shift < WINDOW:
                self.bits = ((self.bits << shift) | 1) & _MASK
                self._clear(self.top + 1, seq - 1)  # slots of seqs that left the window
            else:
                self.bits = 1
                self.fps = _empty_fps()
            self.top = seq
            self._set(seq, fp)
        elif self.top - seq < WINDOW:
            bit = 1 << (self.top - seq)
            if not self.bits & bit or self._get(seq) == UNKNOWN:  # the first stored content stays
                self._set(seq, fp)
            self.bits |= bit

    def gaps(self) -> list[int]:
        """Seqs inside the window, below `top`, that are not stored, ascending."""
        if self.top < 0:
            return []
        lowest = max(0, self.top - WINDOW + 1)
        return [s for s in range(lowest, self.top) if not self.bits >> (self.top - s) & 1]

    def hello(self, limit: int = MAX_HELLO_GAPS) -> tuple[int | None, list[int], int | None]:
        """(last_seq, gaps, gaps_from) for a hello reply: at most `limit` gaps,
        the highest ones; `gaps_from` is the lowest seq the reply speaks for
        (every gap from it up to last_seq is listed). None, [], None: nothing stored."""
        if self.top < 0:
            return None, [], None
        gaps = self.gaps()
        if len(gaps) > limit:
            gaps = gaps[-limit:]
            return self.top, gaps, gaps[0]
        return self.top, gaps, max(0, self.top - WINDOW + 1)

    def merge(self, other: SeqWindow) -> None:
        if other.top < 0:
            return
        if other.top > self.top:
            mine = SeqWindow(other.top, other.bits, bytearray(other.fps))
            mine._absorb(self)
            self.top, self.bits, self.fps = mine.top, mine.bits, mine.fps
        else:
            self._absorb(other)

    def merge_entries(self, entries: list[tuple[int, int]]) -> None:
        """Union with some stored seqs and their fingerprints (a delta record,
        `decode_delta`), as `merge` would with a window holding just them."""
        for seq, fp in entries:
            if seq > self.top:
                self.add(seq, fp)
            elif self.top - seq < WINDOW:
                bit = 1 << (self.top - seq)
                self._take_in(seq, bool(self.bits & bit), fp)
                self.bits |= bit

    def merge_record(self, data: bytes) -> None:
        """Union with a `vigil.device-seqs` record of any version: a whole
        window (1, 2) or a delta (3). StateError, and nothing merged, if it
        is none of them."""
        entries = decode_delta(data)
        if entries is None:
            self.merge(SeqWindow.decode(data))
        else:
            self.merge_entries(entries)

    def _absorb(self, lower: SeqWindow) -> None:
        """Union with a window whose top is not above ours."""
        if lower.top < 0:
            return
        shift = self.top - lower.top
        if shift >= WINDOW:
            return
        incoming = (lower.bits << shift) & _MASK
        pending = incoming
        while pending:
            low = pending & -pending
            pending ^= low
            seq = self.top - (low.bit_length() - 1)
            self._take_in(seq, bool(self.bits & low), lower._get(seq))
        self.bits |= incoming

    def _take_in(self, seq: int, held: bool, fp: int) -> None:
        """The fingerprint of a stored seq coming in from another copy
        (`held`: this window holds the seq already): for a seq both hold, a
        known fingerprint wins over UNKNOWN, and the larger of two, so every
        gateway merging the same records agrees. The caller sets the bit."""
        if not held:
            self._set(seq, fp)
        elif fp != UNKNOWN:
            mine = self._get(seq)
            if mine == UNKNOWN or fp > mine:
                self._set(seq, fp)

    def _get(self, seq: int) -> int:
        i = seq % WINDOW * FP_BYTES
        return int.from_bytes(self.fps[i : i + FP_BYTES], "big")

    def _set(self, seq: int, fp: int) -> None:
        i = seq % WINDOW * FP_BYTES
        self.fps[i : i + FP_BYTES] = fp.to_bytes(FP_BYTES, "big")

    def _clear(self, first: int, last: int) -> None:
        """Zero the slots of seqs first..last (fewer than WINDOW of them)."""
        if last < first:
            return
        a, b = first % WINDOW * FP_BYTES, (last % WINDOW + 1) * FP_BYTES
        if a < b:
            self.fps[a:b] = bytes(b - a)
        else:
            self.fps[a:] = bytes(len(self.fps) - a)
            self.fps[:b] = bytes(b)

    def encode(self) -> bytes:
        """Version 2: a 0x02 byte, `top + 1` as 8 bytes, the bitmap's 128
        bytes (big-endian), then the fingerprints of seqs top-1023 ... top, 4
        bytes each, in that order (zero where not stored or not known)."""
        start = (self.top + 1) % WINDOW * FP_BYTES
        ordered = self.fps[start:] + self.fps[:start]
        return b"".join(
            (_V2, (self.top + 1).to_bytes(8, "big"), self.bits.to_bytes(WINDOW // 8, "big"), ordered)
        )

    @classmethod
    def decode(cls, data: bytes) -> SeqWindow:
        """Version 2, or version 1 (136 bytes: top and bitmap only; every
        stored seq then has fingerprint UNKNOWN)."""
        if len(data) == _V1_SIZE:
            return cls(int.from_bytes(data[:8], "big") - 1, int.from_bytes(data[8:], "big"))
        if len(data) != _V2_SIZE or data[:1] != _V2:
            raise StateError("undecodable sequence window")
        top = int.from_bytes(data[1:9], "big") - 1
        bits = int.from_bytes(data[9 : _V1_SIZE + 1], "big")
        ordered = data[_V1_SIZE + 1 :]
        cut = (WINDOW - (top + 1) % WINDOW) * FP_BYTES
        return cls(top, bits, bytearray(ordered[cut:] + ordered[:cut]))


def encode_delta(entries: list[tuple[int, int]]) -> bytes:
    """Version 3, a delta: the seqs a gateway stored since its last record
    of the device, not its whole window. A 0x03 byte, then for each `seq + 1`
    as 8 bytes and its fingerprint as 4 (big-endian). A reader merges it into
    what it knows (`SeqWindow.merge_entries`); a reader that knows only
    versions 1 and 2 skips it (best effort: a resend is then stored twice,
    with the same reading id)."""
    return _V3 + b"".join((seq + 1).to_bytes(8, "big") + fp.to_bytes(FP_BYTES, "big") for seq, fp in entries)


def is_delta(data: bytes) -> bool:
    return data[:1] == _V3


def decode_delta(data: bytes) -> list[tuple[int, int]] | None:
    """The (seq, fingerprint) pairs of a version 3 record; None for a whole
    window (versions 1 and 2: `SeqWindow.decode`)."""
    if data[:1] != _V3:
        return None
    body = data[1:]
    if not body or len(body) % _ENTRY_SIZE:
        raise StateError("undecodable sequence window")
    entries = []
    for i in range(0, len(body), _ENTRY_SIZE):
        seq = int.from_bytes(body[i : i + 8], "big") - 1
        if seq < 0:
            raise StateError("undecodable sequence window")
        entries.append((seq, int.from_bytes(body[i + 8 : i + _ENTRY_SIZE], "big")))
    return entries


SNAPSHOT_S = 10.0  # a device's whole window is written at least this often while it stores
# A delta of more seqs than this would be as large as a whole window (4.2 KB).
DELTA_MAX = WINDOW * FP_BYTES // _ENTRY_SIZE


class WindowRecords:
    """What a gateway writes to `vigil.device-seqs` for each device in a
    round (every 0.25 s): the seqs it stored since the round before, as a
    delta, and the whole window now and then.

    A device's run of stores starts with its whole window (merging what
    other gateways knew), continues with deltas, is written whole again
    every `SNAPSHOT_S` while it lasts, and ends with the whole window
    `SNAPSHOT_S` after its last store when its last record was a delta (or
    at once when the gateway stops: `take(final=True)`). So
    the topic's latest record of a device, the one compaction keeps, is its
    whole window, unless the gateway stopped mid-run. Every window record
    was 4.2 KB: a device sending five readings a second put 17 KB a second on
    the topic, five times what its readings take, and every gateway read it
    back. A delta of one seq is 13 bytes.

    Pure: the caller passes the time (monotonic seconds)."""

    def __init__(self, snapshot_s: float = SNAPSHOT_S) -> None:
        self.snapshot_s = snapshot_s
        self._new: dict[str, tuple[SeqWindow, list[tuple[int, int]]]] = {}
        # When each device's whole window was last written, least recent first;
        # entries older than `snapshot_s` no longer matter and are dropped.
        self._whole_at: dict[str, float] = {}
        # Devices whose last record is a delta: their window and the delta's time, least recent first.
        self._open: dict[str, tuple[SeqWindow, float]] = {}

    def stored(self, device_id: str, window: SeqWindow, seqs: tuple[int, ...], fps: tuple[int, ...]) -> None:
        """Seqs entered `window` (the device's, held by its session)."""
        entry = self._new.get(device_id)
        if entry is None:
            self._new[device_id] = (window, list(zip(seqs, fps, strict=True)))
        else:
            entry[1].extend(zip(seqs, fps, strict=True))

    def waiting(self) -> bool:
        """Whether a later round has something to write (new seqs, or a run to close)."""
        return bool(self._new or self._open)

    def take(self, now: float, final: bool = False) -> list[tuple[str, bytes]]:
        """This round's records, (device id, value), at most one per device.
        `final` (the gateway stopping): whole windows only, every open run
        closed, so the topic's latest record of each device is whole."""
        new, self._new = self._new, {}
        records = []
        whole_at, opened = self._whole_at, self._open
        for device_id, (window, entries) in new.items():
            opened.pop(device_id, None)
            last = whole_at.get(device_id)
            if final or last is None or now - last >= self.snapshot_s or len(entries) > DELTA_MAX:
                records.append((device_id, window.encode()))
                whole_at.pop(device_id, None)
                whole_at[device_id] = now
            else:
                records.append((device_id, encode_delta(entries)))
                opened[device_id] = (window, now)
        while opened:  # runs that ended: the whole window, once
            device_id, (window, at) = next(iter(opened.items()))
            if now - at < self.snapshot_s and not final:
                break
            del opened[device_id]
            whole_at.pop(device_id, None)
            whole_at[device_id] = now
            records.append((device_id, window.encode()))
        while whole_at:
            device_id, at = next(iter(whole_at.items()))
            if now - at < self.snapshot_s:
                break
            del whole_at[device_id]
        return records


@dataclass(slots=True)
class TokenBucket:
    rate: float  # tokens per second, sustained
    burst: float  # tokens at most
    tokens: float = -1.0
    last_s: float = 0.0

    def _refill(self, now_s: float) -> None:
        if self.tokens < 0:
            self.tokens, self.last_s = self.burst, now_s
        self.tokens = min(self.burst, self.tokens + max(0.0, now_s - self.last_s) * self.rate)
        self.last_s = max(self.last_s, now_s)

    def allow(self, now_s: float, n: float = 1) -> bool:
        """Take `n` tokens if there are enough."""
        self._refill(now_s)
        if self.tokens >= n:
            self.tokens -= n
            return True
        return False

    def available(self, now_s: float) -> float:
        self._refill(now_s)
        return self.tokens

    def wait_s(self, now_s: float, n: float = 1) -> float:
        """How long until `n` tokens are there (inf if never: more than the burst)."""
        self._refill(now_s)
        if n > self.burst:
            return math.inf
        return max(0.0, (n - self.tokens) / self.rate) if self.rate > 0 else math.inf


@dataclass(frozen=True, slots=True)
class OverBudget:
    """A frame refused for the device's budget."""

    notify: bool  # send the one `rate_limited` error frame of this interval now
    pause_s: float  # read nothing more from this device for this long


def rate_limited(seq: int | None = None) -> Refusal:
    return Refusal(
        Code.RATE_LIMITED, "over this device's budget; pause, then resend what is not acknowledged", seq
    )


@dataclass(slots=True)
class Budget:
    """One device's budget: what its frames cost, and what it hears and what
    is recorded once it is exceeded."""

    bucket: TokenBucket
    interval_s: float = NOTICE_INTERVAL_S
    notified_s: float = -math.inf  # when the last `rate_limited` frame was sent
    counts: dict[str, int] = field(default_factory=dict)  # refused beyond the budget, not yet summarised
    first_s: float | None = None
    last_s: float = 0.0

    def exhausted(self, now_s: float) -> OverBudget | None:
        """Before a frame is read: None while the device has a token left;
        else the frame is refused unread (the cheapest answer to a flood)."""
        if self.bucket.available(now_s) >= 1:
            return None
        return self._over(now_s, 1)

    def charge(self, now_s: float, cost: int) -> OverBudget | None:
        """After a frame is read: take its cost (at least 1), or refuse it
        whole and pause the device until the cost is there (reading a big
        frame costs the gateway too)."""
        cost = max(1, cost)
        if self.bucket.allow(now_s, cost):
            return None
        return self._over(now_s, cost)

    def _over(self, now_s: float, cost: int) -> OverBudget:
        code = Code.RATE_LIMITED.value
        self.counts[code] = self.counts.get(code, 0) + 1
        if self.first_s is None:
            self.first_s = now_s
        self.last_s = now_s
        notify = now_s - self.notified_s >= self.interval_s
        if notify:
            self.notified_s = now_s
        return OverBudget(notify, min(self.interval_s, self.bucket.wait_s(now_s, cost)))

    def summary(self, now_s: float, final: bool = False) -> tuple[float, float, dict[str, int]] | None:
        """(first, last, counts by code) of the frames refused beyond the
        budget, once an interval has passed since the first of them (or at
        once with `final`, when the device goes); None if there is nothing to say yet."""
        if self.first_s is None or (not final and now_s - self.first_s < self.interval_s):
            return None
        out = (self.first_s, self.last_s, self.counts)
        self.first_s, self.counts = None, {}
        return out


@dataclass(slots=True)
class Admission:
    """A frame's readings sorted by what the gateway does with them."""

    new: list[Reading] = field(default_factory=list)  # to store, then acknowledge
    fingerprints: list[int] = field(default_factory=list)  # of each new reading, for the window
    resent: list[int] = field(default_factory=list)  # already stored: acknowledge only
    refusals: list[Refusal] = field(default_factory=list)


def admit(readings: list[Reading], patient: str | Callable[[str], bool], window: SeqWindow) -> Admission:
    """Decide, for one frame's valid readings from a device registered for
    `patient` (the reference, or a test of one: `directory.SamePatient`): a
    reading naming another patient is refused (`unauthorized`);
    one whose seq is stored (or repeated within the frame) with the same
    content, or with content not recorded, is a resend; with other content it
    is refused (`seq_reused`); the rest are new."""
    admission = Admission()
    is_patient = patient if callable(patient) else patient.__eq__
    seen: dict[int, int] = {}  # seq -> fingerprint of the new readings of this frame
    for r in readings:
        if r.patient is not None and not is_patient(r.patient):
            admission.refusals.append(
                _refused(r, Code.UNAUTHORIZED, "device is not registered for that patient", "patient")
            )
            continue
        fp = fingerprint(r)
        known = seen.get(r.seq)
        if known is None:
            known = window.fingerprint(r.seq)
        if known is None:
            seen[r.seq] = fp
            admission.new.append(r)
            admission.fingerprints.append(fp)
        elif known in (fp, UNKNOWN):
            admission.resent.append(r.seq)
        else:
            admission.refusals.append(
                _refused(r, Code.SEQ_REUSED, "seq already stored with other content; renumber it", "seq")
            )
    return admission


def _refused(r: Reading, code: Code, message: str, field: str) -> Refusal:
    refusal = Refusal(code, message, r.seq, field)
    refusal.fingerprint = fingerprint_of({"seq": r.seq, "ts": r.ts_ms, "vitals": r.vitals})
    return refusal
