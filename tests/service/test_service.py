"""`tsee run` as a service: /metrics scraped with the Prometheus client's own text parser during a scheduler run,
/healthz turning 503 when logins are refused, JSON logs without secrets, the Grafana dashboard's metrics, and the
systemd unit. Each test starts its own `tsee sim` on a free loopback port."""

import json
import os
import re
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

BIN = os.environ.get("TSEE_BIN") or os.path.join(os.path.dirname(__file__), "..", "..", ".build", "debug", "tsee")
REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
RULES = os.path.join(REPO, "rules")
SECRET = "sim-secret"

DESIGN_METRICS = [
    "tsee_cycles_total", "tsee_cycle_duration_seconds", "tsee_last_cycle_success_timestamp_seconds", "tsee_devices",
    "tsee_messages_total", "tsee_api_requests_total", "tsee_api_request_duration_seconds", "tsee_actions_total",
    "tsee_commands_unconfirmed", "tsee_poll_failures_total", "tsee_rule_firing", "tsee_stream_connected",
    "tsee_clock_errors_total",
]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def opener():
    return urllib.request.build_opener(urllib.request.ProxyHandler({}))


def get(url, timeout=10):
    try:
        with opener().open(url, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except (urllib.error.URLError, OSError) as e:
        return 0, str(e)


def wait_until(predicate, seconds=120):
    """Polls `predicate` (bounded); returns its first truthy value or None."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    return None


@pytest.fixture
def sim(tmp_path):
    port = free_port()
    log = open(tmp_path / "sim.log", "wb")
    p = subprocess.Popen([BIN, "sim", "--port", str(port), "--devices", "60"], stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}/prod/v1"
    assert wait_until(lambda: get(url.replace("/prod/v1", "/_sim/stats"))[0] == 200 if p.poll() is None else None, 60)
    yield url
    p.send_signal(signal.SIGTERM)
    p.wait(timeout=30)


def start_run(tmp_path, sim, secret=SECRET, extra=()):
    port = free_port()
    env = dict(os.environ, THINGSEE_BASE_URL=sim, THINGSEE_CLIENT_ID="sim", THINGSEE_CLIENT_SECRET=secret,
               no_proxy="127.0.0.1,localhost", NO_COLOR="1", HOME=str(tmp_path))
    err = tmp_path / f"run-{port}.err"
    p = subprocess.Popen(
        [BIN, "run", RULES, "--interval", "1s", "--db", str(tmp_path / "tsee.db"), "--metrics-listen",
         f"127.0.0.1:{port}", *extra], env=env, stdout=subprocess.DEVNULL, stderr=open(err, "wb"))
    return p, f"http://127.0.0.1:{port}", err


def stop(p):
    p.send_signal(signal.SIGTERM)
    return p.wait(timeout=60)


def scrape(base):
    status, text = get(base + "/metrics")
    assert status == 200
    return {family.name: family for family in text_string_to_metric_families(text)}, text


def sample_value(families, name, suffix="", **labels):
    family = families[name]
    return sum(s.value for s in family.samples
               if s.name == name + suffix and all(s.labels.get(k) == v for k, v in labels.items()))


def test_every_design_metric_is_exported_with_sensible_values(tmp_path, sim):
    p, base, err = start_run(tmp_path, sim)
    try:
        assert wait_until(lambda: "cycle 2" in err.read_text()), err.read_text()[-2000:]
        families, text = scrape(base)
        # prometheus_client names counters without `_total`.
        names = {name + ("_total" if f.type == "counter" else "") for name, f in families.items()}
        missing = [m for m in DESIGN_METRICS if m not in names]
        assert not missing, f"missing {missing}\n{text[:3000]}"
        assert sample_value(families, "tsee_cycles", "_total") >= 2
        assert sample_value(families, "tsee_devices") == 60
        assert sample_value(families, "tsee_messages", "_total", source="poll") > 0
        assert sample_value(families, "tsee_cycle_duration_seconds", "_count") >= 2
        assert abs(sample_value(families, "tsee_last_cycle_success_timestamp_seconds") - time.time()) < 120
        assert sample_value(families, "tsee_api_requests", "_total", code="200") > 0
        assert sample_value(families, "tsee_actions", "_total", outcome="done") > 0
        endpoints = {s.labels.get("endpoint") for s in families["tsee_api_requests"].samples}
        assert all(not re.search(r"TS[A-Z0-9]{15}", e or "") for e in endpoints), endpoints  # no TUID per series
        assert SECRET not in text
        status, why = get(base + "/healthz")
        assert status == 200, why
    finally:
        assert stop(p) == 0


def test_healthz_turns_503_when_logins_are_refused(tmp_path, sim):
    p, base, err = start_run(tmp_path, sim, secret="not-the-secret", extra=["--max-auth-failures", "0"])
    try:
        assert wait_until(lambda: "cycle 1" in err.read_text()), err.read_text()[-2000:]
        status, why = wait_until(lambda: (lambda r: r if r[0] == 503 else None)(get(base + "/healthz")))
        assert status == 503 and "refused" in why
    finally:
        stop(p)
    assert "not-the-secret" not in err.read_text()


def test_json_logs_carry_metadata_and_no_secret(tmp_path, sim):
    p, base, err = start_run(tmp_path, sim, extra=["--log-format", "json"])
    try:
        assert wait_until(lambda: '"event":"cycle"' in err.read_text()), err.read_text()[-2000:]
    finally:
        stop(p)
    lines = [json.loads(line) for line in err.read_text().splitlines() if line.startswith("{")]
    assert lines and all({"ts", "level", "msg"} <= set(line) for line in lines)
    assert any(line.get("event") == "cycle" and "cycle" in line for line in lines)
    assert SECRET not in err.read_text()


def test_the_grafana_dashboard_queries_only_exported_metrics():
    dashboard = json.load(open(os.path.join(REPO, "contrib", "grafana", "tsee-dashboard.json")))
    queried = set()
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            queried |= set(re.findall(r"\btsee_[a-z_]+", target["expr"]))
    known = set(DESIGN_METRICS)
    unknown = {q for q in queried if re.sub(r"_(bucket|count|sum)$", "", q) not in known}
    assert not unknown, unknown
    assert {"tsee_cycle_duration_seconds", "tsee_api_requests_total", "tsee_actions_total", "tsee_rule_firing",
            "tsee_commands_unconfirmed"} <= {re.sub(r"_(bucket|count|sum)$", "", q) for q in queried}


def test_sighup_reloads_rules_and_refuses_a_broken_set(tmp_path, sim):
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "a.rules").write_text('rule seen: when battery above 0 then log "{tuid}"\n')
    port = free_port()
    env = dict(os.environ, THINGSEE_BASE_URL=sim, THINGSEE_CLIENT_ID="sim", THINGSEE_CLIENT_SECRET=SECRET,
               no_proxy="127.0.0.1,localhost", NO_COLOR="1", HOME=str(tmp_path))
    err = tmp_path / "reload.err"
    p = subprocess.Popen([BIN, "run", str(rules), "--interval", "1s", "--db", str(tmp_path / "r.db")], env=env,
                         stdout=subprocess.DEVNULL, stderr=open(err, "wb"))
    try:
        assert wait_until(lambda: "cycle 1" in err.read_text()), err.read_text()[-2000:]
        (rules / "a.rules").write_text('rule seen: when battery above 0 then move to quarantene\n')
        p.send_signal(signal.SIGHUP)
        assert wait_until(lambda: "reload refused" in err.read_text()), err.read_text()[-2000:]
        assert "quarantene" in err.read_text()
        (rules / "a.rules").write_text('rule other: when battery above 0 then log "{tuid}"\n')
        p.send_signal(signal.SIGHUP)
        assert wait_until(lambda: "reloaded 1 rules" in err.read_text()), err.read_text()[-2000:]
        text = err.read_text()
        assert "removed: seen" in text
        assert re.search(r"(\d+) open firings of removed rules closed", text).group(1) != "0"
        assert p.poll() is None
    finally:
        assert stop(p) == 0


def test_the_systemd_unit_is_type_notify_and_hardened():
    unit = open(os.path.join(REPO, "contrib", "systemd", "tsee.service")).read()
    for line in ["Type=notify", "StateDirectory=tsee", "NoNewPrivileges=yes", "ProtectSystem=strict", "User=tsee",
                 "WatchdogSec=", "ExecReload=/bin/kill -HUP $MAINPID"]:
        assert line in unit
