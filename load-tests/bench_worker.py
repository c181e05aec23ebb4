"""Worker throughput: readings per second per worker process, with per-patient
state durable in the changelog, side by side with two Faust baselines.

What it does, in one run:

1. Provisions a local Kafka in a temp dir (unless --bootstrap is given) and
   Vigil's topics (`app.infra.topics.ensure_topics`).
2. Pre-fills `vigil.readings` with --readings readings (default 200,000) of
   --patients patients (default 200), --per-record readings per Kafka record
   (default 10: a batching device's frame), keyed by the patient's pseudonym
   like the gateway does. Vitals are the evaluation cohort's
   (`app.tools.evaluation.cohort`: daily rhythm, noise, artifacts, dropouts, some
   deteriorations), event times increasing per patient, patients interleaved;
   the devices are registered so the worker resolves every pseudonym. The
   first --naive-readings of the same stream also go to a topic of their own
   for the naive baseline. All produced with aiokafka (acks=all, linger,
   batching) before any consumer starts.
3. Runs, one after the other, each as its own OS process with its own
   consumer group, consuming its topic from the earliest offset:
   - vigil: Vigil's worker, `python -m app.cli.main worker`, unchanged (state in
     the `patients` table, one changelog record per Kafka record);
   - naive: load-tests/naive_worker.py, the obvious Faust + River app (a
     pickled `HalfSpaceTrees` pipeline per patient in a table, written back
     on every reading), on the --naive-readings prefix (default 3,000) only,
     because it is orders of magnitude slower;
   - decode-only: load-tests/decode_only_worker.py, a Faust agent that only
     decodes each record: the framework's ceiling.

How it is timed (wall clock of this machine; process start-up and Kafka
connection are excluded):
- first: when the worker had its first record. For Vigil, the CreateTime of
  the earliest record of its changelog topic (written as the first record's
  processing ends); for the baselines, the time their agent got its first
  record (their GET /bench).
- last: when the last record had been processed: for Vigil, the latest
  CreateTime in its changelog (the state write is the last step of a
  record); for the baselines, their /bench.
- seconds = last - first; readings/s and records/s follow from it.
- committed: completion is detected by polling the consumer group's committed
  offsets (AIOKafkaAdminClient.list_consumer_group_offsets, every 0.1 s, from
  this process) until they reach the topic's end offsets. Faust flushes its
  producer (the changelog writes) before it commits, and commits every
  2.8 s by default, so "to commit s" = commit seen - first is up to ~3 s
  longer than "seconds".
The counts are checked too: Vigil's /metrics (`vigil_worker_readings_total`
and `vigil_worker_patients`), the baselines' /bench, and the number of
changelog records.

Prints a table (variant, readings, seconds, readings/s, records/s, ratio to
Vigil), the machine and the target (>= 50,000 readings/s per process);
--json FILE writes the same figures. The machine is shared and noisy: compare
ratios within one run, and medians over runs.

    .venv/bin/python load-tests/bench_worker.py                   # defaults
    .venv/bin/python load-tests/bench_worker.py --readings 50000 --json /tmp/w.json
    .venv/bin/python load-tests/bench_worker.py --variants vigil --profile /tmp/bench-pyspy

--profile PREFIX samples each worker with py-spy while it consumes, from
the moment it answers HTTP (Vigil: /readyz 200; the baselines: /bench), so
start-up imports stay out: collapsed stacks to PREFIX-<variant>.txt, and the
top functions are printed. Needs `py-spy` (e.g. `.venv/bin/pip install
py-spy`); sampling slows the workers a little.
Scale-out (--workers 1,2,4): Vigil's worker only, N processes in ONE
consumer group, for each N in turn (then again, --rounds times). Each has
its own VIGIL_HOME (two workers in one home collide on RocksDB) and web
port; the topics get 8 partitions by default (--partitions), so 4 workers
each own some (more workers than partitions sit idle). A fresh group is
started at the topic's end; once every worker answers /readyz (in the
group, partitions assigned, not rebalancing), the --readings are produced
and consumed: the group starts at its full size, so no partition moves
while it is timed. Timed as above, from the first record any worker
processed to the last (their /metrics, sampled every 0.1 s), until the
group's committed offsets reach the end. Reports readings/s in all, per
worker, per core of the machine, the speed-up over 1 worker (median of the
ratios within a round), and where the cores went over that window
(/proc/<pid>/stat of every worker and the local broker, this process's own
CPU (the producer and the polling), and /proc/stat for the rest of the
machine, other tenants included): Kafka, every worker and the producer
share this machine's cores.

    .venv/bin/python load-tests/bench_worker.py --workers 1,2,4 --readings 40000 --rounds 3 --json /tmp/s.json

--bootstrap HOST:PORT uses an existing cluster, whose `vigil.readings` must
be empty (with --workers it need not be: each group starts at its end).
Worker logs are kept in the run's temp dir only with --keep.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import benchlib  # noqa: E402  (also puts the repository root on sys.path)
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition  # noqa: E402
from aiokafka.admin import AIOKafkaAdminClient, NewTopic  # noqa: E402
from aiokafka.errors import KafkaError  # noqa: E402

from app import native  # noqa: E402
from app.core.protocol import Reading  # noqa: E402
from app.core.records import encode_frames, encode_readings, partition_for, pseudonym  # noqa: E402
from app.infra.registry import Registry  # noqa: E402
from app.infra.settings import READINGS_TOPIC, Settings  # noqa: E402
from app.infra.topics import ensure_topics  # noqa: E402
from app.tools.evaluation import cohort  # noqa: E402

# Readings per second per worker process, state durable, by readings per record (issue 14).
TARGETS = {1: 20_000, 10: 40_000}
HERE = Path(__file__).resolve().parent
BASELINES = {"quix": "quix_worker.py", "decode-only": "decode_only_worker.py", "naive": "naive_worker.py"}
VARIANTS = ("vigil", "quix", "decode-only", "naive", "vigil-source")
# Vigil's worker on the core's sources instead of the compiled core (VIGIL_COMPILED_CORE=0,
# app/native.py): asked for by name, to measure the compiled core in the same run.
VIGILS = ("vigil", "vigil-source")
CURVE = (1, 2, 5, 10, 50)  # readings per record, for --curve
POLL_S = 0.1  # seconds between two looks at the committed offsets (and Vigil's /metrics)


# -- the data ---------------------------------------------------------------------


def build_records(
    key: bytes, readings: int, patients: int, per_record: int, seed: int
) -> tuple[list[tuple[bytes, bytes, int]], dict[str, str]]:
    """[(record key, record value, readings in it)] in production order, and
    the devices to register (device id -> patient id)."""
    per_patient = [readings // patients + (1 if i < readings % patients else 0) for i in range(patients)]
    need = max(per_patient)
    days = need * 1.3 / 1440 + 0.05  # the cohort has one reading a minute, minus dropouts
    while True:
        population = cohort(patients, days, seed)
        if min(len(p.readings) for p in population) >= need:
            break
        days *= 1.5
    received_ms = int(time.time() * 1000)
    devices: dict[str, str] = {}
    chunks: list[list[tuple[bytes, bytes, int]]] = []
    for i, simulated in enumerate(population):
        device_id, patient = f"bench-dev-{i:06d}", f"bench-patient-{i:06d}"
        devices[device_id] = patient
        subject = pseudonym(key, patient)
        mine = simulated.readings[: per_patient[i]]
        own = []
        for start in range(0, len(mine), per_record):
            part = [Reading(r["seq"], r["ts"], r["vitals"]) for r in mine[start : start + per_record]]
            own.append((subject.encode(), encode_readings(device_id, subject, received_ms, part), len(part)))
        chunks.append(own)
    # Interleave the patients, one frame each in turn: event times increase per patient.
    records = []
    for k in range(max(len(c) for c in chunks)):
        records.extend(c[k] for c in chunks if k < len(c))
    return records, devices


def coalesce(
    records: list[tuple[bytes, bytes, int]], frames: int, partitions: int
) -> list[tuple[bytes, bytes, int]]:
    """As the gateway's coalescing (`VIGIL_GATEWAY_COALESCE_MS`): consecutive
    frames whose keys share a partition, `frames` at a time, in one version 2
    record keyed by the first (so on the same partition); 1: unchanged."""
    if frames <= 1:
        return records
    out: list[tuple[bytes, bytes, int]] = []
    groups: dict[int, list[tuple[bytes, bytes, int]]] = {}

    def close(group: list[tuple[bytes, bytes, int]]) -> None:
        value = group[0][1] if len(group) == 1 else encode_frames([v for _, v, _ in group])
        out.append((group[0][0], value, sum(n for _, _, n in group)))

    for record in records:
        group = groups.setdefault(partition_for(record[0], partitions), [])
        group.append(record)
        if len(group) == frames:
            close(group)
            group.clear()
    for group in groups.values():
        if group:
            close(group)
    return out


async def produce(bootstrap: str, topic: str, records: list[tuple[bytes, bytes, int]]) -> float:
    """Write the records as fast as aiokafka allows; seconds taken."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", linger_ms=20, max_batch_size=512 * 1024
    )
    await producer.start()
    started = time.perf_counter()
    try:
        futures = [await producer.send(topic, value=value, key=key) for key, value, _ in records]
        await producer.flush()
        for future in futures:
            future.result()  # raises if a record was not stored
    finally:
        await producer.stop()
    return time.perf_counter() - started


