"""One device's websocket session, without I/O: frames and the time go in,
what to do comes out (after python-websockets' sans-I/O `Protocol`).

The gateway makes one `DeviceSession` per connection, hands it every frame
the device sends with the receipt time (`receive`), and performs the actions
that come back, in order. For a `StoreReadings` among them it writes the
record to `vigil.readings` and then tells the session how that went:
`stored` once Kafka has the record (the session enters the seqs in the
device's window and answers with the ack), `failed` if Kafka refused it or
did not answer in time (the session answers `unavailable` for each reading
and closes with 1013). A record Kafka stores after `failed` is still passed
to `stored`: its seqs enter the window, so the device's resend is recognised,
and nothing is sent.

What a frame costs, what the device hears, what is recorded on
`vigil.rejected` and what is counted is decided here, from
`app.core.protocol` (frames), `app.core.delivery` (budget, stored seqs,
admission) and `app.core.records` (record formats). The actions:

    Count(outcome, n)            n readings had this outcome (`vigil_gateway_readings_total`)
    Send(frame)                  a text frame for the device
    RecordRejection(key, value)  a record for `vigil.rejected` (best effort, while Kafka is up)
    StoreReadings(key, value, ...)  the frame's new readings, for `vigil.readings`
    Throttle(pause_s)            the device went over its budget: note it for the
                                 interval's summary and read nothing from it for pause_s
    Close(code, reason)          close the connection

If sending to the device fails (it went away), the gateway still performs
the records but sends nothing more, and does not pause or close.

The device's `SeqWindow` and `Budget` are passed in and updated in place:
they belong to the device, not the connection (a reconnect does not refill
the budget; other gateways' stored seqs are merged into the window).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from app.core.delivery import Budget, OverBudget, SeqWindow, admit, rate_limited
from app.core.errors import Code, Refusal
from app.core.protocol import Limits, ack_frame, error_frame, hello_frame, parse_frame
from app.core.records import encode_readings, encode_rejection, encode_rejection_summary

CLOSE_TRY_LATER = 1013  # Kafka unavailable: reconnect with backoff
UNREAD = "unread"  # the kind of a frame refused for the budget before it was read


@dataclass(slots=True)
class Count:
    outcome: str  # "accepted", "duplicate" or an error code
    n: int = 1


@dataclass(slots=True)
class Send:
    frame: str


@dataclass(slots=True)
class RecordRejection:
    key: bytes  # the device id
    value: bytes  # `encode_rejection`: no patient data


@dataclass(slots=True, eq=False)
class StoreReadings:
    """One frame's new readings: write `value` under `key`, then call the
    session's `stored` or `failed` with this very object."""

    key: bytes  # the patient's pseudonym
    value: bytes  # `encode_readings`
    seqs: tuple[int, ...]  # acknowledged once stored
    fingerprints: tuple[int, ...]  # of each of `seqs`, for the window
    resent: tuple[int, ...] = ()  # already stored; acknowledged with them
    batch: bool = False  # acknowledged with `seqs` (a batch) or `seq`


@dataclass(slots=True)
class Throttle:
    pause_s: float


@dataclass(slots=True)
class Close:
    code: int
    reason: str


Action = Count | Send | RecordRejection | StoreReadings | Throttle | Close


@dataclass(slots=True)
class Received:
    """What one frame was and what to do about it."""

    kind: str  # "hello", "reading", "batch", "invalid" (as `parse_frame`), or UNREAD
    actions: list[Action] = field(default_factory=list)
    accepted: int = 0  # readings that parsed
    refused: int = 0  # refusals from parsing
    trace: str = ""  # the frame's trace id; none for a frame refused unread
    newest_ms: int | None = None  # the newest `ts` among the readings that parsed (epoch ms)


