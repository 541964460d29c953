#!/usr/bin/env bash
# Stops the Lambda emulator started by start.sh and waits until it has exited.
set -euo pipefail
cd "$(dirname "$0")"
[[ -f offline.pid ]] || exit 0
pid="$(cat offline.pid)"
if kill "$pid" 2>/dev/null; then
  while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
fi
rm -f offline.pid