async def create_topic(bootstrap: str, name: str, partitions: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, partitions, 1)])
    finally:
        await admin.close()


async def offsets(bootstrap: str, topic: str) -> tuple[dict[TopicPartition, int], dict[TopicPartition, int]]:
    """(beginning offsets, end offsets) of every partition of `topic`."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        (described,) = await admin.describe_topics([topic])
    finally:
        await admin.close()
    if described["error_code"] or not described["partitions"]:
        raise RuntimeError(f"topic {topic} not found (Kafka error {described['error_code']})")
    tps = [TopicPartition(topic, p["partition"]) for p in described["partitions"]]
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    await consumer.start()
    try:
        return await consumer.beginning_offsets(tps), await consumer.end_offsets(tps)
    finally:
        await consumer.stop()


def readings_done(metrics_text: str) -> int:
    """Readings Vigil's worker has processed, whatever their outcome (every
    `vigil_worker_readings_total` series but "undecodable", which counts records)."""
    samples = benchlib.metric(metrics_text, "vigil_worker_readings_total")
    return int(sum(v for labels, v in samples.items() if '"undecodable"' not in labels))


class Progress:
    """Vigil's processed count over time, sampled from its /metrics: when it
    first moved and when it reached the end. Each sample is timed at the
    midpoint of its request, and an event between two samples at their
    midpoint, so either end is within half a poll interval (0.05 s) plus a
    scrape. Neither the changelog's timestamps nor the commits would do: a
    worker that writes its states once per commit interval writes them on a
    2.8 s grid."""

    def __init__(self) -> None:
        self.samples: list[tuple[float, int]] = []

    async def sample(self, url: str, text: str | None = None) -> None:
        before = time.time()
        if text is None:
            answer = await asyncio.to_thread(benchlib.http_get, url, 2.0)
            if answer is None or answer[0] != 200:
                return  # not serving yet
            text = answer[1].decode()
        self.samples.append(((before + time.time()) / 2, readings_done(text)))

    def span(self, total: int) -> tuple[float, float, int]:
        """(first record processed, last record processed), epoch seconds,
        and how many readings were processed before the first (not timed).
        A worker whose /metrics answered only after it had begun has no
        sample at 0: its first sample is then the start of the timing, and
        the readings it already shows are left out of the rate (counted in,
        60,000 readings once came out at 52,751/s, a run of 1.14 s that had
        begun unseen)."""
        first = last = None
        untimed = 0
        before = [None, *(t for t, _ in self.samples)]
        for t0, (t1, n1) in zip(before, self.samples, strict=False):
            if first is None and n1 > 0:
                first = t1 if t0 is None else (t0 + t1) / 2
                untimed = n1 if t0 is None else 0
            if last is None and n1 >= total:
                last = t1 if t0 is None else (t0 + t1) / 2
        if first is None or last is None:
            raise RuntimeError(f"the worker's /metrics never showed {total} readings processed")
        return first, last, untimed


# -- one variant ------------------------------------------------------------------


def peak_rss_mb(pid: int) -> float | None:
    """A process's peak resident memory (VmHWM), in MB; None where /proc does not say."""
    try:
        return round(benchlib.rss_bytes(pid)[1] / 2**20, 1)
    except (OSError, KeyError, ValueError):
        return None


def flush_times(text: str) -> dict[str, float] | None:
    """From a worker's /metrics: its flushes of the record cache, their mean
    duration and the bound on the longest (the first bucket holding them all)."""
    count = benchlib.metric(text, "vigil_worker_state_flush_seconds_count").get("")
    total = benchlib.metric(text, "vigil_worker_state_flush_seconds_sum").get("")
    if not count or total is None:
        return None
    buckets = benchlib.metric(text, "vigil_worker_state_flush_seconds_bucket")
    bounds = sorted(float(k.split('"')[1]) for k, v in buckets.items() if v >= count and "+Inf" not in k)
    longest = bounds[0] if bounds else None
    return {"flushes": count, "mean_s": round(total / count, 4), "longest_at_most_s": longest}


