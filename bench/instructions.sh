#!/usr/bin/env bash
# Instructions per request, for an A/B that the machine's load does not blur: the server runs
# under `valgrind --tool=callgrind`, gets exactly N requests over one keep-alive connection and
# stops; its start-up (a run with no request) is subtracted. Uses the database `./bench/run.sh`
# imported (run that once first).
#
#   ./bench/instructions.sh [BIN ...]     default: target/release/callem
#
# Environment: BENCH_PG (admin URL, as run.sh), BENCH_REQUESTS (default 2000).
set -euo pipefail
cd "$(dirname "$0")/.."

PG_ADMIN=${BENCH_PG:-postgres://postgres@127.0.0.1:5432/postgres}
N=${BENCH_REQUESTS:-2000}
PORT=${BENCH_PORT:-18998}
OUT=bench/out/callgrind
mkdir -p "$OUT"
export DATABASE_URL="${PG_ADMIN%/*}/callem_bench"
command -v valgrind >/dev/null || { echo "valgrind is needed" >&2; exit 1; }
PROJECT=$(psql "$DATABASE_URL" -Atc "SELECT id FROM projects WHERE name = 'Bench'" 2>/dev/null || true)
[ -n "$PROJECT" ] || { echo "no Bench project in callem_bench: run ./bench/run.sh first" >&2; exit 1; }
BINS=("$@")
[ ${#BINS[@]} -gt 0 ] || BINS=(target/release/callem)
KEY=$("${BINS[0]}" keys create --project "$PROJECT" --name instructions --expires never)
CALL=$(psql "$DATABASE_URL" -Atc "SELECT id FROM calls ORDER BY created_at DESC LIMIT 1 OFFSET 5000")
BAD_KEY="ck_live_$(printf '0%.0s' $(seq 1 60))"

# Sends exactly $3 GETs of $1 with key $2, over one connection; fails on an unexpected status.
drive() {
  python3 - "$PORT" "$1" "$2" "$3" <<'PY'
import http.client, sys
port, path, key, n = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
c = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
seen = set()
for _ in range(n):
    c.request("GET", path, headers={"Authorization": f"Bearer {key}"})
    r = c.getresponse(); r.read(); seen.add(r.status)
print(*sorted(seen))
PY
}

# Total instructions of one server run that serves $3 requests of $1 with key $2.
measure() {
  local bin=$1 path=$2 key=$3 n=$4 out
  out=$OUT/$(date +%s%N).out
  RUST_LOG=warn CALLEM_SHUTDOWN_DRAIN_SECS=0 CALLEM_RATE_LIMIT_PER_MINUTE=1000000000 \
    CALLEM_BIND=127.0.0.1:$PORT valgrind --tool=callgrind --callgrind-out-file="$out" \
    "$bin" serve >"$OUT/server.log" 2>&1 &
  local vg=$!
  for _ in $(seq 1 600); do curl -fs "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.2; done
  [ "$n" -gt 0 ] && drive "$path" "$key" "$n" >"$OUT/statuses.txt"
  kill -TERM $vg; wait $vg || true
  awk '/^(summary|totals):/ {print $2; exit}' "$out"
}

printf '%-40s %14s %14s\n' "binary" "calls/{id}" "unknown key"
for bin in "${BINS[@]}"; do
  echo "== $bin: start-up, then $N requests of each kind" >&2
  base=$(measure "$bin" / x 0)
  call=$(measure "$bin" "/v1/calls/$CALL" "$KEY" "$N")
  grep -qx 200 "$OUT/statuses.txt" || { echo "calls/{id} answered $(cat "$OUT/statuses.txt")" >&2; exit 1; }
  bad=$(measure "$bin" "/v1/calls/$CALL" "$BAD_KEY" "$N")
  grep -qx 401 "$OUT/statuses.txt" || { echo "unknown key answered $(cat "$OUT/statuses.txt")" >&2; exit 1; }
  printf '%-40s %14s %14s\n' "$bin" "$(( (call - base) / N ))" "$(( (bad - base) / N ))"
done
echo "(instructions per request; compare builds run on the same data)" >&2
