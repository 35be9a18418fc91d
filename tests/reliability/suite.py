#!/usr/bin/env python3
"""The reliability suite: tsee under expiring tokens, injected faults, kill -9, malformed answers and fuzzing,
then a search for secrets in everything it left behind. Run through scripts/reliability."""

import argparse
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import SECRET, Postgres, Simulator, Workspace, cycles, firings_vs_log, looks_raw, query, read, stop  # noqa: E402

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


class Check:
    def __init__(self, name):
        self.name = name
        self.figures = []
        self.problems = []

    def figure(self, text):
        self.figures.append(text)
        print(f"    {text}", flush=True)

    def expect(self, condition, problem):
        if not condition:
            self.problems.append(problem)
            print(f"    FAIL: {problem}", flush=True)
        return condition


# Read-only and mutating REPL commands a user types; {tuid} and {group} are filled in.
def repl_script(tuid, n):
    return (
        f"groups; group things prfi00coldchain; thing {tuid}; messages {tuid} --limit 5; alerts {tuid} --from -1d; "
        f"commands {tuid}; installations {tuid}; send {tuid} 1500 reportInterval={600 + n}; "
        f"install {tuid} installed; group create rel-{n} reliability; group assign {tuid} rel-{n}; "
        f"group delete rel-{n} --yes"
    )


def fleet(ws, sim):
    groups = ["prfi00coldchain", "prfi00officehq", "prfi00warehousenorth", "prfi00retailtampere", "prfi00wastebins", "unassigned"]
    script = "; ".join(f"group things {g}" for g in groups)
    rc, out, err = ws.tsee(["-c", script, "-o", "jsonl"], sim, name="fleet")
    tuids = []
    for line in out.splitlines():
        try:
            tuids += [t for t in json.loads(line).get("tuids", []) if not t.startswith("TSGW")]
        except (ValueError, AttributeError):
            pass
    if not tuids:
        raise RuntimeError(f"could not list devices (rc {rc}): {err}")
    return tuids


# 1. Tokens expiring every 2 s.
def check_tokens(ws, long):
    c = Check("tokens expiring every 2 s")
    seconds = 180 if long else 20
    sim = Simulator(ws, "--devices", 20, "--token-ttl", 2, "--time-scale", 60, name="sim-tokens")
    try:
        sim.token()
        tuids = fleet(ws, sim)
        db = os.path.join(ws.root, "tokens.db")
        run, _, run_err = ws.spawn(["run", os.path.join(REPO, "rules"), "--interval", "2s", "--db", db], sim, "run-tokens")
        commands, failures, n = 0, [], 0
        started = time.monotonic()
        while time.monotonic() - started < seconds:
            n += 1
            tuid = tuids[n % len(tuids)]
            rc, out, err = ws.tsee(["-c", repl_script(tuid, n)], sim, name="repl-tokens")
            commands += 1
            if rc != 0 or looks_raw(out + err):
                failures.append(f"rc {rc}: {err.strip()[:300]}")
            # One process that lives through several token lifetimes.
            if n % 5 == 0:
                rc, out, err = ws.tsee(["watch", "-n", "1", "-c", "4", "thing", tuid], sim, name="watch-tokens")
                commands += 1
                if rc != 0:
                    failures.append(f"watch rc {rc}: {err.strip()[:300]}")
            time.sleep(0.5)
        rc = stop(run)
        err = read(run_err)
        cs = cycles(err)
        stats = sim.stats()
        c.figure(
            f"{seconds} s: {len(cs)} cycles ({sum(x['errors'] for x in cs)} errors), {commands} REPL invocations "
            f"({len(failures)} failed); simulator: {stats['byRoute'].get('POST /auth/client-token', 0)} logins, "
            f"{stats['unauthorized']} answers 401, {stats['total']} requests"
        )
        c.expect(rc == 0, f"tsee run exited {rc} on SIGTERM")
        c.expect(len(cs) >= 3, f"only {len(cs)} cycles ran")
        c.expect(all(x["errors"] == 0 for x in cs), "a cycle had errors: " + "; ".join(err.splitlines()[-5:]))
        c.expect(not failures, "REPL failures: " + " | ".join(failures[:3]))
        c.expect(stats["unauthorized"] > 0, "no token ever expired: the check did not test renewal")
        c.expect(not looks_raw(err), f"raw error in tsee run output: {looks_raw(err)}")
    finally:
        sim.stop()
    return c