def find_py_spy() -> str | None:
    local = Path(sys.executable).parent / "py-spy"
    return str(local) if local.exists() else shutil.which("py-spy")


def top_functions(collapsed: Path, n: int = 15) -> list[tuple[str, float, float]]:
    """From py-spy's collapsed stacks ("frame;frame;... count", each frame
    "function (file:line)"): (function (file), % of samples where it is the
    innermost frame (self), % of samples where it is on the stack (total)),
    the top `n` by self. Lines of one function are added up."""
    own: collections.Counter[str] = collections.Counter()
    total: collections.Counter[str] = collections.Counter()
    samples = 0
    for line in collapsed.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = [re.sub(r":\d+\)$", ")", frame) for frame in stack.split(";")]
        samples += int(count)
        own[frames[-1]] += int(count)
        for frame in set(frames):
            total[frame] += int(count)
    if not samples:
        return []
    return [(f, 100 * c / samples, 100 * total[f] / samples) for f, c in own.most_common(n)]


async def run_variant(
    name: str,
    cmd: list[str],
    env: dict[str, str],
    group: str,
    topic: str,
    procs: benchlib.Processes,
    bootstrap: str,
    timeout: float,
    ports_file: Path,
    changelog: str | None,
    profile: Path | None = None,
) -> dict[str, Any]:
    begins, ends = await offsets(bootstrap, topic)
    spawned = time.time()
    proc = procs.start(name, cmd, env)
    # On port 0: where its /metrics or /bench is, once it has bound it.
    bound = await asyncio.to_thread(benchlib.reported_ports, ports_file, proc, timeout, name)
    web = f"http://127.0.0.1:{bound['web']}"
    spy = None
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        if profile is not None:
            # Sample the consuming, not the imports: start once the worker answers.
            ready_path = "/readyz" if changelog is not None else "/bench"
            await asyncio.to_thread(benchlib.wait_ready, web + ready_path, proc, timeout)
            spy = subprocess.Popen(
                [
                    find_py_spy() or "py-spy",
                    "record",
                    "--pid",
                    str(proc.pid),
                    "--format",
                    "raw",
                    "--rate",
                    "200",
                    "--nonblocking",
                    "--output",
                    str(profile),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
        # Completion: the group's committed offsets reach the end offsets.
        # Vigil's progress is sampled from its /metrics on the way (first and last).
        progress = Progress()
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited with code {proc.returncode}:\n{procs.log_tail(name)}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not consume everything within {timeout:.0f} s")
            if changelog is not None:
                await progress.sample(web + "/metrics")
            try:
                committed = await admin.list_consumer_group_offsets(group)
            except KafkaError:  # e.g. no group coordinator yet on a fresh broker
                committed = {}
            if all(tp in committed and committed[tp].offset >= end for tp, end in ends.items()):
                committed_at = time.time()
                break
            await asyncio.sleep(POLL_S)
    finally:
        await admin.close()
        if spy is not None:
            spy.send_signal(signal.SIGINT)  # py-spy writes its output on SIGINT
            try:
                spy.wait(60)
            except subprocess.TimeoutExpired:
                spy.kill()
                spy.wait()

    result: dict[str, Any] = {"variant": name, "records": sum(ends[tp] - begins[tp] for tp in ends)}
    if changelog is not None:  # Vigil: times and counts from /metrics, changelog records counted
        answer = benchlib.http_get(web + "/metrics")
        if answer is None or answer[0] != 200:
            raise RuntimeError(f"{name}: no /metrics")
        text = answer[1].decode()
        await progress.sample(web + "/metrics", text)
        first, last, untimed = progress.span(readings_done(text))
        outcomes = benchlib.metric(text, "vigil_worker_readings_total")
        result["readings"] = readings_done(text)
        result["patients"] = int(benchlib.metric(text, "vigil_worker_patients").get("", -1))
        begin, end = await offsets(bootstrap, changelog)
        result["changelog_records"] = sum(end[tp] - begin[tp] for tp in end)
        result["flush"] = flush_times(text)
        result["outcomes"] = {labels.split('"')[1]: int(v) for labels, v in outcomes.items() if '"' in labels}
    else:  # the baselines: their own counters and times
        answer = benchlib.http_get(web + "/bench")
        if answer is None or answer[0] != 200:
            raise RuntimeError(f"{name}: no /bench")
        stats = json.loads(answer[1])
        first, last, untimed = stats["first"], stats["last"], 0
        result["readings"] = stats["readings"]
        result["patients"] = stats.get("patients")
        if stats["records"] != result["records"]:
            raise RuntimeError(f"{name} saw {stats['records']} records, expected {result['records']}")
    result["peak_rss_mb"] = peak_rss_mb(proc.pid)
    benchlib.Processes.stop(proc)
    seconds = last - first
    result.update(
        startup_s=round(first - spawned, 2),
        seconds=round(seconds, 3),
        to_commit_s=round(committed_at - first, 2),
        readings_per_s=round((result["readings"] - untimed) / seconds, 1),
        records_per_s=round(result["records"] * (1 - untimed / max(1, result["readings"])) / seconds, 1),
        untimed=untimed,
    )
    if profile is not None and profile.exists():
        result["profile_top"] = [
            {"function": f, "self_pct": round(s, 1), "total_pct": round(t, 1)}
            for f, s, t in top_functions(profile)
        ]
    return result


# -- the run ----------------------------------------------------------------------


async def bench(
    args: argparse.Namespace, bootstrap: str, tmp: Path, procs: benchlib.Processes
) -> dict[str, Any]:
    run = secrets.token_hex(3)
    key_hex = secrets.token_hex(32)
    home = tmp / "vigil-home"
    settings = Settings.from_env().with_(home=home, kafka_bootstrap=bootstrap, partitions=args.partitions)
    await ensure_topics(settings)
    begin, end = await offsets(bootstrap, READINGS_TOPIC)
    if any(end[tp] > begin[tp] for tp in end):
        raise SystemExit(f"{READINGS_TOPIC} on {bootstrap} already holds records; use an empty cluster")

    print(f"building {args.readings} readings of {args.patients} patients ...", file=sys.stderr)
    records, devices = build_records(
        bytes.fromhex(key_hex), args.readings, args.patients, args.per_record, args.seed
    )
    records = coalesce(records, args.frames_per_record, args.partitions)
    naive_records, naive_count = [], 0  # the same stream's first --naive-readings
    for record in records:
        if naive_count >= args.naive_readings:
            break
        naive_records.append(record)
        naive_count += record[2]
    naive_topic = f"bench.naive-readings.{run}"
    await create_topic(bootstrap, naive_topic, args.partitions)
    produce_s = await produce(bootstrap, READINGS_TOPIC, records)
    await produce(bootstrap, naive_topic, naive_records)
    prefill = {
        "records": len(records),
        "readings": sum(r[2] for r in records),
        "bytes": sum(len(r[1]) for r in records),
        "produce_s": round(produce_s, 2),
    }
    print(
        f"pre-filled {READINGS_TOPIC}: {prefill['records']} records, {prefill['readings']} readings, "
        f"{prefill['bytes'] / 2**20:.1f} MiB in {produce_s:.1f} s "
        f"({prefill['readings'] / produce_s:,.0f} readings/s produced)",
        file=sys.stderr,
    )

    base_env = {k: v for k, v in os.environ.items() if not k.startswith(("VIGIL_", "BENCH_"))}
    runs = []
    for round_no in range(1, args.rounds + 1):
        for variant in args.variants:
            ports_file = tmp / f"ports-{variant}-{round_no}.json"
            group = f"bench-{variant}-{run}-{round_no}"
            topic = naive_topic if variant == "naive" else READINGS_TOPIC
            changelog = f"{group}-patients-changelog" if variant in VIGILS else None
            if variant in VIGILS:
                # A home per run: Faust's RocksDB files are named by table, not by group,
                # so a second worker in the same home would take the first one's offsets.
                run_home = tmp / f"{variant}-home-{round_no}"
                Registry(settings.with_(home=run_home).registry_path).reissue(devices)
                env = dict(
                    base_env,
                    VIGIL_HOME=str(run_home),
                    VIGIL_KAFKA_BOOTSTRAP=bootstrap,
                    VIGIL_WORKER_ID=group,
                    VIGIL_WORKER_WEB_PORT="0",
                    VIGIL_LOG_FORMAT="json",
                    VIGIL_PARTITIONS=str(args.partitions),
                    VIGIL_PSEUDONYM_KEY=key_hex,
                    VIGIL_COMPILED_CORE="0" if variant == "vigil-source" else "1",
                    **args.worker_env,
                )
                cmd = [sys.executable, "-m", "app.cli", "worker", "--ports-file", str(ports_file)]
            else:
                env = dict(
                    base_env,
                    BENCH_BOOTSTRAP=bootstrap,
                    BENCH_APP_ID=group,
                    BENCH_TOPIC=topic,
                    BENCH_PARTITIONS=str(args.partitions),
                    BENCH_WEB_PORT="0",
                    BENCH_PORTS_FILE=str(ports_file),
                    BENCH_DATADIR=str(tmp / f"state-{group}"),
                )
                cmd = [sys.executable, str(HERE / BASELINES[variant])]
                if variant != "quix":
                    cmd += ["worker", "-l", "warn"]
            expected = naive_count if variant == "naive" else prefill["readings"]
            print(f"running {variant} (round {round_no} of {args.rounds}) ...", file=sys.stderr)
            profile = Path(f"{args.profile}-{variant}-{round_no}.txt") if args.profile else None
            result = await run_variant(
                variant,
                cmd,
                env,
                group,
                topic,
                procs,
                bootstrap,
                args.timeout,
                ports_file,
                changelog,
                profile,
            )
            print(
                f"  {variant}: {result['readings']} readings in {result['seconds']:.2f} s "
                f"({result['readings_per_s']:,.0f}/s)",
                file=sys.stderr,
            )
            if variant == "quix":  # Quix's changelog: one record per changed key per checkpoint
                begin, end = await offsets(bootstrap, f"changelog__{group}--{topic}--default")
                result["changelog_records"] = sum(end[tp] - begin[tp] for tp in end)
            result["expected_readings"] = expected
            result["round"] = round_no
            runs.append(result)
    return {"prefill": prefill, "runs": runs, "variants": summarise(runs, args.variants)}


def median(values: list[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def summarise(runs: list[dict[str, Any]], variants: list[str]) -> list[dict[str, Any]]:
    """Per variant: the median of its rounds, each round's readings/s, and the
    median of its ratios to Vigil's readings/s in the same round (each round
    runs every variant back to back, so the ratio sees the same machine load)."""
    vigil_in = {r["round"]: r["readings_per_s"] for r in runs if r["variant"] == "vigil"}
    out = []
    for variant in variants:
        mine = [r for r in runs if r["variant"] == variant]
        if not mine:
            continue
        ratios = [r["readings_per_s"] / vigil_in[r["round"]] for r in mine if r["round"] in vigil_in]
        last = mine[-1]
        out.append(
            {
                **{k: v for k, v in last.items() if k not in ("round", "profile_top")},
                "rounds": len(mine),
                "seconds": round(median([r["seconds"] for r in mine]), 3),
                "readings_per_s": round(median([r["readings_per_s"] for r in mine]), 1),
                "records_per_s": round(median([r["records_per_s"] for r in mine]), 1),
                "to_commit_s": round(median([r["to_commit_s"] for r in mine]), 2),
                "startup_s": round(median([r["startup_s"] for r in mine]), 2),
                "peak_rss_mb": max((r.get("peak_rss_mb") or 0 for r in mine), default=0) or None,
                "each_readings_per_s": [r["readings_per_s"] for r in mine],
                "ratio_to_vigil": round(median(ratios), 4) if ratios else None,
                "profile_top": last.get("profile_top"),
                "counts_ok": all(r["readings"] == r["expected_readings"] for r in mine),
            }
        )
    return out


def report(out: dict[str, Any]) -> str:
    rows = []
    for r in out["variants"]:
        rows.append(
            [
                r["variant"],
                f"{r['readings']:,}",
                f"{r['records']:,}",
                f"{r['seconds']:.2f}",
                f"{r['readings_per_s']:,.0f}",
                f"{r['records_per_s']:,.0f}",
                f"{r['ratio_to_vigil']:.3g}x" if r["ratio_to_vigil"] is not None else "-",
                f"{r['to_commit_s']:.1f}",
                f"{r['startup_s']:.1f}",
                f"{r['changelog_records']:,}" if "changelog_records" in r else "-",
                f"{r['peak_rss_mb']:,.0f}" if r.get("peak_rss_mb") else "-",
                " ".join(f"{x:,.0f}" for x in r["each_readings_per_s"]),
            ]
        )
    lines = [
        benchlib.table(
            [
                "variant",
                "readings",
                "records",
                "seconds",
                "readings/s",
                "records/s",
                "vs vigil",
                "to commit s",
                "start-up s",
                "changelog records",
                "peak MB",
                "each round's readings/s",
            ],
            rows,
        )
    ]
    cfg = out["config"]
    lines.append(
        f"{cfg['patients']} patients, {cfg['per_record']} readings per record, "
        f"{cfg['partitions']} partitions; "
        f"medians of {cfg['rounds']} round(s), ratios to vigil within each round; "
        f"naive on the first {cfg['naive_readings']:,} readings only; {out['kafka']}"
    )
    lines.append(benchlib.machine_line(out["machine"]))
    lines.append(f"vigil's core: {native.describe()}; vigil-source's: Python (VIGIL_COMPILED_CORE=0)")
    vigil = next((r for r in out["variants"] if r["variant"] == "vigil"), None)
    if vigil:
        target = TARGETS.get(cfg["per_record"])
        verdict = (
            f"target at {cfg['per_record']} per record: >= {target:,} readings/s per worker process -> "
            f"{'met' if vigil['readings_per_s'] >= target else 'not met'}"
            if target
            else f"(targets are set at {' and '.join(str(k) for k in TARGETS)} per record)"
        )
        lines.append(
            f"{verdict} (vigil {vigil['readings_per_s']:,.0f}/s; "
            f"{vigil['changelog_records']:,} changelog records "
            f"in its last round, {vigil['patients']} patients in its table; outcomes {vigil['outcomes']})"
        )
        if vigil.get("flush"):
            f = vigil["flush"]
            lines.append(
                f"vigil's flushes of the record cache in its last round: {f['flushes']:.0f}, "
                f"mean {f['mean_s'] * 1000:.1f} ms, the longest at most {f['longest_at_most_s']} s"
            )
    for r in out["runs"]:
        if r["readings"] != r["expected_readings"]:
            lines.append(
                f"COUNT MISMATCH: {r['variant']} (round {r['round']}) reports {r['readings']:,} readings "
                f"of {r['expected_readings']:,}"
            )
    for r in out["variants"]:
        if r.get("profile_top"):
            lines.append(f"{r['variant']}: py-spy, top functions by own samples (self %, total %):")
            for item in r["profile_top"]:
                lines.append(f"  {item['self_pct']:5.1f} {item['total_pct']:5.1f}  {item['function']}")
    return "\n".join(lines)


# -- scale-out: N worker processes in one consumer group -----------------------------


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of a process so far (/proc/<pid>/stat), None if gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


def machine_busy_seconds() -> float:
    """CPU seconds every core of the machine spent busy so far (/proc/stat), all tenants."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    return (sum(values) - values[3] - values[4]) / os.sysconf("SC_CLK_TCK")  # minus idle, iowait


def pids_mentioning(text: str) -> list[int]:
    """Processes whose command line holds `text` (the local broker: its config is in the run's temp dir)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if text in (entry / "cmdline").read_bytes().decode(errors="replace"):
                    found.append(int(entry.name))
    return found


class CpuTrack:
    """CPU seconds of named processes (and the whole machine) sampled over
    time, so the share of a window [first, last] can be read off afterwards."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self.samples: list[tuple[float, dict[str, float]]] = []

    def sample(self) -> None:
        now = {name: cpu_seconds(pid) for name, pid in self.pids.items()}
        cpu = {name: s for name, s in now.items() if s is not None}
        cpu["bench"] = time.process_time()
        cpu["machine"] = machine_busy_seconds()
        self.samples.append((time.time(), cpu))

    def window(self, first: float, last: float) -> tuple[float, dict[str, float]]:
        """(seconds, CPU seconds per name) between the last sample at or
        before `first` and the first sample at or after `last`."""
        before = [s for s in self.samples if s[0] <= first] or self.samples[:1]
        after = [s for s in self.samples if s[0] >= last] or self.samples[-1:]
        (t0, a), (t1, b) = before[-1], after[0]
        return t1 - t0, {name: round(b[name] - a.get(name, 0.0), 2) for name in b}


async def start_group_at_end(bootstrap: str, group: str, topic: str) -> None:
    """Commit `group`'s offsets at the topic's current end, so its workers
    consume only what is produced from now on (one broker serves every run)."""
    _, ends = await offsets(bootstrap, topic)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign(list(ends))
        await consumer.commit(dict(ends))
    finally:
        await consumer.stop()


async def wait_all_ready(webs: list[str], procs: list[subprocess.Popen[bytes]], timeout: float) -> None:
    """Until every worker answers /readyz 200 in one pass: all in the group,
    each with partitions assigned, none rebalancing or recovering."""
    deadline = time.monotonic() + timeout
    while True:
        for proc in procs:
            if proc.poll() is not None:
                raise RuntimeError(f"a worker exited with code {proc.returncode} before the group was ready")
        answers = await asyncio.gather(
            *(asyncio.to_thread(benchlib.http_get, w + "/readyz", 1.0) for w in webs)
        )
        if all(a is not None and a[0] == 200 for a in answers):
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"the {len(webs)} workers were not all ready within {timeout:.0f} s")
        await asyncio.sleep(0.2)


async def run_group(
    n: int,
    args: argparse.Namespace,
    ctx: dict[str, Any],
    round_no: int,
    procs: benchlib.Processes,
) -> dict[str, Any]:
    """One scale-out run: n `vigil worker` processes in one group, each with its
    own VIGIL_HOME and web port; once all are ready, the records are produced
    and the group consumes them. Timed from the first record any worker
    processed to the last (their /metrics, as the single-worker mode)."""
    bootstrap, tmp = ctx["bootstrap"], ctx["tmp"]
    group = f"bench-scale-{ctx['run']}-{round_no}-{n}"
    await start_group_at_end(bootstrap, group, READINGS_TOPIC)
    workers, webs = [], []
    for i in range(n):
        home = tmp / f"home-{group}-{i}"  # two workers in one home collide on RocksDB
        Registry(ctx["settings"].with_(home=home).registry_path).reissue(ctx["devices"])
        env = dict(
            ctx["base_env"],
            VIGIL_HOME=str(home),
            VIGIL_KAFKA_BOOTSTRAP=bootstrap,
            VIGIL_WORKER_ID=group,
            VIGIL_WORKER_WEB_PORT="0",  # the system chooses; the worker reports it
            VIGIL_LOG_FORMAT="json",
            VIGIL_PARTITIONS=str(ctx["partitions"]),
            VIGIL_PSEUDONYM_KEY=ctx["key_hex"],
            **args.worker_env,
        )
        ports_file = home / "worker.ports.json"
        command = [sys.executable, "-m", "app.cli", "worker", "--ports-file", str(ports_file)]
        workers.append(procs.start(f"{group}-{i}", command, env))
        bound = await asyncio.to_thread(benchlib.reported_ports, ports_file, workers[-1], args.timeout)
        webs.append(f"http://127.0.0.1:{bound['web']}")
    try:
        await wait_all_ready(webs, workers, args.timeout)
        track = CpuTrack({**{f"worker-{i}": p.pid for i, p in enumerate(workers)}, **ctx["kafka_pids"]})
        progress = [Progress() for _ in workers]
        track.sample()
        fill = ctx.get("produce") or (lambda: produce(bootstrap, READINGS_TOPIC, ctx["records"]))
        producing = asyncio.create_task(fill())
        committed_at = await consume_all(bootstrap, group, workers, webs, progress, track, producing, args)
        texts = []
        for web, prog in zip(webs, progress, strict=True):
            answer = benchlib.http_get(web + "/metrics")
            if answer is None or answer[0] != 200:
                raise RuntimeError("a worker stopped answering /metrics")
            texts.append(answer[1].decode())
            await prog.sample(web + "/metrics", texts[-1])
        track.sample()
    finally:
        for proc in workers:
            if proc.poll() is None:
                proc.terminate()
        for proc in workers:
            benchlib.Processes.stop(proc)
    result = group_result(n, round_no, texts, progress, track, committed_at, ctx)
    result["produce_s"] = round(producing.result(), 2)  # the records were all sent this fast
    return result


async def consume_all(
    bootstrap: str,
    group: str,
    workers: list[subprocess.Popen[bytes]],
    webs: list[str],
    progress: list[Progress],
    track: CpuTrack,
    producing: asyncio.Task[Any],
    args: argparse.Namespace,
) -> float:
    """Sample every worker's /metrics and the CPU until the producer is done
    and the group's committed offsets reach the topic's end; when that was seen."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    deadline, ends = time.monotonic() + args.timeout, None
    try:
        while True:
            if any(p.poll() is not None for p in workers):
                raise RuntimeError("a worker exited while consuming")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the group did not consume everything within {args.timeout:.0f} s")
            await asyncio.gather(*(p.sample(w + "/metrics") for p, w in zip(progress, webs, strict=True)))
            track.sample()
            if ends is None and producing.done():
                producing.result()  # raises if a record was not stored
                ends = (await offsets(bootstrap, READINGS_TOPIC))[1]
            if ends is not None:
                try:
                    committed = await admin.list_consumer_group_offsets(group)
                except KafkaError:
                    committed = {}
                if all(tp in committed and committed[tp].offset >= end for tp, end in ends.items()):
                    return time.time()
            await asyncio.sleep(POLL_S)
    finally:
        await admin.close()


def group_result(
    n: int,
    round_no: int,
    texts: list[str],
    progress: list[Progress],
    track: CpuTrack,
    committed_at: float,
    ctx: dict[str, Any],
) -> dict[str, Any]:
    each = [readings_done(t) for t in texts]
    spans = [p.span(count) for p, count in zip(progress, each, strict=True) if count > 0]
    first, last = min(s[0] for s in spans), max(s[1] for s in spans)
    seconds = last - first
    readings = sum(each)
    # Readings a worker had processed before its first sample (`Progress.span`)
    # are left out of the rate when that sample begins the window.
    timed = readings - sum(s[2] for s in spans if s[0] == first)
    window_s, cpu = track.window(first, last)
    workers_cpu = sum(v for k, v in cpu.items() if k.startswith("worker-"))
    kafka_cpu = sum(v for k, v in cpu.items() if k.startswith("kafka"))
    cores = ctx["cores"]
    return {
        "workers": n,
        "round": round_no,
        "readings": readings,
        "expected_readings": ctx["expected"],
        "readings_each": each,
        "patients_each": [int(benchlib.metric(t, "vigil_worker_patients").get("", -1)) for t in texts],
        "seconds": round(seconds, 3),
        "to_commit_s": round(committed_at - first, 2),
        "readings_per_s": round(timed / seconds, 1),
        "per_worker": round(timed / seconds / n, 1),
        "per_core": round(timed / seconds / cores, 1),
        "cpu_window_s": round(window_s, 2),
        "cpu_s": cpu,
        # where the cores went over the window, in cores (CPU seconds / wall seconds)
        "cores_busy": {
            "workers": round(workers_cpu / window_s, 2),
            "kafka": round(kafka_cpu / window_s, 2),
            "bench (producer, polling)": round(cpu["bench"] / window_s, 2),
            "rest of the machine": round(
                (cpu["machine"] - workers_cpu - kafka_cpu - cpu["bench"]) / window_s, 2
            ),
        },
        "worker_cpu_us_per_reading": round(workers_cpu / readings * 1e6, 1) if readings else None,
    }


async def scale_context(
    args: argparse.Namespace,
    bootstrap: str,
    tmp: Path,
    key_hex: str,
    records: list[tuple[bytes, bytes, int]],
    devices: dict[str, str],
) -> dict[str, Any]:
    """Vigil's topics (args.partitions if they are new), and what every run needs."""
    settings = Settings.from_env().with_(
        home=tmp / "vigil-home", kafka_bootstrap=bootstrap, partitions=args.partitions
    )
    await ensure_topics(settings)
    _, ends = await offsets(bootstrap, READINGS_TOPIC)
    partitions = len(ends)  # an existing topic keeps its count; the changelogs must match it
    if partitions < max(args.workers):
        note = f"note: {READINGS_TOPIC} has {partitions} partitions: workers beyond that sit idle"
        print(note, file=sys.stderr)
    return {
        "bootstrap": bootstrap,
        "tmp": tmp,
        "run": secrets.token_hex(3),
        "key_hex": key_hex,
        "settings": settings,
        "devices": devices,
        "records": records,
        "expected": sum(r[2] for r in records),
        "partitions": partitions,
        "cores": len(os.sched_getaffinity(0)),
        "base_env": {k: v for k, v in os.environ.items() if not k.startswith(("VIGIL_", "BENCH_"))},
        "kafka_pids": {f"kafka-{pid}": pid for pid in pids_mentioning(str(tmp / "kafka"))},
    }


async def scale_bench(
    args: argparse.Namespace, bootstrap: str, tmp: Path, procs: benchlib.Processes
) -> dict[str, Any]:
    key_hex = secrets.token_hex(32)
    print(f"building {args.readings} readings of {args.patients} patients ...", file=sys.stderr)
    records, devices = build_records(
        bytes.fromhex(key_hex), args.readings, args.patients, args.per_record, args.seed
    )
    ctx = await scale_context(args, bootstrap, tmp, key_hex, records, devices)
    partitions = ctx["partitions"]
    runs = []
    for round_no in range(1, args.rounds + 1):
        for n in args.workers:
            print(f"running {n} worker(s) (round {round_no} of {args.rounds}) ...", file=sys.stderr)
            result = await run_group(n, args, ctx, round_no, procs)
            print(
                f"  {n} worker(s): {result['readings']} readings in {result['seconds']:.2f} s "
                f"({result['readings_per_s']:,.0f}/s; each {result['readings_each']}; "
                f"cores busy {result['cores_busy']})",
                file=sys.stderr,
            )
            runs.append(result)
    records_bytes = sum(len(r[1]) for r in records)
    return {
        "stream": {"records": len(records), "readings": ctx["expected"], "bytes": records_bytes},
        "partitions": partitions,
        "cores": ctx["cores"],
        "runs": runs,
        "scale": summarise_scale(runs, args.workers),
    }


def summarise_scale(runs: list[dict[str, Any]], counts: list[int]) -> list[dict[str, Any]]:
    """Per worker count: medians over rounds, and the speed-up over one worker
    as the median of its ratios within a round (rounds run back to back)."""
    one = {r["round"]: r["readings_per_s"] for r in runs if r["workers"] == 1}
    out = []
    for n in counts:
        mine = [r for r in runs if r["workers"] == n]
        ratios = [r["readings_per_s"] / one[r["round"]] for r in mine if r["round"] in one]
        busy_keys = mine[0]["cores_busy"].keys()
        out.append(
            {
                "workers": n,
                "rounds": len(mine),
                "readings_per_s": round(median([r["readings_per_s"] for r in mine]), 1),
                "per_worker": round(median([r["per_worker"] for r in mine]), 1),
                "per_core": round(median([r["per_core"] for r in mine]), 1),
                "speedup": round(median(ratios), 2) if ratios else None,
                "each_readings_per_s": [r["readings_per_s"] for r in mine],
                "worker_cpu_us_per_reading": median([r["worker_cpu_us_per_reading"] for r in mine]),
                "cores_busy": {k: round(median([r["cores_busy"][k] for r in mine]), 2) for k in busy_keys},
                "counts_ok": all(r["readings"] >= r["expected_readings"] for r in mine),
                "duplicates": max(r["readings"] - r["expected_readings"] for r in mine),
                "idle_workers": max(sum(1 for c in r["readings_each"] if c == 0) for r in mine),
            }
        )
    return out


def scale_report(out: dict[str, Any]) -> str:
    rows = []
    for s in out["scale"]:
        busy = s["cores_busy"]
        rows.append(
            [
                str(s["workers"]),
                f"{s['readings_per_s']:,.0f}",
                f"{s['per_worker']:,.0f}",
                f"{s['per_core']:,.0f}",
                f"{s['speedup']:.2f}x" if s["speedup"] is not None else "-",
                f"{s['worker_cpu_us_per_reading']:,.0f}",
                " / ".join(f"{v:.2f}" for v in busy.values()),
                " ".join(f"{x:,.0f}" for x in s["each_readings_per_s"]),
            ]
        )
    cfg = out["config"]
    lines = [
        benchlib.table(
            [
                "workers",
                "readings/s",
                "per worker",
                f"per core ({out['cores']})",
                "speed-up",
                "worker CPU µs/reading",
                "cores busy: " + " / ".join(out["scale"][0]["cores_busy"]),
                "each round's readings/s",
            ],
            rows,
        ),
        f"{cfg['readings']:,} readings of {cfg['patients']} patients, {cfg['per_record']} per record, "
        f"{out['partitions']} partitions, one consumer group per run; medians of {cfg['rounds']} round(s), "
        f"speed-up within each round; {out['kafka']}. Kafka, every worker and the producer share "
        f"the machine's {out['cores']} cores (and other tenants: 'rest of the machine').",
        benchlib.machine_line(out["machine"]),
    ]
    for r in out["runs"]:
        if r["readings"] < r["expected_readings"]:
            lines.append(
                f"COUNT MISMATCH: {r['workers']} workers (round {r['round']}) processed {r['readings']:,} "
                f"readings of {r['expected_readings']:,}"
            )
    return "\n".join(lines)


# -- the curve: readings/s against readings per record ------------------------------


def curve_report(points: list[dict[str, Any]]) -> str:
    variants = [v["variant"] for v in points[0]["variants"]]
    rows = []
    for point in points:
        by = {v["variant"]: v for v in point["variants"]}
        row = [str(point["config"]["per_record"])]
        for name in variants:
            v = by.get(name)
            row.append(f"{v['readings_per_s']:,.0f}" if v else "-")
        for name in variants:
            if name != "vigil":
                v = by.get(name)
                row.append(f"{v['ratio_to_vigil']:.2f}x" if v and v["ratio_to_vigil"] is not None else "-")
        rows.append(row)
    headers = [
        "per record",
        *[f"{n} readings/s" for n in variants],
        *[f"{n} vs vigil" for n in variants if n != "vigil"],
    ]
    cfg = points[0]["config"]
    return "\n".join(
        [
            benchlib.table(headers, rows),
            f"{cfg['readings']:,} readings of {cfg['patients']} patients per point, "
            f"medians of {cfg['rounds']} "
            f"round(s); ratios within each round; a fresh broker per point; {points[0]['kafka']}",
            benchlib.machine_line(points[0]["machine"]),
        ]
    )


def plot_curve(points: list[dict[str, Any]], path: Path) -> None:
    """Readings/s (median, and each round's as dots) against readings per record."""
    import logging

    import matplotlib

    logging.getLogger("matplotlib").setLevel(logging.WARNING)
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    labels = {
        "vigil": "Vigil's worker",
        "quix": "Quix Streams peer (per-vital River Var)",
        "decode-only": "Faust decode-only (ceiling)",
        "naive": "naive Faust + River",
        "vigil-source": "Vigil's worker, core not compiled",
    }
    fig, ax = plt.subplots(figsize=(7.5, 4.5), dpi=110)
    names = [v["variant"] for v in points[0]["variants"]]
    for name in names:
        xs, ys, dots = [], [], []
        for point in points:
            v = next((v for v in point["variants"] if v["variant"] == name), None)
            if v:
                n = point["config"]["per_record"]
                xs.append(n)
                ys.append(v["readings_per_s"])
                dots += [(n, each) for each in v["each_readings_per_s"]]
        (line,) = ax.plot(xs, ys, marker="o", label=labels.get(name, name))
        ax.scatter([d[0] for d in dots], [d[1] for d in dots], s=10, color=line.get_color(), alpha=0.4)
    for n, target in TARGETS.items():
        ax.scatter([n], [target], marker="_", s=400, color="black", zorder=5)
        ax.annotate(f"target {target:,}", (n, target), textcoords="offset points", xytext=(6, 4), fontsize=8)
    ax.set_xscale("log")
    ax.set_yscale("log")  # the ceiling runs far above the rest at 50 per record
    ax.set_xticks(list(CURVE))
    ax.set_xticklabels([str(n) for n in CURVE])
    ax.yaxis.set_major_locator(matplotlib.ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_minor_locator(matplotlib.ticker.NullLocator())
    ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda y, _: f"{y:,.0f}"))
    ax.set_xlabel("readings per Kafka record (device frame)")
    ax.set_ylabel("readings/s, one worker process (log scale)")
    ax.grid(True, alpha=0.3)
    cfg = points[0]["config"]
    ax.set_title(
        f"bench_worker.py --curve: {cfg['readings']:,} readings, {cfg['patients']} patients, "
        f"median of {cfg['rounds']}\n2 shared vCPUs, Kafka on the same cores",
        fontsize=9,
    )
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def run_once(args: argparse.Namespace) -> dict[str, Any]:
    out, kafka_desc = benchlib.run_with_kafka(args, "vigil-bench-worker-", bench)
    return _report("bench_worker", args, kafka_desc, out, target_readings_per_s=TARGETS)


def run_scale(args: argparse.Namespace) -> dict[str, Any]:
    out, kafka_desc = benchlib.run_with_kafka(args, "vigil-bench-scale-", scale_bench)
    return _report("bench_worker --workers", args, kafka_desc, out)


def _report(
    benchmark: str, args: argparse.Namespace, kafka_desc: str, out: dict[str, Any], **extra: Any
) -> dict[str, Any]:
    return {
        "benchmark": benchmark,
        "machine": benchlib.machine(),
        "kafka": kafka_desc,
        "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        **extra,
        **out,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--readings", type=int, default=200_000, help="readings to pre-fill (default 200,000)"
    )
    parser.add_argument("--patients", type=int, default=200, help="patients they come from (default 200)")
    parser.add_argument(
        "--per-record", type=int, default=1, help="readings per Kafka record (default 1: a reading per frame)"
    )
    parser.add_argument(
        "--frames-per-record",
        type=int,
        default=1,
        help="frames (of different patients on one partition) coalesced per record, as the gateway does "
        "with VIGIL_GATEWAY_COALESCE_MS (default 1: a record per frame)",
    )
    parser.add_argument(
        "--curve",
        action="store_true",
        help=f"run every variant at {', '.join(map(str, CURVE))} readings per record (a fresh broker each)",
    )
    parser.add_argument("--plot", type=Path, metavar="PNG", help="with --curve: draw the curve to PNG")
    parser.add_argument(
        "--from-json", type=Path, metavar="FILE", help="with --curve: print and plot a saved --json"
    )
    parser.add_argument(
        "--rounds", type=int, default=1, help="run the variants this many times on the same topic; medians"
    )
    parser.add_argument(
        "--naive-readings", type=int, default=3_000, help="prefix the naive baseline consumes (default 3,000)"
    )
    parser.add_argument(
        "--partitions",
        type=int,
        help="partitions of the topics (default 4, Vigil's; 8 with --workers)",
    )
    parser.add_argument(
        "--workers",
        help="scale-out: e.g. 1,2,4: that many Vigil workers in one consumer group, each count in turn",
    )
    parser.add_argument(
        "--variants",
        help=f"comma-separated, of {', '.join(VARIANTS)} (default: all; with --curve all but naive)",
    )
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument(
        "--timeout", type=float, default=1800.0, help="seconds allowed per variant (default 1800)"
    )
    parser.add_argument(
        "--bootstrap", help="use this Kafka cluster instead of a local one (vigil.readings must be empty)"
    )
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the figures to FILE as JSON")
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="PREFIX",
        help="py-spy each worker; collapsed stacks to PREFIX-<variant>-<round>.txt",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (worker logs, Kafka data)")
    parser.add_argument(
        "--worker-setting",
        action="append",
        default=[],
        metavar="VIGIL_NAME=VALUE",
        help="a setting for Vigil's worker (repeatable), e.g. VIGIL_WORKER_DECODED_CACHE=30000",
    )
    args = parser.parse_args()
    bad = [s for s in args.worker_setting if not s.startswith("VIGIL_") or "=" not in s]
    if bad:
        parser.error(f"--worker-setting takes VIGIL_NAME=VALUE, not {bad[0]!r}")
    args.worker_env = dict(setting.split("=", 1) for setting in args.worker_setting)  # every Vigil worker's
    default = [v for v in VARIANTS[:4] if v != "naive"] if args.curve else list(VARIANTS[:4])
    args.variants = [v.strip() for v in args.variants.split(",") if v.strip()] if args.variants else default
    unknown = set(args.variants) - set(VARIANTS)
    if unknown:
        parser.error(f"unknown variants: {', '.join(sorted(unknown))}")
    if args.profile and not find_py_spy():
        parser.error("--profile needs py-spy (.venv/bin/pip install py-spy)")
    if args.plot and not args.curve:
        parser.error("--plot draws the --curve")
    if args.curve and args.bootstrap:
        parser.error("--curve starts a fresh local broker per point; it cannot use --bootstrap")
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    if args.partitions is None:
        args.partitions = 8 if args.workers else 4
    if args.workers:
        try:
            args.workers = [int(n) for n in args.workers.split(",") if n.strip()]
        except ValueError:
            parser.error("--workers takes worker counts, e.g. 1,2,4")
        if not args.workers or min(args.workers) < 1:
            parser.error("--workers takes worker counts of at least 1, e.g. 1,2,4")
        if args.curve or args.profile:
            parser.error("--workers runs Vigil's worker only, without --curve or --profile")
        benchlib.stop_on_signals()
        out = run_scale(args)
        print(scale_report(out))
        if args.json:
            args.json.write_text(json.dumps(out, indent=2))
        return

    if args.from_json:
        if not args.curve:
            parser.error("--from-json reads a --curve run's --json")
        points = json.loads(args.from_json.read_text())["points"]
        print(curve_report(points))
        if args.plot:
            plot_curve(points, args.plot)
        return
    benchlib.stop_on_signals()
    if not args.curve:
        out = run_once(args)
        print(report(out))
        if args.json:
            args.json.write_text(json.dumps(out, indent=2))
        return
    points = []
    for per_record in CURVE:
        print(f"== {per_record} readings per record", file=sys.stderr)
        point = run_once(argparse.Namespace(**{**vars(args), "per_record": per_record}))
        print(report(point), file=sys.stderr)
        points.append(point)
        if args.json:  # as it goes: a long run interrupted keeps its points
            curve = {"benchmark": "bench_worker --curve", "points": points}
            args.json.write_text(json.dumps(curve, indent=2))
    print(curve_report(points))
    if args.plot:
        plot_curve(points, args.plot)
        print(f"plot: {args.plot}")


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        print("interrupted; every process this run started has been stopped", file=sys.stderr)
        sys.exit(130)
