#!/usr/bin/env bash
# Installs what tsee builds and tests with, when any of it is missing: Debian's readline, SQLite and libmosquitto
# development packages, the sqlite3 shell, the mosquitto broker and openssl (the stream tests start their own
# broker and make throwaway certificates), and Python's pexpect and pytest for the pseudo-terminal tests.
set -euo pipefail
need=()
for pkg in libreadline-dev libsqlite3-dev sqlite3 libmosquitto-dev mosquitto openssl; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
done
if ((${#need[@]})); then
    echo "deps: installing ${need[*]}" >&2
    SUDO=""
    [[ $(id -u) -eq 0 ]] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
for module in pexpect pytest; do
    if ! python3 -c "import $module" 2>/dev/null; then
        echo "deps: installing Python package $module" >&2
        python3 -m pip install -q "$module" || echo "deps: could not install $module (pty tests will fail)" >&2
    fi
done
command -v swift >/dev/null || { echo "deps: swift is not on PATH (a Swift 6 toolchain is required)" >&2; exit 1; }
