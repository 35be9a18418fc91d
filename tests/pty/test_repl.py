"""Pseudo-terminal tests of tsee's interactive REPL (GNU readline): completion, history, Ctrl-C, Ctrl-D,
confirmation prompts. Each test starts `tsee` with no base URL, so it runs its own built-in simulator
(40 devices, seed 1)."""

import json
import os
import re
import stat
import subprocess
import tempfile
import time

import pexpect
import pytest

BINARY = os.environ.get("TSEE_BINARY") or os.environ.get("TSEE_BIN") or os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../.build/debug/tsee")
PROMPT = re.escape("tsee[sim]> ")


def _fleet():
    """A group with devices and one of its sensors, read off the built-in simulator (40 devices, seed 1)."""
    env = {"PATH": "/usr/bin:/bin", "HOME": tempfile.gettempdir(), "no_proxy": "127.0.0.1,localhost"}
    script = "; ".join(f"group things {g}" for g in ["prfi00warehousenorth", "prfi00coldchain", "prfi00officehq", "prfi00wastebins"])
    out = subprocess.run([BINARY, "-o", "jsonl", "-c", script], env=env, capture_output=True, text=True, timeout=60)
    for line in out.stdout.splitlines():
        group = json.loads(line)
        sensors = [t for t in group["tuids"] if not t.startswith("TSGW")]
        if sensors:
            return group["group_id"], sensors[0]
    raise RuntimeError(f"no group with devices: {out.stdout!r} {out.stderr!r}")


GROUP, SENSOR = _fleet()


@pytest.fixture
def state():
    with tempfile.TemporaryDirectory() as folder:
        inputrc = os.path.join(folder, "inputrc")
        with open(inputrc, "w") as f:
            f.write("set enable-bracketed-paste off\n")
        yield folder, inputrc


def environment(state):
    folder, inputrc = state
    return {
        "PATH": "/usr/bin:/bin",
        "HOME": folder,
        "XDG_STATE_HOME": os.path.join(folder, "state"),
        "INPUTRC": inputrc,
        "TERM": "xterm",
        "NO_COLOR": "1",
        "no_proxy": "127.0.0.1,localhost",
    }


def start(state, *args, cwd=None):
    env = environment(state)
    child = pexpect.spawn(BINARY, list(args), env=env, encoding="utf-8", timeout=15, dimensions=(40, 160), cwd=cwd)
    child.expect("using the built-in simulator")
    child.expect(PROMPT)
    return child


def interrupt(child):
    """Ctrl-C at the prompt: the line is abandoned and a fresh prompt shown."""
    child.sendcontrol("c")
    child.expect(r"\^C\r\n" + PROMPT)


def finish(child):
    child.sendcontrol("d")
    child.expect(pexpect.EOF)
    child.close()
    return child.exitstatus


def test_tab_completes_commands_and_subcommands(state):
    child = start(state)
    child.send("gr\t")
    child.expect("oup")  # completed to the common prefix; Tab again lists the choices
    child.send("\t\t")
    child.expect(r"group\s+groups")
    interrupt(child)
    child.send("group \t\t")
    child.expect(r"assign\s+create\s+delete\s+of\s+rename\s+things")
    interrupt(child)
    assert finish(child) == 0


def test_tab_completes_parameter_names_of_a_command_id(state):
    child = start(state)
    child.send(f"send {SENSOR} 1500 \t\t")
    child.expect(r"measurementInterval=\s+reportInterval=")
    child.send("rep\t")
    child.expect("reportInterval=")
    interrupt(child)
    assert finish(child) == 0


def test_tab_completes_tuids_from_the_cache(state):
    child = start(state)
    time.sleep(1)  # the cache is filled in the background
    child.send(f"thing {SENSOR[:-3]}\t")
    child.expect(SENSOR)
    child.send("\r")
    child.expect("battery")
    child.expect(PROMPT)
    child.send(f"group assign {SENSOR} {GROUP[:-2]}\t")
    child.expect(GROUP)
    interrupt(child)
    assert finish(child) == 0


