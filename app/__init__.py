"""Vigil: a real-time health-data stream processor."""

from app import native

__version__ = "0.1.0"

native.select()  # the compiled core when it is built and current, else the sources (app/native.py)
