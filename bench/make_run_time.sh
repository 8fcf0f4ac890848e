#!/usr/bin/env bash
# Times `make run` in a fresh clone of this repository (its committed HEAD) until the core
# logs "listening", then stops it. Usage: bash bench/make_run_time.sh
set -euo pipefail
repo=$(git -C "$(dirname "$0")/.." rev-parse --show-toplevel)
work=$(mktemp -d /tmp/make-run.XXXXXX)
git clone -q "$repo" "$work/x"
cd "$work/x"
start=$(date +%s.%N)
set -m
make run ARGS="--listen 127.0.0.1:0 --data-dir $work/data" >"$work/log" 2>&1 &
pid=$!
set +m
deadline=$((SECONDS + 600))
while ! grep -q 'quantum-grpc listening' "$work/log"; do
  if ! kill -0 "$pid" 2>/dev/null || ((SECONDS > deadline)); then
    cat "$work/log"; echo "make run did not reach listening"; kill -TERM -- "-$pid" 2>/dev/null || true; exit 1
  fi
  sleep 0.1
done
end=$(date +%s.%N)
kill -TERM -- "-$pid" 2>/dev/null || true
wait "$pid" 2>/dev/null || true
echo "make run reached listening in $(echo "$end - $start" | bc) s"
rm -rf "$work"
