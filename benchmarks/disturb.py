"""A disturbance generator: what this project's VMs do to a timing campaign, on purpose.

The 2-core VMs here are slow in spells of seconds to minutes that the OS does not see (no steal
time; MACHINE-NOTES 2026-11-29). This script reproduces that shape so the instrument can be
judged under it: random spells of `--min-spell`..`--max-spell` s (log-uniform) separated by quiet
gaps drawn (exponential) so that the long-run share of time in spells is `--duty`. In a spell,
`--workers` processes (default: one per core) each alternate between a CPU-bound loop and
streaming over a `--memory-mb` array (memory bandwidth and cache pressure: the last-level cache
is shared), in slices of 50-500 ms. Everything is drawn from `--seed`, so two runs disturb alike.

It stops by itself: after `--duration` seconds, or as soon as the process `--until-pid` has
exited, whichever comes first (one of them is required). Every spell is written to `--log` as
a JSON line (start, end, seconds since the epoch), so a campaign's timings can be set against it.

Usage: python benchmarks/disturb.py --duty 0.4 --duration 1800 --seed 1 --log spells.jsonl
       python benchmarks/disturb.py --duty 0.4 --until-pid 12345
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing as mp
import os
import random
import signal
import time
from pathlib import Path


class SpellPlan:
    """An endless seeded sequence of (quiet gap s, spell s) with the requested long-run duty."""

    def __init__(self, seed: int, duty: float, min_spell: float, max_spell: float) -> None:
        if not 0 < duty < 1:
            raise ValueError(f"--duty must lie strictly between 0 and 1, not {duty}")
        if not 0 < min_spell <= max_spell:
            raise ValueError(f"spells need 0 < --min-spell <= --max-spell, not {min_spell}, {max_spell}")
        self.random = random.Random(seed)
        self.duty, self.low, self.high = duty, min_spell, max_spell
        # Mean of a log-uniform spell length, so the gaps' mean gives the duty.
        if max_spell > min_spell:
            self.mean_spell = (max_spell - min_spell) / math.log(max_spell / min_spell)
        else:
            self.mean_spell = min_spell

    def next(self) -> tuple[float, float]:
        spell = math.exp(self.random.uniform(math.log(self.low), math.log(self.high)))
        gap = self.random.expovariate(1.0 / (self.mean_spell * (1 - self.duty) / self.duty))
        return gap, spell


def _worker(seed: int, memory_mb: int, stop: mp.synchronize.Event) -> None:
    """Until `stop`: slices of a CPU loop or of streaming over a large array, at random."""
    import numpy as np

    rng = random.Random(seed)
    array = np.ones(max(1, memory_mb) * 1024 * 1024 // 8)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    while not stop.is_set():
        until = time.monotonic() + rng.uniform(0.05, 0.5)
        if rng.random() < 0.5:
            x = 1.0
            while time.monotonic() < until:
                for _ in range(10_000):
                    x = x * 1.0000001 + 1e-9
        else:
            while time.monotonic() < until:
                array += 1.0  # reads and writes the whole array: bandwidth and cache pressure


def _alive(pid: int | None) -> bool:
    if pid is None:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def run(args: argparse.Namespace) -> int:
    plan = SpellPlan(args.seed, args.duty, args.min_spell, args.max_spell)
    deadline = time.monotonic() + args.duration if args.duration else float("inf")
    log = Path(args.log).open("a") if args.log else None  # noqa: SIM115 (closed in the finally below)
    spells = 0
    in_spell = 0.0
    started = time.monotonic()

    def wait(seconds: float) -> bool:
        """Sleep up to `seconds`; False once the deadline passed or the watched process ended."""
        end = min(time.monotonic() + seconds, deadline)
        while time.monotonic() < end:
            if not _alive(args.until_pid):
                return False
            time.sleep(min(0.5, max(0.0, end - time.monotonic())))
        return time.monotonic() < deadline and _alive(args.until_pid)

    try:
        while True:
            gap, spell = plan.next()
            if not wait(gap):
                break
            stop = mp.Event()
            workers = [
                mp.Process(target=_worker, args=(args.seed * 1000 + spells * 10 + w, args.memory_mb, stop))
                for w in range(args.workers)
            ]
            start_unix, start = time.time(), time.monotonic()
            for worker in workers:
                worker.start()
            carry_on = wait(spell)
            stop.set()
            for worker in workers:
                worker.join(timeout=5)
                if worker.is_alive():
                    worker.terminate()
            spells += 1
            in_spell += time.monotonic() - start
            if log:
                log.write(json.dumps({"start_unix_s": start_unix, "end_unix_s": time.time()}) + "\n")
                log.flush()
            if not carry_on:
                break
    except KeyboardInterrupt:
        pass
    finally:
        if log:
            log.close()
    total = time.monotonic() - started
    share = in_spell / max(total, 1e-9)
    print(f"disturb: {spells} spells, {in_spell:.0f} s of {total:.0f} s disturbed ({share:.0%})")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1])
    parser.add_argument("--duty", type=float, default=0.4, help="share of time in spells (default 0.4)")
    parser.add_argument("--min-spell", type=float, default=1.0, help="shortest spell, s (default 1)")
    parser.add_argument("--max-spell", type=float, default=60.0, help="longest spell, s (default 60)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2, help="busy processes in a spell")
    parser.add_argument("--memory-mb", type=int, default=64, help="array each worker streams over (MiB)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--duration", type=float, help="stop after this many seconds")
    parser.add_argument("--until-pid", type=int, help="stop when this process has exited")
    parser.add_argument("--log", type=Path, help="append each spell's window here (JSON lines)")
    args = parser.parse_args(argv)
    if args.duration is None and args.until_pid is None:
        parser.error("give --duration or --until-pid: the generator must stop by itself")
    return run(args)


if __name__ == "__main__":
    raise SystemExit(main())
