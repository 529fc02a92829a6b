#!/usr/bin/env bash
# SQLite and PostgreSQL side by side on the same generated federation (issue #7):
# import rate, full matching, import-to-alert latency (one new KEV entry), and the worklist
# API's throughput and p99 with one and with three `ward serve` on one database.
#
#   scripts/bench-backends.sh [MEMBERS] [OUT_DIR]
#
# Needs: a release build (cargo build --release), ../shared/data (or $WARD_SHARED_DATA), the
# PostgreSQL at $WARD_BENCH_POSTGRES (default postgres://postgres@127.0.0.1:5432/test), psql,
# and wrk for the load (apt-get install wrk). Each run gets a fresh database: a SQLite file, or
# a schema of its own (dropped afterwards).
set -euo pipefail
members=${1:-20}
out=${2:-target/bench-backends}
data=${WARD_SHARED_DATA:-../shared/data}
pg=${WARD_BENCH_POSTGRES:-postgres://postgres@127.0.0.1:5432/test}
ward=./target/release/ward
feeds=("$data/cve5/vulnrichment-2024-10-24.tar.xz" "$data/kev/known_exploited_vulnerabilities.json")
mkdir -p "$out"

servers=3
for backend in sqlite postgres; do
    name="$backend-$members-members"
    if [ "$backend" = sqlite ]; then
      db="$out/$name.db"
      rm -f "$db" "$db-wal" "$db-shm"
    else
      schema="ward_bench_${members}"
      psql "$pg" -q -c "SET client_min_messages = warning" -c "DROP SCHEMA IF EXISTS $schema CASCADE" -c "CREATE SCHEMA $schema"
      db="$pg?options[search_path]=$schema"
    fi
    "$ward" bench import --format json --db "$db" "${feeds[@]}" > "$out/$name-import.json"
    "$ward" bench federation --format json --db "$db" --members "$members" --servers "$servers" \
      > "$out/$name-federation.json"
    if [ "$backend" = sqlite ]; then rm -f "$db" "$db-wal" "$db-shm"; else
      psql "$pg" -q -c "SET client_min_messages = warning" -c "DROP SCHEMA $schema CASCADE"; fi
    echo "$name: done"
done
python3 - "$out" "$members" <<'PY'
import json, sys, pathlib
out, members = pathlib.Path(sys.argv[1]), sys.argv[2]
print(f"{'backend':9} {'import rec/s':>12} {'full match s':>12} {'KEV→notified ms':>16} {'1 server req/s, p99':>22} {'3 servers req/s, p99':>22}")
for backend in ("sqlite", "postgres"):
    name = f"{backend}-{members}-members"
    i = json.loads((out / f"{name}-import.json").read_text())
    f = json.loads((out / f"{name}-federation.json").read_text())
    one, all_ = f["worklist"], f["worklist_all_servers"] or {}
    print(f"{backend:9} {i['records_per_second']:>12.0f} {f['full_matching_seconds']:>12.1f} "
          f"{(f['kev'] or {}).get('latency_ms', float('nan')):>16.0f} "
          f"{one.get('requests_per_second', '-'):>12}, {one.get('p99', '-'):>8} {all_.get('requests_per_second', '-'):>12}, {all_.get('p99', '-'):>8}")
PY
