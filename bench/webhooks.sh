#!/usr/bin/env bash
# Benchmark of webhook deliveries on PostgreSQL. Rerun any time: ./bench/webhooks.sh
#
# On a release build and a fresh database, with a receiver on loopback that answers 200 at once
# (bench/webhook_receiver.py), measures in one run:
#   1. POST /v1/calls throughput (wrk, BENCH_CONNECTIONS connections, a new completed call per
#      request) into a project with no webhook, then into one with one webhook subscribed to
#      call_ended (deliveries running meanwhile): the ratio, target >= 0.9;
#   2. deliveries per second: a backlog of BENCH_BACKLOG calls imported with --webhooks in one
#      transaction, timed from the import's end to the last delivery's arrival;
#   3. commit-to-2xx: calls created one after the other (BENCH_PACED of them, 20 a second), each
#      delivery's arrival minus its event's `timestamp` (the change's time, taken inside its
#      transaction a few milliseconds before the commit), p50 and p99.
#
# Environment: BENCH_PG (admin URL), BENCH_SECONDS (default 15), BENCH_CONNECTIONS (default 32),
# BENCH_BACKLOG (default 5000), BENCH_PACED (default 300), BENCH_BIN (another binary).
set -euo pipefail
cd "$(dirname "$0")/.."

PG_ADMIN=${BENCH_PG:-postgres://postgres@127.0.0.1:5432/postgres}
SECONDS_EACH=${BENCH_SECONDS:-15}
CONNS=${BENCH_CONNECTIONS:-32}
BACKLOG=${BENCH_BACKLOG:-5000}
PACED=${BENCH_PACED:-300}
PORT=${BENCH_PORT:-18998}
RPORT=${BENCH_RECEIVER_PORT:-18997}
OUT=bench/out/webhooks
mkdir -p "$OUT"

command -v wrk >/dev/null 2>&1 || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
if [ -n "${BENCH_BIN:-}" ]; then
  BIN=$BENCH_BIN
else
  echo "== building the release binary" >&2
  cargo build --release --quiet
  BIN=target/release/callem
fi

DB=callem_bench_webhooks
export DATABASE_URL="${PG_ADMIN%/*}/$DB"
psql "$PG_ADMIN" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null
psql "$PG_ADMIN" -qc "CREATE DATABASE $DB" >/dev/null
$BIN migrate
export CALLEM_WEBHOOK_ALLOW_CIDRS=127.0.0.0/8
NONE=$($BIN project create --name "No webhook")
ONE=$($BIN project create --name "One webhook")
KEY_NONE=$($BIN keys create --project "$NONE" --name bench --expires never)
KEY_ONE=$($BIN keys create --project "$ONE" --name bench --expires never)
$BIN webhooks create --project "$ONE" --url "http://127.0.0.1:$RPORT/hook" --events call_ended >/dev/null

python3 bench/webhook_receiver.py "$RPORT" "$OUT/arrivals.txt" &
RECEIVER=$!
RUST_LOG=warn CALLEM_SHUTDOWN_DRAIN_SECS=0 CALLEM_RATE_LIMIT_PER_MINUTE=1000000000 CALLEM_BIND=127.0.0.1:$PORT $BIN serve > "$OUT/server.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER $RECEIVER 2>/dev/null || true; wait $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 1 50); do curl -fs "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.2; done

cat > "$OUT/post.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"status":"completed","duration":42,"summary":"Booked a table for two.","evaluation":"success","endedReason":"user_hangup","isEngaged":true,"transcript":[{"role":"assistant","content":"Hello, how can I help?"},{"role":"user","content":"A table for two at eight, please."}]}'
LUA
post() { # name key
  wrk -t2 -c"$CONNS" -d2s -s "$OUT/post.lua" -H "Authorization: Bearer $2" "http://127.0.0.1:$PORT/v1/calls" >/dev/null
  wrk -t2 -c"$CONNS" -d"${SECONDS_EACH}s" --latency -s "$OUT/post.lua" -H "Authorization: Bearer $2" "http://127.0.0.1:$PORT/v1/calls" > "$OUT/$1.txt"
  echo "   $1 done" >&2
}
echo "== POST /v1/calls, no webhook then one ($CONNS connections, ${SECONDS_EACH}s each)" >&2
post post_none "$KEY_NONE"
post post_one "$KEY_ONE"
# Let the deliveries of that run drain before the next measures.
for _ in $(seq 1 600); do
  PENDING=$(psql "$DATABASE_URL" -Atc "SELECT count(*) FROM webhook_deliveries WHERE state = 'pending'")
  [ "$PENDING" = 0 ] && break; sleep 0.5
done
POSTED=$(psql "$DATABASE_URL" -Atc "SELECT count(*) FROM webhook_deliveries")

echo "== deliveries per second: a backlog of $BACKLOG" >&2
python3 - "$BACKLOG" > "$OUT/backlog.jsonl" <<'PY'
import json, sys
for i in range(int(sys.argv[1])):
    print(json.dumps({"status": "completed", "duration": 30, "summary": "s", "transcript": [{"role": "user", "content": "hi"}], "createdAt": "2026-01-01T00:00:00.000Z"}))
PY
: > "$OUT/arrivals.txt.mark"
BEFORE=$(wc -l < "$OUT/arrivals.txt")
$BIN import calls --webhooks --project "$ONE" "$OUT/backlog.jsonl" >/dev/null
START=$(date +%s.%N)
for _ in $(seq 1 1200); do
  NOW=$(wc -l < "$OUT/arrivals.txt")
  [ $((NOW - BEFORE)) -ge "$BACKLOG" ] && break; sleep 0.1
done
END=$(date +%s.%N)

echo "== commit to 2xx: $PACED calls, 20 a second" >&2
BEFORE_PACED=$(wc -l < "$OUT/arrivals.txt")
python3 - "$PORT" "$KEY_ONE" "$PACED" <<'PY'
import json, sys, time, urllib.request
port, key, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
body = json.dumps({"status": "completed", "duration": 12, "transcript": []}).encode()
for _ in range(n):
    started = time.time()
    req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/calls", data=body, method="POST",
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    urllib.request.urlopen(req).read()
    time.sleep(max(0, 0.05 - (time.time() - started)))
PY
for _ in $(seq 1 100); do
  NOW=$(wc -l < "$OUT/arrivals.txt")
  [ $((NOW - BEFORE_PACED)) -ge "$PACED" ] && break; sleep 0.1
done

python3 - "$OUT" "$BEFORE" "$BACKLOG" "$START" "$END" "$BEFORE_PACED" "$POSTED" <<'PY'
import re, sys, pathlib
out = pathlib.Path(sys.argv[1]); before, backlog = int(sys.argv[2]), int(sys.argv[3])
start, end, paced_from, posted = float(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6]), int(sys.argv[7])
def parse(name):
    t = (out / f"{name}.txt").read_text()
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1))
    def pct(p):
        m = re.search(rf"\s{p}%\s+([\d.]+)(us|ms|s)", t)
        v, unit = float(m.group(1)), m.group(2)
        return v / 1000 if unit == "us" else v * 1000 if unit == "s" else v
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", t)
    return rps, pct(50), pct(99), int(bad.group(1)) if bad else 0
