"""Vigil: a real-time health-data stream processor."""

__version__ = "0.1.0"
