"""Processes and artefacts for the reliability suite: a separately started `tsee sim`, `tsee` runs whose
output is kept for the secrets check, and small helpers for the action log."""

import json
import os
import re
import signal
import sqlite3
import subprocess
import time
import urllib.request

SECRET = "sim-secret"


class Workspace:
    """One directory per suite run: state (history, databases), logs of every tsee process, rule files."""

    def __init__(self, root, binary):
        self.root = root
        self.binary = binary
        self.logs = os.path.join(root, "logs")
        self.state = os.path.join(root, "state")
        for d in (self.logs, self.state):
            os.makedirs(d, exist_ok=True)
        self.counter = 0
        self.tokens_seen = set()

    def env(self, base_url=None):
        env = dict(os.environ)
        env.update(
            {
                "HOME": self.root,
                "XDG_STATE_HOME": self.state,
                "NO_COLOR": "1",
                "no_proxy": "127.0.0.1,localhost",
                "NO_PROXY": "127.0.0.1,localhost",
            }
        )
        for key in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
            env.pop(key, None)
        if base_url:
            env.update(
                {"THINGSEE_BASE_URL": base_url, "THINGSEE_CLIENT_ID": "sim", "THINGSEE_CLIENT_SECRET": SECRET}
            )
        return env

    def log_paths(self, name):
        self.counter += 1
        stem = os.path.join(self.logs, f"{self.counter:04d}-{name}")
        return stem + ".out", stem + ".err"

    def tsee(self, args, sim=None, timeout=120, name="tsee", stdin=None):
        """Runs tsee to completion; returns (rc, stdout, stderr). Output is kept under logs/."""
        out_path, err_path = self.log_paths(name)
        with open(out_path, "wb") as out, open(err_path, "wb") as err:
            try:
                p = subprocess.run(
                    [self.binary] + args,
                    env=self.env(sim.base_url if sim else None),
                    stdout=out,
                    stderr=err,
                    input=stdin.encode() if stdin else None,
                    stdin=None if stdin else subprocess.DEVNULL,
                    timeout=timeout,
                    cwd=self.root,
                )
                rc = p.returncode
            except subprocess.TimeoutExpired:
                rc = "timeout"
        return rc, read(out_path), read(err_path)

    def spawn(self, args, sim=None, name="tsee", preexec_fn=None):
        """Starts tsee in the background (own process group); returns (Popen, stdout path, stderr path)."""
        out_path, err_path = self.log_paths(name)
        out, err = open(out_path, "wb"), open(err_path, "wb")
        p = subprocess.Popen(
            [self.binary] + args,
            env=self.env(sim.base_url if sim else None),
            stdout=out,
            stderr=err,
            stdin=subprocess.DEVNULL,
            cwd=self.root,
            preexec_fn=preexec_fn,
        )
        out.close()
        err.close()
        return p, out_path, err_path

    def write(self, name, text):
        path = os.path.join(self.root, name)
        with open(path, "w") as f:
            f.write(text)
        return path


def read(path):
    with open(path, "rb") as f:
        return f.read().decode("utf-8", "replace")


class Simulator:
    """`tsee sim` in its own process, so that it outlives the tsee processes a check kills."""

    def __init__(self, ws, *options, name="sim"):
        self.ws = ws
        self.out_path, self.err_path = ws.log_paths(name)
        self.out = open(self.out_path, "wb")
        self.process = subprocess.Popen(
            [ws.binary, "sim", "--port", "0"] + [str(o) for o in options],
            env=ws.env(),
            stdout=self.out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        self.base_url = None
        while time.monotonic() < deadline:
            m = re.search(r"THINGSEE_BASE_URL=(\S+)", read(self.out_path))
            if m:
                self.base_url = m.group(1)
                break
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        if not self.base_url:
            self.stop()
            raise RuntimeError(f"tsee sim did not start: {read(self.out_path)}")
        self.root_url = self.base_url.rsplit("/prod/v1", 1)[0]

    def stats(self):
        with opener().open(self.root_url + "/_sim/stats", timeout=30) as r:
            return json.load(r)["data"]

    def token(self):
        """A token fetched directly, to learn the format and to look for it later."""
        body = json.dumps({"client_id": "sim", "client_secret": SECRET}).encode()
        request = urllib.request.Request(
            self.base_url + "/auth/client-token", data=body, headers={"Content-Type": "application/json"}
        )
        with opener().open(request, timeout=30) as r:
            token = json.load(r)["data"]["token"]
        self.ws.tokens_seen.add(token)
        return token

    def get(self, path, token):
        request = urllib.request.Request(self.base_url + path, headers={"Authorization": f"Bearer {token}"})
        with opener().open(request, timeout=60) as r:
            return json.load(r)["data"]

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.out.close()


def opener():
    return urllib.request.build_opener(urllib.request.ProxyHandler({}))


def stop(process, timeout=60):
    """SIGTERM, then wait; returns the exit code (or 'timeout' after a SIGKILL)."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            return process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            return "timeout"
    return process.returncode


def query(db, sql, args=()):
    connection = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        return connection.execute(sql, args).fetchall()
    finally:
        connection.close()


CYCLE = re.compile(
    r"cycle (\d+): (\d+) devices, (\d+) new messages, (\d+) firings, (\d+) actions, (\d+) confirmed, (\d+) errors"
)


def cycles(stderr):
    """The cycle summary lines of `tsee run` as dicts."""
    keys = ("number", "devices", "messages", "firings", "actions", "confirmed", "errors")
    return [dict(zip(keys, map(int, m.groups()))) for m in CYCLE.finditer(stderr)]


BACKTRACE_SIGNS = ("Fatal error", "Stack dump", "DecodingError", "CodingKeys", "Swift runtime failure", "Backtrace")


def looks_raw(text):
    """Whether output shows something a user must never see: a crash, a backtrace or a raw decoding error."""
    return [sign for sign in BACKTRACE_SIGNS if sign in text]


def firings_vs_log(db):
    """The exactly-once invariant: for each live (rule, device), the firings its saved state counts equal the firings
    the action log holds. Returns (firings counted by the states, lost, extra): lost are firings a state recorded
    with no action logged, extra are logged firings no state recorded."""
    counted = {}
    for rule, tuid, state in query(db, "SELECT rule, tuid, state FROM rule_state WHERE dry_run = 0"):
        try:
            sequence = json.loads(state if isinstance(state, str) else bytes(state).decode()).get("sequence", 0)
        except ValueError:
            sequence = 0
        if sequence:
            counted[(rule, tuid)] = sequence
    logged = {}
    for rule, tuid, key in query(db, "SELECT rule, tuid, firing_key FROM actions WHERE dry_run = 0"):
        parts = key.split("|")
        if len(parts) >= 3 and not key.endswith(":resolved"):
            logged.setdefault((rule, tuid), set()).add(parts[2])
    lost = sum(max(0, n - len(logged.get(pair, ()))) for pair, n in counted.items())
    extra = sum(max(0, len(seqs) - counted.get(pair, 0)) for pair, seqs in logged.items())
    return sum(counted.values()), lost, extra
