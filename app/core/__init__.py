"""Vigil's pure core: device frames, cleaning, per-patient detection, NEWS2 and
the alert lifecycle.

Nothing in this package does I/O, reads a clock, or imports asyncio, Kafka,
websockets or Prometheus (tests/core/test_purity.py checks it). Time comes in as
event time (epoch milliseconds) carried by the readings themselves.
"""
