#!/usr/bin/env bash
# `make live`: a live network to watch, and the controller watching it, all on this machine.
#
#   1. the telemetry simulator (`surgeguard simulate telemetry`): Morocco, synthetic traffic with the
#      lockdown of 20 March 2020 (17:00 UTC), served as router interface counters at /metrics at an
#      accelerated clock (SPEED simulated seconds per wall second: a 5-minute interval lasts 5 s);
#      the first day is written as OpenMetrics history;
#   2. promtool backfills that day into a fresh TSDB, and Prometheus starts on it, scraping the
#      simulator every second;
#   3. the controller (`surgeguard serve --config live-output/live.toml`: the controller of
#      `surgeguard run`, with the REST API and the live dashboard on http://127.0.0.1:$API_PORT) reads the day of history to
#      fit its forecaster and surge detector, then decides every interval as it ends: estimate,
#      forecast, detect, decide (optimal, critical-class protection), store in
#      live-output/surgeguard.duckdb, its own metrics at http://127.0.0.1:$METRICS_PORT/metrics.
#
# The lockdown arrives about a minute in (alerts, rising MLU). Ctrl-C stops all three.
# Everything lives under live-output/ (removed at each start: the simulated dates restart too).
# Settings (environment): LIVE_OUT, SPEED, PROM_PORT, SIM_PORT, METRICS_PORT, API_PORT, POLICY, BIN.
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${BIN:-.venv/bin}
OUT=${LIVE_OUT:-live-output}
SPEED=${SPEED:-60}
PROM_PORT=${PROM_PORT:-9090}
SIM_PORT=${SIM_PORT:-9116}
METRICS_PORT=${METRICS_PORT:-9180}
API_PORT=${API_PORT:-8000}
POLICY=${POLICY:-optimal}
JOB=surgeguard-sim
# the series: a day of history (backfilled), then live from 16:00 on 20 March; lockdown at 17:00
TRAFFIC="synthetic:days=2.5,step=5min,start=2020-03-19T16:00,total=800e9,seed=1"
SCENARIO="lockdown:start=2020-03-20T17:00Z"

say() { printf '\033[1mlive:\033[0m %s\n' "$*"; }
die() { printf 'live: %s\n' "$*" >&2; exit 2; }

PROMETHEUS=$(command -v prometheus || true); PROMETHEUS=${PROMETHEUS:-/usr/bin/prometheus}
PROMTOOL=$(command -v promtool || true); PROMTOOL=${PROMTOOL:-/usr/bin/promtool}
[ -x "$PROMETHEUS" ] && [ -x "$PROMTOOL" ] || die "prometheus and promtool are needed; install them with scripts/install_services.sh"
[ -x "$BIN/surgeguard" ] || die "$BIN/surgeguard not found; run make install first (or set BIN)"
for p in "$PROM_PORT" "$SIM_PORT" "$METRICS_PORT" "$API_PORT"; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
    die "port $p is in use; stop what listens there or choose others (PROM_PORT, SIM_PORT, METRICS_PORT, API_PORT)"
  fi
done

PIDS=()
cleanup() {
  trap - EXIT INT TERM
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  say "stopped (Prometheus, the simulator and the controller); the store is $OUT/surgeguard.duckdb"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

rm -rf "$OUT"
mkdir -p "$OUT/prometheus"

say "simulator: Morocco, lockdown replay, speed $SPEED, a day of history backfilled ($OUT/simulator.log)"
"$BIN/surgeguard" simulate telemetry --network morocco --traffic "$TRAFFIC" --scenario "$SCENARIO" \
  --size-util 0.6 --speed "$SPEED" --port "$SIM_PORT" --backfill "$OUT/history.om" --duration 1d \
  --job "$JOB" >"$OUT/simulator.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 600); do
  grep -q '^serving' "$OUT/simulator.log" 2>/dev/null && break
  kill -0 "${PIDS[0]}" 2>/dev/null || { cat "$OUT/simulator.log" >&2; die "the simulator stopped"; }
  sleep 0.1
done
grep -q '^serving' "$OUT/simulator.log" || die "the simulator did not start in 60 s; see $OUT/simulator.log"

say "promtool: backfilling the history into $OUT/prometheus/data"
"$PROMTOOL" tsdb create-blocks-from openmetrics "$OUT/history.om" "$OUT/prometheus/data" >"$OUT/promtool.log" 2>&1 \
  || { tail -5 "$OUT/promtool.log" >&2; die "promtool failed; see $OUT/promtool.log"; }

cat >"$OUT/prometheus/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: '$JOB'
    scrape_interval: 1s
    scrape_timeout: 1s
    honor_labels: true
    static_configs:
      - targets: ['127.0.0.1:$SIM_PORT']
EOF
say "Prometheus: http://127.0.0.1:$PROM_PORT ($OUT/prometheus/prometheus.log)"
"$PROMETHEUS" --config.file="$OUT/prometheus/prometheus.yml" --storage.tsdb.path="$OUT/prometheus/data" \
  --storage.tsdb.retention.time=36500d --web.listen-address="127.0.0.1:$PROM_PORT" \
  >"$OUT/prometheus/prometheus.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 300); do
  curl -fs "http://127.0.0.1:$PROM_PORT/-/ready" >/dev/null 2>&1 && break
  kill -0 "${PIDS[1]}" 2>/dev/null || { tail -5 "$OUT/prometheus/prometheus.log" >&2; die "Prometheus stopped"; }
  sleep 0.1
done

cat >"$OUT/live.toml" <<EOF
# surgeguard run --config $OUT/live.toml (every key is also a flag of surgeguard run)
[network]
topology = "morocco"
capacity = "auto"              # the routers' ifHighSpeed

[telemetry]
source = "prometheus"
url = "http://127.0.0.1:$PROM_PORT"
matchers = 'job="$JOB"'
clock = "auto"                 # the simulator's accelerated clock, read from its gauges
lag = 1.5                      # wall seconds after an interval ends before it is read

[controller]
step = "5min"
history = "1d"                 # the backfilled day: fits the forecaster and the detector

[forecast]
model = "naive"

[detect]
detector = "cusum"

[policy]
name = "$POLICY"
time_limit = 4.0
classes = "critical:0.05:1.5x,interactive:0.35,bulk:0.6"

[store]
path = "$OUT/surgeguard.duckdb"

[metrics]
port = $METRICS_PORT

[export]
dir = "$OUT/sr"                # each decision that changes the SR-TE policies: the changed ones + changes.json
format = "iosxr"
EOF
say "controller + dashboard: surgeguard serve --config $OUT/live.toml (the controller of surgeguard run, with the"
say "REST API and the dashboard beside it; open the dashboard address it prints; Ctrl-C stops everything)"
"$BIN/surgeguard" serve --config "$OUT/live.toml" --port "$API_PORT" &
PIDS+=($!)
wait "${PIDS[2]}"