def test_history_file_is_private_and_holds_no_secret(state):
    child = start(state)
    child.sendline("groups")
    child.expect(GROUP)
    child.expect(PROMPT)
    child.sendline("set MY_SECRET hunter2")
    child.expect(PROMPT)
    child.sendline("set ApiToken abc123")
    child.expect(PROMPT)
    # Ctrl-R finds the earlier command.
    child.sendcontrol("r")
    child.send("grou")
    child.expect("reverse-i-search")
    child.send("\r")
    child.expect(GROUP)
    child.expect(PROMPT)
    assert finish(child) == 0
    path = os.path.join(state[0], "state", "tsee", "sim", "history")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    text = open(path).read()
    assert "groups" in text
    assert "hunter2" not in text and "abc123" not in text


def test_history_is_shared_by_sessions(state):
    first = start(state)
    first.sendline("help exit-codes")
    first.expect(PROMPT)
    second = start(state)
    second.sendline("help send")
    second.expect(PROMPT)
    assert finish(first) == 0
    assert finish(second) == 0
    text = open(os.path.join(state[0], "state", "tsee", "sim", "history")).read()
    assert "help exit-codes" in text and "help send" in text


def test_ctrl_c_clears_the_line(state):
    child = start(state)
    child.send("thing NOT-A-TUID")
    child.expect("NOT-A-TUID")
    interrupt(child)
    child.sendline("help exit-codes")
    child.expect("Exit codes of tsee")
    child.expect(PROMPT)
    assert "NOT-A-TUID" not in child.before
    assert finish(child) == 0


def test_ctrl_c_cancels_a_running_watch_and_stays_in_the_repl(state):
    child = start(state)
    child.sendline("watch -n 1 groups")
    child.expect(GROUP)
    child.expect(r"every 1 s")  # redrawn at least once more
    child.sendcontrol("c")
    child.expect(PROMPT)
    assert "cancelled" not in child.before and "error" not in child.before  # Ctrl-C is answer enough
    child.sendline("help exit-codes")
    child.expect("Exit codes of tsee")
    child.expect(PROMPT)
    assert finish(child) == 0


def test_ctrl_c_ends_a_tail_and_stays_in_the_repl(state):
    # A fleet running 600 times faster, so that a message or two arrive while the tail polls (every second).
    child = start(state, "--time-scale", "600")
    child.sendline(f"tail {SENSOR} -n 1")
    child.expect("no stream configured")
    child.expect(SENSOR, timeout=60)  # a message as it arrives
    child.sendcontrol("c")
    child.expect(PROMPT)
    assert "cancelled" not in child.before and "error" not in child.before
    child.sendline("help tail")
    child.expect("live messages")
    child.expect(PROMPT)
    assert finish(child) == 0


def test_ctrl_d_exits_cleanly(state):
    child = start(state)
    assert finish(child) == 0


def test_exit_command_sets_the_status(state):
    child = start(state)
    child.sendline("exit 3")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 3


def test_deleting_a_non_empty_group_asks_first(state):
    child = start(state)
    child.sendline(f"group delete {GROUP}")
    child.expect(rf"group {GROUP} has (\d+) devices?; delete it\? \[y/N\] ")
    assert int(child.match.group(1)) > 0
    child.sendline("n")
    child.expect("not deleted")
    child.expect(PROMPT)
    child.sendline(f"group things {GROUP}")
    child.expect(SENSOR)
    child.expect(PROMPT)
    child.sendline(f"group delete {GROUP}")
    child.expect(r"delete it\? \[y/N\] ")
    child.sendline("y")
    child.expect(rf"{GROUP}\s+true")
    child.expect(PROMPT)
    assert finish(child) == 0


def test_things_draws_a_progress_bar_on_the_terminal(state):
    child = start(state)
    child.sendline("things --columns tuid,battery")
    child.expect(r"things \[[#.]+\] +\d+/40")
    child.expect(r"tuid\s+battery")
    child.expect(PROMPT)
    assert finish(child) == 0


