"""The garbage collector's settings for a long-running service.

CPython collects its youngest generation every 700 net allocations and,
every tenth and hundredth of those, older ones, each time scanning every
container object of those generations. The gateway allocates several
short-lived objects per frame (futures, callbacks, dataclasses), nearly all
freed by reference counting, and holds many long-lived ones (2,000
connections' sockets, sessions and tasks): at 3,000 frames/s the collector
took 20 % of its CPU, 36 full collections of about 145 ms each in a 40 s
run, each a pause of the event loop (docs/benchmarks.md, "The garbage
collector"). The worker holds the decoded states of up to 30,000 patients
(`VIGIL_WORKER_DECODED_CACHE`), millions of long-lived objects: with 20,000
patients the default thresholds made 17 full collections of up to 0.2 s in
a 200,000-reading run ("The worker's garbage collector").

`tune()` runs once each service is up: what exists by then (modules,
settings, the registry) is moved out of the collector's sight for good
(`gc.freeze`), and the youngest generation is collected every `GEN0`
allocations instead of 700. Cycles are still collected, less often.
"""

from __future__ import annotations

import gc

GEN0 = 50_000  # net allocations between collections of the youngest generation


def tune() -> None:
    gc.collect()  # what is garbage now is not frozen
    gc.freeze()
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(GEN0, gen1, gen2)
