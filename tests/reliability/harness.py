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
        # Database passwords handed to tsee (PGPASSWORD): searched for like the tokens.
        self.passwords = set()

    def env(self, base_url=None, extra=None):
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
        env.update(extra or {})
        return env

    def log_paths(self, name):
        self.counter += 1
        stem = os.path.join(self.logs, f"{self.counter:04d}-{name}")
        return stem + ".out", stem + ".err"

    def tsee(self, args, sim=None, timeout=120, name="tsee", stdin=None, env=None):
        """Runs tsee to completion; returns (rc, stdout, stderr). Output is kept under logs/."""
        out_path, err_path = self.log_paths(name)
        with open(out_path, "wb") as out, open(err_path, "wb") as err:
            try:
                p = subprocess.run(
                    [self.binary] + args,
                    env=self.env(sim.base_url if sim else None, env),
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

    def spawn(self, args, sim=None, name="tsee", preexec_fn=None, env=None):
        """Starts tsee in the background (own process group); returns (Popen, stdout path, stderr path)."""
        out_path, err_path = self.log_paths(name)
        out, err = open(out_path, "wb"), open(err_path, "wb")
        p = subprocess.Popen(
            [self.binary] + args,
            env=self.env(sim.base_url if sim else None, env),
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


def firings_vs_log(db, run=None):
    """The exactly-once invariant: for each live (rule, device), the firings its saved state counts equal the firings
    the action log holds. Returns (firings counted by the states, lost, extra): lost are firings a state recorded
    with no action logged, extra are logged firings no state recorded. `run(sql)` reads another database than the
    SQLite file `db` (PostgreSQL: ``Postgres.query``)."""
    run = run or (lambda sql: query(db, sql))
    counted = {}
    state_sql = "SELECT rule, tuid, state FROM rule_state WHERE dry_run = 0"
    if db is None:
        state_sql = "SELECT rule, tuid, convert_from(state, 'UTF8') FROM rule_state WHERE NOT dry_run"
    for rule, tuid, state in run(state_sql):
        try:
            sequence = json.loads(state if isinstance(state, str) else bytes(state).decode()).get("sequence", 0)
        except ValueError:
            sequence = 0
        if sequence:
            counted[(rule, tuid)] = sequence
    logged = {}
    for rule, tuid, key in run("SELECT rule, tuid, firing_key FROM actions WHERE NOT dry_run"):
        parts = key.split("|")
        if len(parts) >= 3 and not key.endswith(":resolved"):
            logged.setdefault((rule, tuid), set()).add(parts[2])
    lost = sum(max(0, n - len(logged.get(pair, ()))) for pair, n in counted.items())
    extra = sum(max(0, len(seqs) - counted.get(pair, 0)) for pair, seqs in logged.items())
    return sum(counted.values()), lost, extra


class Postgres:
    """A throwaway PostgreSQL, made as Tests/TestSupport/PostgresServer.swift makes one: `initdb` and `pg_ctl` in a
    temporary directory of its own (outside the workspace: its files are the server's, not tsee's), a free loopback
    port, a random password for TCP logins (SCRAM), run as the `postgres` user when root (`initdb` refuses root).
    Debian's `postgresql` (scripts/deps.sh) provides the programs; `psql` reads the results."""

    def __init__(self, ws):
        import secrets
        import shutil
        import socket
        import tempfile

        self.bin = self.binaries()
        self.user = "tsee"
        self.password = secrets.token_hex(16)
        ws.passwords.add(self.password)
        self.dir = tempfile.mkdtemp(prefix="tsee-reliability-pg-")
        self.run_as = "postgres" if os.geteuid() == 0 else None
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        pwfile = os.path.join(self.dir, "pwfile")
        with open(pwfile, "w") as f:
            f.write(self.password)
        if self.run_as:
            shutil.chown(self.dir, self.run_as, self.run_as)
            shutil.chown(pwfile, self.run_as, self.run_as)
        data = os.path.join(self.dir, "data")
        try:
            self.tool("initdb", "-D", data, "-U", self.user, "--pwfile", pwfile, "--auth-local=trust",
                      "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync")
        finally:
            os.remove(pwfile)
        self.tool("pg_ctl", "-D", data, "-l", os.path.join(self.dir, "server.log"), "-w", "-t", "60", "-o",
                  f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off "
                  "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200", "start")

    @staticmethod
    def binaries():
        root = "/usr/lib/postgresql"
        versions = sorted((int(v) for v in os.listdir(root) if v.isdigit()), reverse=True) if os.path.isdir(root) else []
        for v in versions:
            if os.access(os.path.join(root, str(v), "bin", "pg_ctl"), os.X_OK):
                return os.path.join(root, str(v), "bin")
        raise RuntimeError("PostgreSQL's initdb and pg_ctl are not installed (scripts/deps.sh installs postgresql)")

    def tool(self, program, *args):
        argv = [os.path.join(self.bin, program), *args]
        if self.run_as:
            argv = ["/usr/sbin/runuser", "-u", self.run_as, "--"] + argv
        p = subprocess.run(argv, capture_output=True, cwd=self.dir)
        if p.returncode != 0:
            raise RuntimeError(f"{program} exited {p.returncode}: {p.stderr.decode(errors='replace')[-600:]}")

    def create(self, name):
        self.tool("createdb", "-h", self.dir, "-p", str(self.port), "-U", self.user, name)
        return f"postgres://{self.user}@127.0.0.1:{self.port}/{name}"

    @property
    def env(self):
        """What a tsee process needs to log in (the password never goes on a command line)."""
        return {"PGPASSWORD": self.password}

    def query(self, database, sql):
        """Rows of `sql` (TCP, with the password, as tsee logs in), as tuples of strings (None for NULL)."""
        env = dict(os.environ, PGPASSWORD=self.password)
        p = subprocess.run(
            [os.path.join(self.bin, "psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", self.user, "-d", database,
             "-X", "-q", "-A", "-t", "-F", "\x1f", "-P", "null=\x1e", "-v", "ON_ERROR_STOP=1", "-c", sql],
            capture_output=True, env=env, timeout=60)
        if p.returncode != 0:
            raise RuntimeError(f"psql: {p.stderr.decode(errors='replace')[-400:]}")
        rows = []
        for line in p.stdout.decode().split("\n"):  # not splitlines(): it splits at the separators too
            if line:
                rows.append(tuple(None if v == "\x1e" else v for v in line.split("\x1f")))
        return rows

    def stop(self):
        import shutil

        try:
            self.tool("pg_ctl", "-D", os.path.join(self.dir, "data"), "-m", "immediate", "-w", "stop")
        except RuntimeError:
            pass
        shutil.rmtree(self.dir, ignore_errors=True)
