#!/usr/bin/env bash
# Starts the test Lambda emulator (serverless@3.40.0 + serverless-offline@13.10.1) on
# 127.0.0.1:3002 and waits until it answers. Installs it first with `npm ci` when
# node_modules is missing or older than package-lock.json.
# Stop it with stop.sh. The engine/invoke tests also start and stop it themselves when
# node_modules exists, so this script is only needed to keep one running across runs.
# See ../../../../../shared/notes/lambda-emulator.md for why each flag is here.
set -euo pipefail
cd "$(dirname "$0")"

if [[ ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
  npm ci --no-audit --no-fund
fi

if [[ -f offline.pid ]] && kill -0 "$(cat offline.pid)" 2>/dev/null; then
  echo "lambda emulator already running (pid $(cat offline.pid))"
  exit 0
fi

SLS_TELEMETRY_DISABLED=1 SLS_NOTIFICATIONS_MODE=off SLS_DEPRECATION_DISABLE='*' \
NODE_OPTIONS="--require $PWD/keep-alive-on-async-errors.cjs" \
  ./node_modules/.bin/serverless offline start --host 127.0.0.1 --lambdaPort 3002 --noSponsor \
  > offline.log 2>&1 &
echo $! > offline.pid

# Ready when the invoke route answers (any HTTP status; 404 for the unknown name is fine).
for _ in $(seq 1 600); do
  if curl -s -o /dev/null -X POST http://127.0.0.1:3002/2015-03-31/functions/__ping__/invocations; then
    echo "lambda emulator ready on 127.0.0.1:3002 (pid $(cat offline.pid), log $PWD/offline.log)"
    exit 0
  fi
  if ! kill -0 "$(cat offline.pid)" 2>/dev/null; then
    echo "lambda emulator exited during startup:" >&2
    cat offline.log >&2
    exit 1
  fi
  sleep 0.05
done
echo "lambda emulator not ready after 30 s:" >&2
cat offline.log >&2
exit 1