# 2. Faults: 503 on every third request, 429 with Retry-After, latency.
def check_faults(ws, long):
    c = Check("faults: 503 every third request, 429 Retry-After, latency")
    settings = [
        ("503 every 3rd", ["--fail-every", 3]),
        ("429 over 15 req/s", ["--rate-limit", 15]),
        ("latency 150 ms", ["--latency", 150]),
    ]
    if long:
        settings.append(("all at once", ["--fail-every", 3, "--rate-limit", 15, "--latency", 150]))
    rounds = 3 if long else 1
    for label, options in settings:
        sim = Simulator(ws, "--devices", 12, "--time-scale", 60, *options, name="sim-faults")
        try:
            sim.token()
            tuids = fleet(ws, sim)
            db = os.path.join(ws.root, f"faults-{len(c.figures)}.db")
            cycle_failures, command_failures, commands, started = [], [], 0, time.monotonic()
            for r in range(2 * rounds):
                rc, _, err = ws.tsee(["run", os.path.join(REPO, "rules"), "--once", "--db", db], sim, 300, "run-faults")
                # Under injected 5xx a write's outcome is unknown: reported, never resent blindly.
                unknown = rc == 5 and "--fail-every" in options and "outcome unknown" in err
                if (rc != 0 or any(x["errors"] for x in cycles(err))) and not unknown:
                    cycle_failures.append(f"rc {rc}: {' '.join(err.splitlines()[-3:])[:300]}")
            for n in range(2 * rounds):
                tuid = tuids[n % len(tuids)]
                rc, out, err = ws.tsee(["-c", repl_script(tuid, 100 + n)], sim, 300, "repl-faults")
                commands += 12
                # A write answered 5xx has an unknown outcome and is not sent again ("No blind retry of a write").
                unknown = rc == 4 and "--fail-every" in options and "outcome unknown" in err
                if (rc != 0 and not unknown) or looks_raw(out + err):
                    command_failures.append(f"rc {rc}: {err.strip()[:300]}")
            stats = sim.stats()
            c.figure(
                f"{label}: {2 * rounds} cycles ({len(cycle_failures)} failed), {commands} commands "
                f"({len(command_failures)} scripts failed) in {time.monotonic() - started:.1f} s; simulator: "
                f"{stats['total']} requests, {stats['unavailable']} × 503, {stats['rateLimited']} × 429"
            )
            c.expect(not cycle_failures, f"{label}: cycles failed: " + " | ".join(cycle_failures[:2]))
            c.expect(not command_failures, f"{label}: commands failed: " + " | ".join(command_failures[:2]))
            if "--fail-every" in options:
                c.expect(stats["unavailable"] > 0, f"{label}: no 503 was injected")
            if "--rate-limit" in options:
                c.expect(stats["rateLimited"] > 0, f"{label}: no 429 was injected")
        finally:
            sim.stop()
    return c


KILL_RULES = """
# Fires on every device with a battery every two simulated minutes: many sends in flight at any moment.
rule chatter
  when battery above 0
  then send command 1500 reportInterval=900
  repeat every 2m

# Once per device: an installation status and a group, so every kind of action is killed mid-way.
rule park
  when battery above 0
  then move to quarantine

rule regroup
  when battery below 101
  then assign group prfi00wastebins
"""


