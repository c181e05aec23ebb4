"""How the worker's `patients` table stores a patient's state: Vigil's own
versioned encoding (`app.core.state`), never pickle.

Faust takes a table's codec from its value type (`StoredPatientState`) for
both the writes to the changelog and the reads during recovery. Reads keep
the bytes (`EncodedState`): recovery hands every changelog record to the
codec, and decoding them all there (every vital's estimators of every
patient) made recovering 100,000 patients take 45 s and about 7.8 KB of
memory each; the bytes (about 1.5 KB) are decoded when the patient's next
reading arrives (`load_state`).
"""

from __future__ import annotations

from typing import Any

import structlog
from faust.serializers import codecs

from app.core import state as patient_state
from app.core.errors import StateError
from app.infra import metrics

log = structlog.get_logger()

CODEC = "vigil_state"


class EncodedState:
    """A patient's state as the table holds it: its encoded bytes."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data


class PatientStateCodec(codecs.Codec):
    """Faust codec for table values. Writes take an `EncodedState` (the
    worker encodes, and bounds, each state itself) or a `PatientState`."""

    def _dumps(self, obj: Any) -> bytes:
        data = obj.data if isinstance(obj, EncodedState) else patient_state.encode(obj)
        metrics.CHANGELOG_WRITES.inc()
        metrics.CHANGELOG_BYTES.inc(len(data))
        return data

    def _loads(self, s: bytes) -> Any:
        return EncodedState(bytes(s))


codecs.register(CODEC, PatientStateCodec())


class StoredPatientState:
    """The `patients` table's value type, as Faust sees it.

    Naming the codec here keeps changelog writes and recovery reads in
    agreement; setting serializers on the table after it is declared does not
    reach the changelog topic.
    """

    class _options:
        serializer = CODEC

    @staticmethod
    def from_data(value: Any, preferred_type: Any = None) -> Any:
        return value  # an EncodedState from PatientStateCodec; see load_state


def load_state(stored: Any) -> patient_state.PatientState:
    """The table's value for a patient as a `PatientState`: a fresh one for
    a new patient, the decoded one for a stored state.

    A stored state this version cannot read (an older encoding, a corrupt
    record) must not stop the worker: the patient starts again from the
    population prior, and `vigil_worker_state_resets_total` counts it.
    """
    if stored is None:
        return patient_state.PatientState()
    if isinstance(stored, EncodedState):
        try:
            return patient_state.decode(stored.data)
        except StateError:
            metrics.STATE_RESETS.inc()
            log.warning("undecodable patient state replaced by a fresh one")
            return patient_state.PatientState()
    return stored  # type: ignore[no-any-return]  # a PatientState written in this process