none, one = parse("post_none"), parse("post_one")
if none[3] or one[3]:
    sys.exit(f"POST /v1/calls was refused ({none[3]} and {one[3]} non-2xx): see {out}/post_*.txt")
lines = (out / "arrivals.txt").read_text().split("\n")
rows = [l.split() for l in lines if l.strip()]
ids = [r[2] for r in rows]
backlog_rows = rows[before:before + backlog]
last = max(float(r[0]) for r in backlog_rows) if backlog_rows else end
paced = rows[paced_from:]
lat = sorted((float(r[0]) - float(r[1])) * 1000 for r in paced)
q = lambda p: lat[min(len(lat) - 1, int(p / 100 * len(lat)))] if lat else float("nan")
print(f"{'POST /v1/calls':<34}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'non-2xx':>9}")
print(f"{'  no webhook':<34}{none[0]:>9.0f}{none[1]:>9.2f}{none[2]:>9.2f}{none[3]:>9}")
print(f"{'  one subscribed webhook':<34}{one[0]:>9.0f}{one[1]:>9.2f}{one[2]:>9.2f}{one[3]:>9}")
print(f"with one webhook at {one[0] / none[0]:.2f} x none (target >= 0.9); {posted} deliveries queued by that run, all delivered")
print(f"deliveries: {len(backlog_rows)} of a backlog of {backlog} in {last - start:.2f} s = {len(backlog_rows) / max(last - start, 1e-9):.0f}/s")
print(f"commit to 2xx over {len(lat)} calls at 20/s: p50 {q(50):.1f} ms, p99 {q(99):.1f} ms")
print(f"duplicates seen by the receiver: {len(ids) - len(set(ids))}")
PY