# 3. kill -9 at random moments, then restart.
def check_kill(ws, long):
    c = Check("kill -9 across cycles, then restart")
    target_cycles = 60 if long else 20
    rng = random.Random(int(os.environ.get("RELIABILITY_SEED", "6")))
    rules = ws.write("kill.rules", KILL_RULES)
    db = os.path.join(ws.root, "kill.db")
    sim = Simulator(ws, "--devices", 30, "--time-scale", 60, "--latency", 25, name="sim-kill")
    try:
        kills, kills_with_open, started_cycles, deadline = 0, 0, 0, time.monotonic() + (900 if long else 300)
        while started_cycles < target_cycles and time.monotonic() < deadline:
            run, _, _ = ws.spawn(["run", rules, "--interval", "1s", "--db", db], sim, "run-kill")
            time.sleep(rng.uniform(0.3, 3.0))
            if run.poll() is None:
                run.send_signal(signal.SIGKILL)
                kills += 1
            run.wait()
            if os.path.exists(db):
                started_cycles = query(db, "SELECT count(*) FROM cycles")[0][0]
                if query(db, "SELECT count(*) FROM actions WHERE outcome = 'intent'")[0][0]:
                    kills_with_open += 1
        left_open = query(db, "SELECT count(*) FROM actions WHERE outcome = 'intent'")[0][0]
        # The restart that must reconcile what the kills left open.
        rc, _, err = ws.tsee(["run", rules, "--once", "--db", db], sim, 300, "run-kill-final")
        reconciled = re.search(r"reconciling (\d+) action", err)
        c.expect(rc == 0, f"the restart after the kills exited {rc}: {err.strip()[-400:]}")

        rows = query(db, "SELECT action, tuid, outcome, transaction_id, firing_key FROM actions WHERE dry_run = 0")
        c.figure(
            f"{kills} kills over {started_cycles} cycles started ({kills_with_open} left intents open; "
            f"{left_open} open before the restart, restart reconciled {reconciled.group(1) if reconciled else 0})"
        )
        expect_exactly_once(c, sim, rows, firings_vs_log(db))
        c.expect(started_cycles >= target_cycles, f"only {started_cycles} cycles in the time allowed")
        c.expect(kills >= target_cycles // 4, f"only {kills} kills")
    finally:
        sim.stop()
    return c


def expect_exactly_once(c, sim, rows, firings_counts):
    """The invariants of a kill check, from the live action log `rows` (action, tuid, outcome, transaction_id,
    firing_key), the rule states' firing counts (`firings_vs_log`) and the simulator's own histories: every firing
    logged, every logged API effect applied once, nothing applied that is not logged, nothing left open."""
    intents = [r for r in rows if r[2] == "intent"]
    failed = [r for r in rows if r[2] == "failed"]
    done = [r for r in rows if r[2] == "done" and r[0] in ("send", "move", "assign")]
    keys = [r[4] for r in rows]
    lost, duplicated, orphans, history_sends = api_effects(sim, rows)
    stats = sim.stats()
    firings, firings_lost, firings_extra = firings_counts
    c.figure(
        f"action log: {len(rows)} live actions, {len(done)} API effects done "
        f"({sum(r[0] == 'send' for r in done)} sends, {sum(r[0] == 'move' for r in done)} moves, "
        f"{sum(r[0] == 'assign' for r in done)} assigns), {len(failed)} failed, {len(intents)} still open"
    )
    c.figure(
        f"simulator: {history_sends} commands in histories, mutatingApplied {stats['mutatingApplied']} "
        f"(log: {len(done)}); lost {len(lost)}, duplicated {len(duplicated)}, unlogged {len(orphans)}"
    )
    c.figure(f"firings: {firings} in rule states; {firings_lost} with no logged action, {firings_extra} logged twice")
    c.expect(firings > 0, "no firing recorded: the check did not test anything")
    c.expect(not firings_lost, f"{firings_lost} firings lost (recorded in a rule state, never logged)")
    c.expect(not firings_extra, f"{firings_extra} logged firings that no rule state recorded")
    c.expect(not intents, f"{len(intents)} intents still open at the end")
    c.expect(not failed, f"{len(failed)} actions failed: {failed[:3]}")
    c.expect(not lost, f"lost: {lost[:5]}")
    c.expect(not duplicated, f"duplicated: {duplicated[:5]}")
    c.expect(not orphans, f"carried out but not logged: {orphans[:5]}")
    c.expect(len(keys) == len(set(keys)), "a firing_key appears twice")
    c.expect(stats["mutatingApplied"] == len(done), "the simulator applied a different number of changes than logged")
    c.expect(sum(r[0] == "send" for r in done) > 0, "no command was sent: the check did not test anything")


def api_effects(sim, rows):
    """What the simulator holds against the log's rows (action, tuid, outcome, transaction_id, firing_key): sends in
    the command histories, moves in the installation histories, assigns in the group. Returns (lost, duplicated,
    carried out but not logged, commands in the histories)."""
    token = sim.token()
    lost, duplicated, orphans, history_sends = [], [], [], 0
    sent = {}
    for action, tuid, outcome, tx, _ in rows:
        if action == "send" and outcome == "done":
            sent.setdefault(tuid, []).append(tx)
    for tuid in sorted({r[1] for r in rows}):
        txs = [(e.get("command") or e).get("transactionId") for e in sim.get(f"/things/{tuid}/commands", token)]
        history_sends += len(txs)
        for tx in sent.get(tuid, []):
            if txs.count(tx) == 0:
                lost.append(f"{tuid} tx {tx}")
            elif txs.count(tx) > 1:
                duplicated.append(f"{tuid} tx {tx} ×{txs.count(tx)}")
        logged = set(sent.get(tuid, [])) | {r[3] for r in rows if r[1] == tuid and r[3] is not None}
        orphans += [f"{tuid} tx {tx}" for tx in txs if tx not in logged]
    for action, tuid, outcome, _, _ in rows:
        if action == "move" and outcome == "done":
            statuses = [e.get("installation_status") for e in sim.get(f"/things/{tuid}/installations", token)]
            if statuses.count("quarantine") != 1:
                (lost if statuses.count("quarantine") == 0 else duplicated).append(
                    f"{tuid} quarantine ×{statuses.count('quarantine')}"
                )
    members = set(sim.get("/groups/prfi00wastebins/things", token).get("tuids", []))
    lost += [f"{r[1]} not in prfi00wastebins" for r in rows
             if r[0] == "assign" and r[2] == "done" and r[1] not in members]
    return lost, duplicated, orphans, history_sends


# 3c. kill -9 of one of three schedulers sharing a PostgreSQL database, at random, each restarted once its devices
# are taken over: the kill test of 3, and the failover figures (docs/scale-out.md).
def check_kill_postgres(ws, long):
    c = Check("kill -9 of one of three schedulers on PostgreSQL, at random")
    seconds = float(os.environ.get("RELIABILITY_PG_SECONDS") or (300 if long else 22))
    interval, lease = 1, 3
    rng = random.Random(int(os.environ.get("RELIABILITY_SEED", "6")))
    rules = ws.write("kill-pg.rules", KILL_RULES)
    pg = Postgres(ws)
    sim = None
    runs = []
    try:
        url = pg.create("reliability")
        sim = Simulator(ws, "--devices", 30, "--time-scale", 60, "--latency", 25, name="sim-kill-pg")
        args = ["run", rules, "--interval", f"{interval}s", "--lease", f"{lease}s", "--db", url]

        def q(sql):
            return pg.query("reliability", sql)

        def start():
            run, _, _ = ws.spawn(args, sim, "run-kill-pg", env=pg.env)
            runs.append(run)
            return run

        def owner_of(run, wait=30):
            """The lease owner of a process (its heartbeat row names its pid), once it has cycled."""
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline and run.poll() is None:
                try:
                    rows = q(f"SELECT owner FROM processes WHERE pid = {run.pid}")
                except RuntimeError:
                    rows = []  # the first process has not created the schema yet
                if rows:
                    return rows[0][0]
                time.sleep(0.1)
            return None

        live = [start() for _ in range(3)]
        owners = {run.pid: owner_of(run) for run in live}
        c.expect(all(owners.values()), "a scheduler never wrote its heartbeat")
        # Settled: every device in scope held by a live process.
        held_now = "expires_at > floor(extract(epoch FROM clock_timestamp()))"
        failovers, kills = [], 0
        started = time.monotonic()
        while time.monotonic() - started < seconds:
            time.sleep(rng.uniform(0.5, 2.5))
            victim = rng.choice(live)
            owner = owners.get(victim.pid) or owner_of(victim)
            devices = int(q("SELECT count(*) FROM leases")[0][0])
            victim_held = int(q(f"SELECT count(*) FROM leases WHERE owner = '{owner}' AND {held_now}")[0][0])
            victim.send_signal(signal.SIGKILL)
            victim.wait()
            killed = time.monotonic()
            kills += 1
            live.remove(victim)
            # Taken over: every device held, unexpired, by someone else (bounded wait: a slow machine fails the
            # expectation below rather than hanging the suite).
            took = None
            while time.monotonic() - killed < 30:
                held = int(q(f"SELECT count(*) FROM leases WHERE owner NOT IN ('', '{owner}') AND {held_now}")[0][0])
                if held >= devices > 0:
                    took = time.monotonic() - killed
                    break
                time.sleep(0.1)
            if took is None:
                c.expect(False, f"kill {kills}: {owner}'s devices not taken over within 30 s")
            elif victim_held:
                failovers.append(took)
            replacement = start()
            live.append(replacement)
            owners[replacement.pid] = owner_of(replacement)
        for run in live:
            stop(run)
        started_cycles = int(q("SELECT count(*) FROM cycles")[0][0])
        left_open = int(q("SELECT count(*) FROM actions WHERE outcome = 'intent'")[0][0])
        # Once the killed processes' leases have run out, one run takes every device and reconciles what they left
        # (with the default lease: a slow last cycle must not hold its own actions back).
        time.sleep(lease + 1)
        rc, _, err = ws.tsee(["run", rules, "--once", "--db", url], sim, 300, "run-kill-pg-final", env=pg.env)
        reconciled = re.search(r"reconciling (\d+) action", err)
        c.expect(rc == 0, f"the run after the kills exited {rc}: {err.strip()[-400:]}")

        rows = [
            (a, t, o, int(tx) if tx is not None else None, k)
            for a, t, o, tx, k in q("SELECT action, tuid, outcome, transaction_id, firing_key FROM actions WHERE NOT dry_run")
        ]
        failovers.sort()
        in_leases = [f / lease for f in failovers]
        c.figure(
            f"{kills} kills in {seconds:.0f} s over {started_cycles} cycles started (3 schedulers, --interval "
            f"{interval}s --lease {lease}s); {left_open} intents open before the final run, which reconciled "
            f"{reconciled.group(1) if reconciled else 0}"
        )
        if failovers:
            c.figure(
                f"failover of {len(failovers)} kills of a process holding devices (kill → every device held by a live "
            f"process): median {in_leases[len(in_leases) // 2]:.2f}, "
                f"max {in_leases[-1]:.2f} lease lengths ({failovers[len(failovers) // 2]:.1f} s, {failovers[-1]:.1f} s); "
                f"{sum(x > 2 for x in in_leases)} over two lease lengths"
            )
        c.expect(kills >= 2, f"only {kills} kills")
        c.expect(failovers, "no kill of a process holding devices: the check did not test failover")
        expect_exactly_once(c, sim, rows, firings_vs_log(None, q))
    finally:
        for run in runs:
            if run.poll() is None:
                run.kill()
                run.wait()
        if sim:
            sim.stop()
        pg.stop()
    return c


DISK_RULES = """
rule park
  when battery above 0
  then move to quarantine

rule note
  when battery above 0
  then log "{tuid} at {battery} %"
"""


# 3b. A database that refuses writes: the file may not grow (a file-size limit, as a full disk), then may again.
def check_disk_full(ws, long):
    import resource

    c = Check("refused writes (file-size limit), then a restart")
    rules = ws.write("disk.rules", DISK_RULES)
    db = os.path.join(ws.root, "disk.db")
    sim = Simulator(ws, "--devices", 20 if not long else 60, name="sim-disk")
    try:
        # A database with its schema, then a limit just above its size: the first firings' writes fail.
        rc, _, err = ws.tsee(["run", rules, "--once", "--db", db, "--dry-run"], sim, 120, "disk-prepare")
        c.expect(rc == 0, f"preparing the database exited {rc}: {err.strip()[-300:]}")
        size = os.path.getsize(db) + sum(
            os.path.getsize(db + ext) for ext in ("-wal", "-shm") if os.path.exists(db + ext))
        limit = size + 4096

        def limited():
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

        run, _, err_path = ws.spawn(["run", rules, "--interval", "1s", "--db", db], sim, "disk-full", limited)
        time.sleep(4 if not long else 20)
        run.send_signal(signal.SIGTERM)
        rc_full = stop(run)
        full_err = read(err_path)
        refused = full_err.count("could not log the firing") + full_err.count("saving rule state failed")
        rc, _, err = ws.tsee(["run", rules, "--once", "--db", db], sim, 300, "disk-restart")
        c.expect(rc == 0, f"the run after the limit was lifted exited {rc}: {err.strip()[-400:]}")
        firings, firings_lost, firings_extra = firings_vs_log(db)
        moved = {r[0] for r in query(db, "SELECT tuid FROM actions WHERE dry_run = 0 AND rule = 'park' AND outcome IN ('done', 'skipped')")}
        stats = sim.stats()
        c.figure(
            f"limit {limit} bytes: {refused} refused writes reported (exit {rc_full}); after the restart "
            f"{firings} firings, {firings_lost} lost, {firings_extra} doubled; {len(moved)} devices quarantined, "
            f"mutatingApplied {stats['mutatingApplied']}"
        )
        c.expect(refused > 0, "no write was refused: the check did not test anything")
        c.expect(not firings_lost, f"{firings_lost} firings lost")
        c.expect(not firings_extra, f"{firings_extra} firings doubled")
        c.expect(stats["mutatingApplied"] == len(
            query(db, "SELECT id FROM actions WHERE dry_run = 0 AND outcome = 'done' AND action IN ('move', 'send', 'assign')")),
            "the simulator applied a different number of changes than logged")
    finally:
        sim.stop()
    return c


AMBIGUOUS_RULES = """
rule park
  when battery above 0
  then move to quarantine

rule tune
  when battery above 0
  then send command 1500 reportInterval=900
  repeat every 2m
"""


# 3c. Writes whose answers are lost (applied, then 504 or a dropped connection), with a kill -9 in the middle.
def check_ambiguous(ws, long):
    c = Check("ambiguous writes (applied, answer lost) and kill -9, then reconciliation")
    rules = ws.write("ambiguous.rules", AMBIGUOUS_RULES)
    db = os.path.join(ws.root, "ambiguous.db")
    sim = Simulator(ws, "--devices", 20, "--time-scale", 60, "--ambiguous-writes", 0.4, name="sim-ambiguous")
    rng = random.Random(int(os.environ.get("RELIABILITY_SEED", "6")))
    hangs = 0
    try:
        for round_ in range(4 if long else 2):
            run, _, err_path = ws.spawn(["run", rules, "--interval", "1s", "--db", db], sim, "run-ambiguous")
            time.sleep(rng.uniform(2.0, 5.0))
            run.send_signal(signal.SIGKILL if round_ % 2 == 0 else signal.SIGTERM)
            try:
                run.wait(timeout=90)
            except subprocess.TimeoutExpired:
                hangs += 1
                run.kill()
                run.wait()
        for _ in range(3):
            rc, _, err = ws.tsee(["run", rules, "--once", "--db", db], sim, 300, "run-ambiguous-final")
            if rc == "timeout":
                hangs += 1
        rows = query(db, "SELECT action, tuid, outcome, transaction_id FROM actions WHERE dry_run = 0")
        token = sim.token()
        lost, duplicated = [], []
        for tuid in sorted({r[1] for r in rows}):
            history = sim.get(f"/things/{tuid}/commands", token)
            txs = [e.get("command", {}).get("transactionId") for e in history]
            for action, t, outcome, tx in rows:
                if t != tuid or action != "send":
                    continue
                if outcome == "done" and txs.count(tx) == 0:
                    lost.append(f"{tuid} tx {tx}")
                if txs.count(tx) > 1:
                    duplicated.append(f"{tuid} tx {tx} ×{txs.count(tx)}")
        stats = sim.stats()
        open_intents = sum(r[2] == "intent" for r in rows)
        writes = sum(r[0] in ("send", "move", "assign") and r[2] in ("done", "intent") for r in rows)
        firings, firings_lost, firings_extra = firings_vs_log(db)
        c.figure(
            f"{stats.get('ambiguousWrites', 0)} answers lost by the simulator; log: {len(rows)} actions, "
            f"{writes} writes done or open ({open_intents} still open, awaiting reconciliation); simulator applied "
            f"{stats['mutatingApplied']}; sends lost {len(lost)}, doubled {len(duplicated)}; firings {firings}, "
            f"{firings_lost} lost, {firings_extra} doubled; hangs {hangs}"
        )
        c.expect(stats.get("ambiguousWrites", 0) > 0, "no answer was lost: the check did not test anything")
        c.expect(not lost, f"lost: {lost[:5]}")
        c.expect(not duplicated, f"doubled: {duplicated[:5]}")
        c.expect(stats["mutatingApplied"] <= writes, "the simulator applied more writes than the log holds")
        c.expect(not firings_lost and not firings_extra, "firings and logged actions disagree")
        c.expect(hangs == 0, f"{hangs} runs hung")
    finally:
        sim.stop()
    return c


# Scoped to listed devices, so that every read the cycle makes belongs to one device (a malformed group listing
# fails the whole device list instead, which says so in one line).
MALFORMED_RULES = """
rule low-battery
  on {tuids}
  when battery below 20
  then move to quarantine

rule seen
  on {tuids}
  when battery above 0
  then log "{{tuid}} at {{battery}} %"
"""


# 4. Malformed answers.
def check_malformed(ws, long):
    c = Check("malformed API answers")
    db = os.path.join(ws.root, "malformed.db")
    clean_db = os.path.join(ws.root, "malformed-clean.db")
    clean = Simulator(ws, "--devices", 40, name="sim-clean")
    sim = Simulator(ws, "--devices", 40, "--malformed-every", 6, name="sim-malformed")
    try:
        rules = ws.write("malformed.rules", MALFORMED_RULES.format(tuids=", ".join(fleet(ws, clean))))
        rc, _, err = ws.tsee(["run", rules, "--once", "--db", db], sim, 300, "run-malformed")
        rc_clean, _, err_clean = ws.tsee(["run", rules, "--once", "--db", clean_db], clean, 300, "run-clean")
        device_errors = re.findall(r"^tsee run: (TS[A-Z0-9]{15}): (.*)$", err, re.M)
        other_errors = [l for l in err.splitlines() if "tsee run:" in l and "error" in l and "cycle" not in l
                        and not re.match(r"tsee run: TS[A-Z0-9]{15}: ", l)]
        cs = cycles(err)
        failed = {t for t, _ in device_errors}
        ok_devices = {r[0] for r in query(db, "SELECT tuid FROM devices WHERE dry_run = 0 AND cursor_ts IS NOT NULL")}
        open_intents = query(db, "SELECT count(*) FROM actions WHERE outcome = 'intent'")[0][0]
        fired = set(query(db, "SELECT rule, tuid FROM actions"))
        fired_clean = set(query(clean_db, "SELECT rule, tuid FROM actions"))
        states = {(r, t) for r, t in query(db, "SELECT rule, tuid FROM rule_state")}
        stats = sim.stats()
        devices = cs[0]["devices"] if cs else 0
        c.figure(
            f"{stats['malformed']} malformed answers: {len(failed)} of {devices} devices reported "
            f"({len(device_errors)} lines, e.g. \"{device_errors[0][1][:110] if device_errors else ''}\"), "
            f"{len(ok_devices)} devices polled and saved, {open_intents} open intents, exit {rc}"
        )
        c.expect(cs and devices > 0, f"the cycle did not run: {err[-400:]}")
        c.expect(stats["malformed"] > 0, "no malformed answer was served")
        c.expect(rc == 5, f"exit {rc}, expected 5 (some devices failed)")
        c.expect(rc_clean == 0, f"the clean run exited {rc_clean}: {err_clean[-300:]}")
        c.expect(failed, "no per-device error was reported")
        c.expect(not looks_raw(err), f"raw error text: {looks_raw(err)}")
        c.expect(all("GET /" in m for _, m in device_errors), "a device error does not say which request failed")
        c.expect(not other_errors, f"errors not tied to a device: {other_errors[:2]}")
        c.expect(not (failed & ok_devices), f"failed devices were saved half-way: {sorted(failed & ok_devices)[:3]}")
        c.expect(len(ok_devices) + len(failed) == devices, "some devices neither failed nor were saved")
        c.expect(open_intents == 0, f"{open_intents} intents left open")
        mine = {(r, t) for r, t in fired_clean if t in ok_devices}
        c.expect(fired == mine, f"fired differ from a clean run: {sorted(fired ^ mine)[:4]}")
        c.expect(all((r, t) in states for r, t in fired), "an action was logged without its rule state")
        # REPL commands: a clear error or a result, never a crash.
        tuids = sorted(ok_devices)[:6]
        raw, outcomes = [], {}
        for tuid in tuids:
            for command in (["thing", tuid], ["messages", tuid, "--limit", "20"], ["installations", tuid]):
                rc, out, err = ws.tsee(command + ["-o", "json"], sim, 120, "repl-malformed")
                outcomes[rc] = outcomes.get(rc, 0) + 1
                if looks_raw(out + err) or (rc != 0 and "unexpected response" not in err):
                    raw.append(f"{' '.join(command)}: rc {rc}: {err.strip()[:200]}")
        c.figure(f"REPL under malformed answers: exit codes {dict(sorted(outcomes.items(), key=str))}")
        c.expect(not raw, f"unclear REPL errors: {raw[:2]}")
    finally:
        sim.stop()
        clean.stop()
    return c


# 5. Fuzzing.
def check_fuzz(ws, long):
    c = Check("fuzzing: rule parser, REPL line parser")
    budget = "60" if long else "5"
    if os.environ.get("RELIABILITY_SKIP_FUZZ"):
        c.figure("skipped (RELIABILITY_SKIP_FUZZ)")
        return c
    p = subprocess.run(
        [os.path.join(REPO, "scripts", "fuzz"), "--time", budget], cwd=REPO, capture_output=True, text=True,
        timeout=1800,
    )
    for line in p.stdout.splitlines():
        c.figure(line)
    c.expect(p.returncode == 0, f"scripts/fuzz failed: {p.stderr.strip()[-600:]}")
    return c


def interactive_session(ws, c):
    """An interactive REPL session on a pseudo-terminal, so that a history file is written and searched too."""
    try:
        import pexpect
    except ImportError:
        c.figure("pexpect missing: no interactive session")
        return
    sim = Simulator(ws, "--devices", 12, "--token-ttl", 2, name="sim-secrets")
    try:
        ws.tokens_seen.add(sim.token())
        tuid = fleet(ws, sim)[0]
        env = ws.env(sim.base_url)
        env["INPUTRC"] = ws.write("inputrc", "set enable-bracketed-paste off\n")
        env["TERM"] = "dumb"
        transcript = open(os.path.join(ws.logs, "interactive.transcript"), "wb")
        child = pexpect.spawn(ws.binary, env=env, cwd=ws.root, timeout=60, logfile=transcript)
        for line in ("login", "groups", f"thing {tuid}", "set token sim-secret", f"messages {tuid} --limit 3",
                     "exit"):
            child.expect(r"> ")
            child.sendline(line)
            time.sleep(0.3)
        child.expect(pexpect.EOF)
        child.close()
        transcript.close()
    finally:
        sim.stop()


# 6. Secrets.
def check_secrets(ws, long, simulator_logs):
    c = Check("secrets in output, history, logs, databases")
    interactive_session(ws, c)
    token_shape = re.compile(rb"\b[0-9a-f]{64}\b")
    needles = [SECRET.encode()] + [t.encode() for t in ws.tokens_seen] + [p.encode() for p in ws.passwords]
    files, hits = 0, []
    for directory, _, names in os.walk(ws.root):
        for name in names:
            path = os.path.join(directory, name)
            if simulator_logs(path):
                continue  # the simulator prints its own demo credentials by design
            files += 1
            with open(path, "rb") as f:
                data = f.read()
            for needle in needles:
                # The terminal echoes what was typed (`set token sim-secret`): that is the user's input, not tsee's.
                if needle == SECRET.encode() and name == "interactive.transcript":
                    data = data.replace(b"set token " + needle, b"")
                if needle in data:
                    hits.append(f"{os.path.relpath(path, ws.root)}: {needle[:12].decode()}…")
            for m in token_shape.finditer(data):
                hits.append(f"{os.path.relpath(path, ws.root)}: token-shaped {m.group()[:12].decode()}…")
    databases = [os.path.join(d, n) for d, _, ns in os.walk(ws.root) for n in ns if n.endswith(".db")]
    histories = [os.path.join(d, n) for d, _, ns in os.walk(ws.state) for n in ns if "history" in n]
    for db in databases:
        dump = subprocess.run(["sqlite3", db, ".dump"], capture_output=True).stdout
        if SECRET.encode() in dump or token_shape.search(dump):
            hits.append(f"{os.path.relpath(db, ws.root)} (sqlite3 .dump)")
    c.figure(
        f"{files} files searched ({len(databases)} databases, {len(histories)} history files, "
        f"{len(os.listdir(ws.logs))} output logs) for the secret, {len(ws.passwords)} database passwords and "
        f"{len(ws.tokens_seen)} tokens + any 64-hex "
        f"token shape: {len(hits)} found"
    )
    c.expect(files > 0, "nothing to search")
    c.expect(not hits, f"secrets found: {hits[:5]}")
    return c


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    form = parser.add_mutually_exclusive_group()
    form.add_argument("--short", action="store_true", help="the CI form (the default)")
    form.add_argument("--long", action="store_true", help="minutes per check, 60 s of fuzzing per parser")
    parser.add_argument("--only", action="append", help="run only checks whose name contains this")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args()

    binary = os.environ.get("TSEE_BIN") or os.path.join(REPO, ".build", "debug", "tsee")
    if not os.access(binary, os.X_OK):
        print(f"reliability: no tsee binary at {binary} (set TSEE_BIN or run swift build)", file=sys.stderr)
        return 2
    root = tempfile.mkdtemp(prefix="tsee-reliability-")
    ws = Workspace(root, os.path.abspath(binary))
    print(f"reliability ({'long' if args.long else 'short'} form): {binary}; work directory {root}", flush=True)

    checks = [
        check_tokens, check_faults, check_kill, check_kill_postgres, check_disk_full, check_ambiguous, check_malformed,
        check_fuzz,
    ]
    results, started = [], time.monotonic()
    for fn in checks:
        if args.only and not any(o in fn.__name__ for o in args.only):
            continue
        print(f"== {fn.__name__.removeprefix('check_')}", flush=True)
        t = time.monotonic()
        try:
            result = fn(ws, args.long)
        except Exception as error:  # a broken check is a failed check, with its reason
            result = Check(fn.__name__)
            result.expect(False, f"the check itself failed: {error!r}\n{traceback.format_exc()}")
        result.figure(f"({time.monotonic() - t:.1f} s)")
        results.append(result)
    if not args.only or any("secrets" in o for o in args.only):
        print("== secrets", flush=True)
        try:
            result = check_secrets(ws, args.long, lambda path: re.match(r"\d+-sim", os.path.basename(path)))
        except Exception as error:
            result = Check("secrets")
            result.expect(False, f"the check itself failed: {error!r}\n{traceback.format_exc()}")
        results.append(result)

    passed = sum(not r.problems for r in results)
    failed = len(results) - passed
    print(f"\nreliability: {time.monotonic() - started:.0f} s", flush=True)
    for r in results:
        print(f"  {'ok  ' if not r.problems else 'FAIL'} {r.name}")
    print(f"{passed} passed, {failed} failed")
    if failed or args.keep:
        print(f"(work directory kept: {root})")
    else:
        shutil.rmtree(root, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
