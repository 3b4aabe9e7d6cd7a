#!/usr/bin/env bash
# Benchmark of the public API on PostgreSQL. Rerun any time: ./bench/run.sh
#
# Starts a release build on a fresh PostgreSQL database, imports 100,000 calls with ~2 KB
# transcripts into one project, creates a key, then measures with wrk (32 connections) the
# throughput and p50/p99 latency of:
#   GET /v1/calls/{id}, GET /v1/calls?limit=20, a request with an unknown key, GET /readyz
# and reports each as a ratio to /readyz (one database round trip, the floor) measured in
# the same run. Then the rate limiter's A/B: an unknown /v1 path (no database work, only
# the limiter and routing) from one client address, and from 100,000 distinct addresses
# (X-Forwarded-For through a trusted proxy, so all of them are in the limiter's window);
# the target is that the second stays within 2x of the first. The rate limit is raised (not switched off) so its cost is counted. Last, GET /v1/calls/{id}
# again on a server with key-usage recording off (CALLEM_USAGE_RECORDING=off): the A/B of its cost. The
# server's resident memory is sampled during the run.
#
# Environment: BENCH_PG (admin URL, default postgres://postgres@127.0.0.1:5432/postgres),
# BENCH_CALLS (default 100000), BENCH_SECONDS per endpoint (default 15),
# BENCH_CONNECTIONS (default 32), BENCH_POOL (CALLEM_DB_POOL_SIZE, default 6 like the server), BENCH_REUSE=1
# (keep the database imported by the previous run), BENCH_BIN (measure this binary instead of
# building the working tree's, for an A/B against another commit).
set -euo pipefail
cd "$(dirname "$0")/.."

PG_ADMIN=${BENCH_PG:-postgres://postgres@127.0.0.1:5432/postgres}
CALLS=${BENCH_CALLS:-100000}
SECONDS_EACH=${BENCH_SECONDS:-15}
CONNS=${BENCH_CONNECTIONS:-32}
PORT=${BENCH_PORT:-18999}
OUT=bench/out
mkdir -p "$OUT"

if ! command -v wrk >/dev/null 2>&1; then
  echo "installing wrk…" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
fi

if [ -n "${BENCH_BIN:-}" ]; then
  BIN=$BENCH_BIN   # another build to compare against (e.g. an older commit's)
else
  echo "== building the release binary" >&2
  cargo build --release --quiet
  BIN=target/release/callem
fi

DB=callem_bench
export DATABASE_URL="${PG_ADMIN%/*}/$DB"
if [ "${BENCH_REUSE:-0}" = 1 ] && psql "$DATABASE_URL" -Atc "SELECT 1 FROM projects WHERE name = 'Bench'" 2>/dev/null | grep -q 1; then
  echo "== reusing the imported calls in $DB (BENCH_REUSE=1)" >&2
  $BIN migrate
  PROJECT=$(psql "$DATABASE_URL" -Atc "SELECT id FROM projects WHERE name = 'Bench'")
else
  psql "$PG_ADMIN" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null
  psql "$PG_ADMIN" -qc "CREATE DATABASE $DB" >/dev/null
  echo "== generating and importing $CALLS calls" >&2
  python3 bench/gen_calls.py "$CALLS" > "$OUT/calls.jsonl"
  PROJECT=$($BIN project create --name Bench)
  $BIN import calls --project "$PROJECT" "$OUT/calls.jsonl"
fi
KEY=$($BIN keys create --project "$PROJECT" --name bench --expires never)
# The steady state autovacuum would reach on its own: fresh statistics after the bulk load.
psql "$DATABASE_URL" -qc "VACUUM ANALYZE" >/dev/null
CALL_ID=$(psql "$DATABASE_URL" -Atc "SELECT id FROM calls ORDER BY created_at DESC LIMIT 1 OFFSET 5000")

echo "== starting the server" >&2
RUST_LOG=warn CALLEM_SHUTDOWN_DRAIN_SECS=0 CALLEM_TRUSTED_PROXIES=127.0.0.1 CALLEM_RATE_LIMIT_PER_MINUTE=1000000000 CALLEM_DB_POOL_SIZE=${BENCH_POOL:-6} CALLEM_BIND=127.0.0.1:$PORT $BIN serve > "$OUT/server.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true; kill $SAMPLER 2>/dev/null || true; wait $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 1 50); do curl -fs "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.2; done

# Resident memory, sampled every 200 ms for the whole run.
( while kill -0 $SERVER 2>/dev/null; do awk '/VmRSS/ {print $2}' /proc/$SERVER/status; sleep 0.2; done ) > "$OUT/rss.txt" &
SAMPLER=$!

BAD_KEY="ck_live_$(printf '0%.0s' $(seq 1 60))"
run() { # name path [header]
  local name=$1 path=$2 header=${3:-}
  if [ -n "$header" ]; then
    wrk -t2 -c"$CONNS" -d2s -H "$header" "http://127.0.0.1:$PORT$path" >/dev/null   # warm-up
    wrk -t2 -c"$CONNS" -d"${SECONDS_EACH}s" --latency -H "$header" "http://127.0.0.1:$PORT$path" > "$OUT/$name.txt"
  else
    wrk -t2 -c"$CONNS" -d2s "http://127.0.0.1:$PORT$path" >/dev/null
    wrk -t2 -c"$CONNS" -d"${SECONDS_EACH}s" --latency "http://127.0.0.1:$PORT$path" > "$OUT/$name.txt"
  fi
  echo "   $name done" >&2
}
echo "== measuring ($CONNS connections, ${SECONDS_EACH}s each)" >&2
run readyz /readyz
run call_by_id "/v1/calls/$CALL_ID" "Authorization: Bearer $KEY"
run calls_page "/v1/calls?limit=20" "Authorization: Bearer $KEY"
run unknown_key /v1/calls "Authorization: Bearer $BAD_KEY"
run one_address /v1/nope "X-Forwarded-For: 198.51.100.1"
cat > "$OUT/many.lua" <<'LUA'
-- Each request from one of 100,000 distinct client addresses.
request = function()
  local n = math.random(0, 99999)
  local ip = string.format("10.%d.%d.%d", math.floor(n / 65536) % 256, math.floor(n / 256) % 256, n % 256)
  return wrk.format("GET", "/v1/nope", {["X-Forwarded-For"] = ip})
end
LUA
wrk -t2 -c"$CONNS" -d5s -s "$OUT/many.lua" "http://127.0.0.1:$PORT" >/dev/null   # fills the window
wrk -t2 -c"$CONNS" -d"${SECONDS_EACH}s" --latency -s "$OUT/many.lua" "http://127.0.0.1:$PORT" > "$OUT/many_addresses.txt"
echo "   many_addresses done" >&2

# Sanity: the endpoints answered what they should.
curl -fs -H "Authorization: Bearer $KEY" "http://127.0.0.1:$PORT/v1/calls/$CALL_ID" | grep -q '"transcript"'
test "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $BAD_KEY" "http://127.0.0.1:$PORT/v1/calls")" = 401

