"""Read a Kafka log directory's segments directly: the records of a topic's
partitions as a broker left them, without starting it. For the brokers a
fault run kept (`faults.py --keep`: `<kept dir>/kafka/node-1/logs`, or
`<kept dir>/kafka/logs` for a single broker).

`kafka.tools.DumpLogSegments` prints a record's value as text, which
mangles binary ones (the worker's patient states): this reads the record
batches (format v2) itself and prints one JSON line per record: partition,
offset, timestamp (ms), key, and the value as JSON when it is JSON, else as
base64. With `--states` (for a `...-patients-changelog` topic) each value is
decoded as the worker's patient state instead: readings counted, the last
reading's time, alerts open. Compressed batches and transaction markers are
skipped (counted on stderr): Vigil's producers do not compress.

    .venv/bin/python load-tests/kafka_segments.py KEPT/kafka/node-1/logs vigil.readings --partition 3
    .venv/bin/python load-tests/kafka_segments.py KEPT/kafka/node-1/logs \
        vigil-faults-1-patients-changelog --states

Found how `scale-kill` failed (docs/reliability.md, "a partition never
committed"): one partition's states in the changelog skipped 10 s of
readings that were on `vigil.readings`.
"""

from __future__ import annotations

import argparse
import base64
import os
import struct
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import benchlib  # noqa: F401  (puts the repository root on sys.path)
import orjson

_HEADER = 61  # a record batch's header, up to and including its record count
_COMPRESSION = 0x07
_CONTROL = 0x20


@dataclass
class Record:
    partition: int
    offset: int
    timestamp_ms: int
    key: bytes | None
    value: bytes | None


@dataclass
class Skipped:
    compressed: int = 0  # batches
    control: int = 0  # batches (transaction markers)


def _varint(data: bytes, i: int) -> tuple[int, int]:
    """A zigzag varint at `i`: (value, index after it)."""
    shift = result = 0
    while True:
        byte = data[i]
        i += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return (result >> 1) ^ -(result & 1), i
        shift += 7


def _bytes(data: bytes, i: int) -> tuple[bytes | None, int]:
    length, i = _varint(data, i)
    if length < 0:
        return None, i
    return data[i : i + length], i + length


def segment_records(path: Path, partition: int, skipped: Skipped) -> Iterator[Record]:
    """The records of one segment file (`*.log`), in offset order."""
    data = path.read_bytes()
    i = 0
    while i + _HEADER <= len(data):
        base_offset, length = struct.unpack_from(">qi", data, i)
        if length <= 0 or i + 12 + length > len(data):
            return  # preallocated space, or a batch still being written
        end = i + 12 + length
        magic = data[i + 16]
        (attributes,) = struct.unpack_from(">h", data, i + 21)
        (first_timestamp,) = struct.unpack_from(">q", data, i + 27)
        (count,) = struct.unpack_from(">i", data, i + 57)
        if magic != 2:
            raise ValueError(f"{path}: record batch format {magic} at byte {i}; only 2 is read")
        if attributes & _CONTROL:
            skipped.control += 1
        elif attributes & _COMPRESSION:
            skipped.compressed += 1
        else:
            j = i + _HEADER
            for _ in range(count):
                size, j = _varint(data, j)
                start = j
                j += 1  # the record's attributes, unused
                delta_ts, j = _varint(data, j)
                delta_offset, j = _varint(data, j)
                key, j = _bytes(data, j)
                value, j = _bytes(data, j)
                yield Record(partition, base_offset + delta_offset, first_timestamp + delta_ts, key, value)
                j = start + size  # headers are not read
        i = end


def topic_records(log_dir: Path, topic: str, partition: int | None, skipped: Skipped) -> Iterator[Record]:
    """The records of `topic` in `log_dir`, partition by partition, each in offset order."""
    folders = sorted(
        (int(folder.name.rsplit("-", 1)[1]), folder)
        for folder in log_dir.glob(f"{topic}-*")
        if folder.name.rsplit("-", 1)[0] == topic and folder.name.rsplit("-", 1)[1].isdigit()
    )
    if not folders:
        raise FileNotFoundError(f"no partition of {topic} in {log_dir}")
    for number, folder in folders:
        if partition is None or number == partition:
            for segment in sorted(folder.glob("*.log")):
                yield from segment_records(segment, number, skipped)


def _text(raw: bytes | None) -> object:
    if raw is None:
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        pass
    try:
        return raw.decode()
    except UnicodeDecodeError:
        return {"base64": base64.b64encode(raw).decode()}


def _state(raw: bytes | None) -> object:
    from app.core import state as patient_state
    from app.core.errors import StateError

    if raw is None:
        return None  # a tombstone
    try:
        state = patient_state.decode(raw)
    except StateError as exc:
        return {"undecodable": str(exc)}
    return {"count": state.count, "last_ts": state.last_ts, "alerts_open": len(state.alerts)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("log_dir", type=Path, help="a broker's log.dirs (holds <topic>-<partition> folders)")
    parser.add_argument("topic")
    parser.add_argument("--partition", type=int, help="only this partition")
    parser.add_argument("--states", action="store_true", help="decode values as the worker's patient states")
    args = parser.parse_args(argv)
    skipped = Skipped()
    decode = _state if args.states else _text
    try:
        for record in topic_records(args.log_dir, args.topic, args.partition, skipped):
            line = {
                "partition": record.partition,
                "offset": record.offset,
                "timestamp_ms": record.timestamp_ms,
                "key": _text(record.key),
                "value": decode(record.value),
            }
            sys.stdout.buffer.write(orjson.dumps(line) + b"\n")
    except (FileNotFoundError, ValueError) as exc:
        print(f"kafka_segments: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # the reader stopped (`| head`): not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    if skipped.compressed or skipped.control:
        print(
            f"skipped {skipped.compressed} compressed batches and {skipped.control} transaction markers",
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