class DeviceSession:
    """One connection of one device."""

    def __init__(
        self,
        device_id: str,
        patient: str | Callable[[str], bool],
        subject: str,
        window: SeqWindow,
        budget: Budget,
        limits: Limits = Limits(),
        new_trace: Callable[[], str] = lambda: "",
    ) -> None:
        self.device_id = device_id
        self._key = device_id.encode()
        self._patient = patient  # the registered patient (or a test): readings naming another are refused
        self._subject = subject  # the patient's pseudonym, the key of `vigil.readings`
        self.window = window
        self.budget = budget
        self.limits = limits
        self._new_trace = new_trace  # a fresh trace id per frame read (the gateway's are random)
        self._pending: set[StoreReadings] = set()  # written, neither stored nor failed yet

    def __repr__(self) -> str:
        return f"DeviceSession({self.device_id!r}, pending={len(self._pending)})"

    @property
    def pending(self) -> int:
        """Writes whose outcome the session has not been told yet."""
        return len(self._pending)

    def receive(self, frame: str | bytes, now_ms: int) -> Received:
        """A frame from the device, received at `now_ms` (epoch ms)."""
        over = self.budget.exhausted(now_ms / 1000)
        if over is not None:  # refused unread: a flood costs as little as possible
            return Received(UNREAD, self._over_budget(over, None))
        trace = self._new_trace()  # follows this frame's readings into the worker's logs
        parsed = parse_frame(frame, now_ms, self.limits)
        accepted, refused = len(parsed.readings), len(parsed.refusals)
        received = Received(parsed.kind, [], accepted, refused, trace)
        if parsed.readings:
            received.newest_ms = max([r.ts_ms for r in parsed.readings])
        over = self.budget.charge(now_ms / 1000, accepted + refused)
        if over is not None:
            first = parsed.readings[0].seq if parsed.readings else None
            received.actions.append(Count(Code.RATE_LIMITED.value, accepted + refused))
            received.actions.extend(self._over_budget(over, first))
            return received
        if parsed.kind == "hello":
            received.actions.append(Send(hello_frame(*self.window.hello(), gateway_ts=now_ms)))
            return received
        admission = admit(parsed.readings, self._patient, self.window)
        for refusal in parsed.refusals + admission.refusals:
            received.actions.extend(self._reject(refusal, now_ms))
        batch = parsed.kind == "batch"
        if not admission.new:
            if admission.resent:
                received.actions.append(Count("duplicate", len(admission.resent)))
                received.actions.append(Send(ack_frame(admission.resent, batch)))
            return received
        write = StoreReadings(
            self._subject.encode(),
            encode_readings(self.device_id, self._subject, now_ms, admission.new, trace),
            tuple([r.seq for r in admission.new]),
            tuple(admission.fingerprints),
            tuple(admission.resent),
            batch,
        )
        self._pending.add(write)
        received.actions.append(write)
        return received

    def stored(self, write: StoreReadings) -> list[Action]:
        """Kafka has `write`: its seqs enter the window; the device gets its
        ack, unless the session already gave up on the write (`failed`)."""
        for seq, fp in zip(write.seqs, write.fingerprints, strict=True):
            self.window.add(seq, fp)
        if write not in self._pending:
            return []
        self._pending.discard(write)
        actions: list[Action] = [Count("accepted", len(write.seqs))]
        if write.resent:
            actions.append(Count("duplicate", len(write.resent)))
        seqs = sorted(write.seqs + write.resent) if write.batch else list(write.seqs)
        actions.append(Send(ack_frame(seqs, write.batch)))
        return actions

    def failed(self, write: StoreReadings) -> list[Action]:
        """Kafka refused `write` or did not confirm it in time: each of its
        readings is `unavailable` (resend later) and the connection closes
        with 1013. The readings it acknowledged as resent get no answer: the
        device resends them too and hears then that they are stored."""
        if write not in self._pending:
            return []
        self._pending.discard(write)
        actions: list[Action] = [Count(Code.UNAVAILABLE.value, len(write.seqs))]
        actions += [
            Send(error_frame(Refusal(Code.UNAVAILABLE, "service unavailable; resend later", seq)))
            for seq in write.seqs
        ]
        actions.append(Close(CLOSE_TRY_LATER, "try again later"))
        return actions

    def _reject(self, refusal: Refusal, now_ms: int) -> list[Action]:
        """One refusal within the budget: counted, recorded on `vigil.rejected`
        without patient data, and told to the device."""
        return [
            Count(refusal.code.value),
            RecordRejection(self._key, encode_rejection(self.device_id, now_ms, refusal)),
            Send(error_frame(refusal)),
        ]

    def _over_budget(self, over: OverBudget, seq: int | None) -> list[Action]:
        """The device hears it once an interval; its refusals go into the
        interval's summary record; its frames wait in the socket meanwhile."""
        actions: list[Action] = []
        if over.notify:
            actions.append(Send(error_frame(rate_limited(seq))))
        actions.append(Throttle(over.pause_s))
        return actions


def rejection_summary(device_id: str, budget: Budget, now_ms: int, final: bool = False) -> bytes | None:
    """The `vigil.rejected` summary of what `budget` refused beyond itself,
    once its interval is over (at once with `final`); None if not due yet.
    The budget outlives the connection: the gateway asks for it on a timer."""
    summary = budget.summary(now_ms / 1000, final)
    if summary is None:
        return None
    first_s, last_s, counts = summary
    return encode_rejection_summary(device_id, int(first_s * 1000), int(last_s * 1000), counts)