# Key-usage recording A/B: the same request on a server with CALLEM_USAGE_RECORDING=off.
kill $SERVER; wait $SERVER 2>/dev/null || true
RUST_LOG=warn CALLEM_SHUTDOWN_DRAIN_SECS=0 CALLEM_USAGE_RECORDING=off CALLEM_RATE_LIMIT_PER_MINUTE=1000000000 CALLEM_DB_POOL_SIZE=${BENCH_POOL:-6} CALLEM_BIND=127.0.0.1:$PORT $BIN serve > "$OUT/server_off.log" 2>&1 &
SERVER=$!
for _ in $(seq 1 50); do curl -fs "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.2; done
run call_by_id_recording_off "/v1/calls/$CALL_ID" "Authorization: Bearer $KEY"

python3 - "$OUT" <<'PY'
import re, sys, pathlib
out = pathlib.Path(sys.argv[1])
def parse(name):
    t = (out / f"{name}.txt").read_text()
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1))
    def pct(p):
        m = re.search(rf"\s{p}%\s+([\d.]+)(us|ms|s)", t)
        v, unit = float(m.group(1)), m.group(2)
        return v / 1000 if unit == "us" else v * 1000 if unit == "s" else v
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", t)
    return rps, pct(50), pct(99), int(non2xx.group(1)) if non2xx else 0
rows = {n: parse(n) for n in ["readyz", "call_by_id", "calls_page", "unknown_key"]}
off = parse("call_by_id_recording_off")
limiter = {n: parse(n) for n in ["one_address", "many_addresses"]}
base = rows["readyz"][0]
rss = [int(x) for x in (out / "rss.txt").read_text().split() if x.strip()]
print(f"{'endpoint':<28}{'req/s':>10}{'ratio':>8}{'p50 ms':>9}{'p99 ms':>9}{'non-2xx':>9}")
labels = {"readyz": "GET /readyz", "call_by_id": "GET /v1/calls/{id}", "calls_page": "GET /v1/calls?limit=20", "unknown_key": "unknown key (401)"}
for n, (rps, p50, p99, bad) in rows.items():
    print(f"{labels[n]:<28}{rps:>10.0f}{rps / base:>8.2f}{p50:>9.2f}{p99:>9.2f}{bad:>9}")
for n, label in [("one_address", "404, one address"), ("many_addresses", "404, 100,000 addresses")]:
    rps, p50, p99, _ = limiter[n]
    print(f"{label:<28}{rps:>10.0f}{'':>8}{p50:>9.2f}{p99:>9.2f}")
print(f"{'GET /v1/calls/{id}, no usage':<28}{off[0]:>10.0f}{off[0] / base:>8.2f}{off[1]:>9.2f}{off[2]:>9.2f}{off[3]:>9}")
print(f"key-usage recording: on at {rows['call_by_id'][0] / off[0]:.2f} x off (target >= 0.95)")
spread = limiter["many_addresses"][0] / limiter["one_address"][0]
print(f"rate limiter: 100,000 addresses at {spread:.2f} x the throughput of one (target >= 0.5)")
print(f"server resident memory: peak {max(rss) / 1024:.1f} MB, last {rss[-1] / 1024:.1f} MB ({len(rss)} samples)")
ok = rows["call_by_id"][0] / base >= 0.6 and rows["call_by_id"][2] < 20 and max(rss) < 100 * 1024
print("targets (calls/{id} >= 0.6 of /readyz, p99 < 20 ms, RSS < 100 MB):", "met" if ok else "NOT met")
PY
