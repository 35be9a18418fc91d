#!/usr/bin/env bash
# Installs the Debian packages tsee builds and tests with, when any is missing. Sourced by scripts/run and
# scripts/test; safe to run on its own.
set -euo pipefail
need=()
for pkg in libreadline-dev libsqlite3-dev sqlite3 python3-pexpect; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
done
# pexpect may come from pip instead of Debian; either will do.
if [[ " ${need[*]-} " == *" python3-pexpect "* ]] && python3 -c 'import pexpect' 2>/dev/null; then
    need=("${need[@]/python3-pexpect/}")
fi
if [[ " ${need[*]-} " == *" python3-pexpect "* ]] || ! python3 -c 'import pytest' 2>/dev/null; then
    python3 -c 'import pytest' 2>/dev/null || need+=("python3-pytest")
fi
pkgs=()
for p in "${need[@]-}"; do [[ -n "$p" ]] && pkgs+=("$p"); done
if ((${#pkgs[@]})); then
    echo "deps: installing ${pkgs[*]}" >&2
    SUDO=""
    [[ $(id -u) -eq 0 ]] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${pkgs[@]}" >/dev/null
fi
command -v swift >/dev/null || { echo "deps: swift is not on PATH (Swift 6 toolchain required)" >&2; exit 1; }