def test_a_bulk_change_shows_the_selection_and_asks_first(state):
    child = start(state)
    child.sendline("install --where 'battery below 20' quarantine")
    child.expect(r"(\d+) devices? selected: TS")
    count = int(child.match.group(1))
    child.expect(rf"install quarantine on {count} devices?\? \[y/N\] ")
    child.sendline("n")
    child.expect("nothing sent")
    child.expect(PROMPT)
    child.sendline("things --where 'status is quarantine' --columns tuid -o jsonl")
    child.expect(PROMPT)
    assert "TS" not in child.before.split("\n", 1)[-1]
    child.sendline("install --where 'battery below 20' quarantine")
    child.expect(r"\[y/N\] ")
    child.sendline("y")
    child.expect(r"tuid\s+result\s+detail")
    child.expect(PROMPT)
    assert child.before.count(" ok ") == count
    assert finish(child) == 0


def test_tab_completes_rule_names_rule_files_and_profiles(state):
    folder = state[0]
    os.makedirs(os.path.join(folder, "work", "rules"))
    with open(os.path.join(folder, "work", "rules", "fleet.rules"), "w") as f:
        f.write("rule low-battery\n  when battery below 20\n  then move to quarantine\n")
    os.makedirs(os.path.join(folder, "cfg", "tsee"))
    with open(os.path.join(folder, "cfg", "tsee", "config.toml"), "w") as f:
        f.write('[profile.staging]\nclient_id = "x"\n[profile.production]\nclient_id = "y"\n')
    os.chmod(os.path.join(folder, "cfg", "tsee", "config.toml"), 0o600)
    env = environment(state)
    env["XDG_CONFIG_HOME"] = os.path.join(folder, "cfg")
    child = pexpect.spawn(BINARY, [], env=env, encoding="utf-8", timeout=15, dimensions=(40, 160),
                          cwd=os.path.join(folder, "work"))
    child.expect(PROMPT)
    child.send("rules explain low-\t")
    child.expect("battery")
    interrupt(child)
    child.send("rules load ru\t")
    child.expect("les/")
    child.send("fl\t")
    child.expect("eet.rules")
    interrupt(child)
    child.send("profiles st\t")
    child.expect("aging")
    interrupt(child)
    assert finish(child) == 0


def _simulator(devices):
    """A `tsee sim` process on a free port, and its base URL."""
    process = subprocess.Popen([BINARY, "sim", "--devices", str(devices)], stdout=subprocess.PIPE, text=True,
                               env={"PATH": "/usr/bin:/bin", "no_proxy": "127.0.0.1,localhost"})
    for line in process.stdout:
        if line.startswith("export THINGSEE_BASE_URL="):
            return process, line.split("=", 1)[1].strip()
    raise RuntimeError("tsee sim printed no URL")


def test_two_profiles_keep_separate_histories(state):
    folder = state[0]
    first, url_a = _simulator(4)
    second, url_b = _simulator(6)
    try:
        os.makedirs(os.path.join(folder, "cfg", "tsee"))
        config = os.path.join(folder, "cfg", "tsee", "config.toml")
        with open(config, "w") as f:
            for name, url in (("alpha", url_a), ("beta", url_b)):
                f.write(f'[profile.{name}]\nbase_url = "{url}"\nclient_id = "sim"\nclient_secret = "sim-secret"\n')
        os.chmod(config, 0o600)
        env = environment(state)
        env["XDG_CONFIG_HOME"] = os.path.join(folder, "cfg")
        for name, command in (("alpha", "groups"), ("beta", "help send")):
            child = pexpect.spawn(BINARY, ["--profile", name], env=env, encoding="utf-8", timeout=15,
                                  dimensions=(40, 160))
            child.expect(re.escape(f"tsee[{name}]> "))
            child.sendline(command)
            child.expect(re.escape(f"tsee[{name}]> "))
            assert finish(child) == 0
        alpha = open(os.path.join(folder, "state", "tsee", "alpha", "history")).read()
        beta = open(os.path.join(folder, "state", "tsee", "beta", "history")).read()
        assert "groups" in alpha and "help send" not in alpha
        assert "help send" in beta and "groups" not in beta
    finally:
        first.terminate()
        second.terminate()
        first.wait()
        second.wait()
