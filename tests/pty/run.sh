#!/usr/bin/env bash
# Pseudo-terminal tests of the interactive REPL. Builds nothing: give the tsee binary to test.
#   tests/pty/run.sh [.build/debug/tsee]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
binary="${1:-${TSEE_BINARY:-${TSEE_BIN:-$here/../../.build/debug/tsee}}}"
if [[ ! -x "$binary" ]]; then
    echo "tests/pty/run.sh: no tsee binary at $binary (build it first: swift build)" >&2
    exit 2
fi
export TSEE_BINARY="$(cd "$(dirname "$binary")" && pwd)/$(basename "$binary")"
export no_proxy=127.0.0.1,localhost
cd "$here"
exec python3 -m pytest -q -p no:cacheprovider test_repl.py
