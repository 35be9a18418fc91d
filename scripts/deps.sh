#!/usr/bin/env bash
# Installs what tsee builds and tests with, when any of it is missing: Debian's readline, SQLite and libmosquitto
# development packages, the sqlite3 shell, the mosquitto broker, its command-line clients and openssl (the stream
# tests start their own broker, `tsee sim --mqtt`'s test subscribes with mosquitto_sub, and the TLS test makes
# throwaway certificates), PostgreSQL (the store tests start their own throwaway cluster; the
# Debian default cluster is stopped and set to manual), and Python's pexpect, pytest and prometheus-client for the
# pty and service tests.
set -euo pipefail
need=()
for pkg in libreadline-dev libsqlite3-dev sqlite3 libmosquitto-dev mosquitto mosquitto-clients openssl postgresql; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
done
if ((${#need[@]})); then
    echo "deps: installing ${need[*]}" >&2
    SUDO=""
    [[ $(id -u) -eq 0 ]] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
    # Installing postgresql starts Debian's default cluster on port 5432: the tests need none of it running.
    if [[ " ${need[*]} " == *" postgresql "* ]] && command -v pg_lsclusters >/dev/null; then
        pg_lsclusters --no-header 2>/dev/null | while read -r version name _ status _; do
            [[ $status == online* ]] && $SUDO pg_ctlcluster "$version" "$name" stop
            echo manual | $SUDO tee "/etc/postgresql/$version/$name/start.conf" >/dev/null
        done
    fi
fi
# module:package — the pty tests need pexpect, the service tests the Prometheus client's text parser.
for pair in pexpect:pexpect pytest:pytest prometheus_client:prometheus-client; do
    module=${pair%%:*} package=${pair#*:}
    if ! python3 -c "import $module" 2>/dev/null; then
        echo "deps: installing Python package $package" >&2
        python3 -m pip install -q "$package" || echo "deps: could not install $package (its tests will fail)" >&2
    fi
done
command -v swift >/dev/null || { echo "deps: swift is not on PATH (a Swift 6 toolchain is required)" >&2; exit 1; }
