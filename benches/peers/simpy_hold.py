#!/usr/bin/env python3
"""W1 and W2 on SimPy 4.1 (docs/performance.md).

Usage: simpy_hold.py w1|w2 PENDING EVENTS. Prints the rate in events per second, timed after
set-up, like the other programs in this folder.

W1: PENDING processes, each waiting Exp(mean 1 s) in a loop. W2: each wake-up also re-arms its
chain's expiry 10 s ahead. SimPy cannot cancel a timeout, so the previous expiry is cancelled
lazily: it still leaves the queue at its time, finds a newer version number and is not counted.
Draws come from Python's `random.expovariate`, seeded with 42.
"""

import random
import sys
import time

import simpy


def main():
    if len(sys.argv) != 4 or sys.argv[1] not in ("w1", "w2"):
        sys.exit("usage: simpy_hold.py w1|w2 PENDING EVENTS")
    refresh = sys.argv[1] == "w2"
    pending = int(sys.argv[2])
    events = int(sys.argv[3])
    rng = random.Random(42)
    expovariate = rng.expovariate
    env = simpy.Environment()
    processed = [0]
    versions = [0] * pending

    def expire(chain, version):
        def callback(_event):
            if versions[chain] == version:
                processed[0] += 1

        return callback

    def rearm(chain, delay):
        versions[chain] += 1
        env.timeout(delay).callbacks.append(expire(chain, versions[chain]))

    def chain_process(chain, first):
        yield env.timeout(first)
        while True:
            processed[0] += 1
            if refresh:
                rearm(chain, 10.0)
            yield env.timeout(expovariate(1.0))

    for chain in range(pending):
        first = expovariate(1.0)
        env.process(chain_process(chain, first))
        if refresh:
            rearm(chain, first + 10.0)
    env.run(until=1e-9)  # start every process
    start = time.perf_counter()
    env.run(until=events / pending)
    seconds = time.perf_counter() - start
    print(f"{processed[0] / seconds:.0f}")


if __name__ == "__main__":
    main()
