#!/usr/bin/env python3
"""Several `tsee run` processes sharing one simulated fleet on a throwaway PostgreSQL: how the devices are split
and how long each process's steady cycles take (the issue-16 target: 100,000 devices across 3 schedulers, every
device held by exactly one, steady cycle <= 20 s wall).

    benchmarks/shared_fleet.py [--devices N] [--schedulers K] [--interval S] [--lease S] [--minutes M]
                               [--lookback D] [--tsee PATH]

Starts `tsee sim --devices N` and K `tsee run benchmarks/card.rules --db postgres://…` processes, reads their cycle
lines for M minutes, then prints, per process, the devices it held and its cycle times once the split had settled,
and whether every device in scope was held by exactly one process. Uses the reliability suite's helpers for the
cluster and the simulator (tests/reliability/harness.py)."""

import argparse
import os
import re
import shutil
import signal
import sys
import tempfile
import time

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(REPO, "tests", "reliability"))
from harness import Postgres, Simulator, Workspace, read, stop  # noqa: E402

CYCLE = re.compile(r"cycle (\d+): (\d+) devices,.* ([0-9.]+) s$", re.M)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--devices", type=int, default=100_000)
    parser.add_argument("--schedulers", type=int, default=3)
    parser.add_argument("--interval", type=int, default=20)
    parser.add_argument("--lease", type=int, default=0, help="seconds (default 3 × --interval)")
    parser.add_argument("--minutes", type=float, default=5)
    parser.add_argument("--lookback", default="24h", help="the first cycle's look-back (tsee run --lookback)")
    parser.add_argument("--tsee", default=os.environ.get("TSEE_BIN") or os.path.join(REPO, ".build", "debug", "tsee"))
    args = parser.parse_args()

    root = tempfile.mkdtemp(prefix="tsee-shared-fleet-")
    ws = Workspace(root, os.path.abspath(args.tsee))
    pg = Postgres(ws)
    sim, runs = None, []
    try:
        url = pg.create("fleet")
        sim = Simulator(ws, "--devices", args.devices, name="sim")
        rules = os.path.join(REPO, "benchmarks", "card.rules")
        for _ in range(args.schedulers):
            run, _, err = ws.spawn(
                ["run", rules, "--interval", f"{args.interval}s", "--lease", f"{args.lease or 3 * args.interval}s",
                 "--lookback", args.lookback, "--db", url],
                sim, "run", env=pg.env)
            runs.append((run, err))
        started = time.monotonic()
        split = None
        while time.monotonic() - started < args.minutes * 60:
            time.sleep(5)
            if any(run.poll() is not None for run, _ in runs):
                print("a tsee run exited early", file=sys.stderr)
                break
            rows = pg.query(
                "fleet",
                "SELECT owner, count(*) FROM leases WHERE owner <> '' AND "
                "expires_at > floor(extract(epoch FROM clock_timestamp())) GROUP BY owner ORDER BY owner")
            total = int(pg.query("fleet", "SELECT count(*) FROM leases")[0][0] or 0)
            held = {owner: int(n) for owner, n in rows}
            if len(held) == args.schedulers and sum(held.values()) == total and split is None:
                split = time.monotonic() - started
                print(f"settled after {split:.0f} s: {sorted(held.values())} of {total}", flush=True)
        with open("/proc/loadavg") as f:
            load = f.read().split()[:3]
        print(f"devices {args.devices}, {args.schedulers} schedulers, --interval {args.interval}s; load {' '.join(load)}")
        total = int(pg.query("fleet", "SELECT count(*) FROM leases")[0][0] or 0)
        owners = pg.query(
            "fleet",
            "SELECT count(DISTINCT tuid), count(*) FROM leases WHERE owner <> '' AND "
            "expires_at > floor(extract(epoch FROM clock_timestamp()))")
        print(f"leases: {total} devices in scope; held now: {owners[0][0]} distinct devices in {owners[0][1]} leases")
        for n, (run, err) in enumerate(runs):
            try:
                with open(f"/proc/{run.pid}/status") as f:
                    peak = next(line.split()[1] for line in f if line.startswith("VmHWM:"))
                print(f"scheduler {n}: peak RSS {int(peak) / 1024:.0f} MB")
            except (OSError, StopIteration):
                pass
            cycles = [(int(c), int(d), float(s)) for c, d, s in CYCLE.findall(read(err))]
            steady = [c for c in cycles[2:] if c[1] > 0]
            seconds = sorted(c[2] for c in steady)
            median = seconds[len(seconds) // 2] if seconds else float("nan")
            print(
                f"scheduler {n}: {len(cycles)} cycles; steady (from the third): {len(steady)} cycles, devices "
                f"{sorted({c[1] for c in steady})[:3]}…, wall median {median:.1f} s, max "
                f"{(seconds[-1] if seconds else float('nan')):.1f} s")
    finally:
        for run, _ in runs:
            stop(run)
        if sim:
            sim.stop()
        pg.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    main()
