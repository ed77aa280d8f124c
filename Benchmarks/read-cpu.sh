#!/usr/bin/env bash
# CPU per request of the read paths (session list, search) of two server builds, paired in one
# run: each round starts each build in turn on the same database (the order alternates) and
# measures it with read-cpu.py from its own process.
#
#   OLD=/tmp/parley-old NEW=.build/release/parley \
#   DATABASE_URL=postgres://postgres@127.0.0.1:55433/parley_search PGDATA=/tmp/limits/pgdata \
#   Benchmarks/read-cpu.sh
#
# The database holds the search bench's brokerage, kept there by
# `PARLEY_TEST_DATABASE_URL=… parley-bench --search` (1,000,000 messages; agent-1 is a member of
# 2,000 of its 20,000 sessions). ROUNDS (2), N requests per path (100), PORT (18080), COSTS
# (default: PostgreSQL's default planner costs; cluster: the cluster's own).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
: "${OLD:?the old build}" "${NEW:?the new build}" "${DATABASE_URL:?}" "${PGDATA:?the cluster of DATABASE_URL}"
rounds=${ROUNDS:-2} n=${N:-100} port=${PORT:-18080}
# The servers run at PostgreSQL's default planner costs unless COSTS=cluster: the comparison
# kit's cluster has random_page_cost 1.1, and a generic plan that is right there was a sequential
# scan at the default 4, which the embedded cluster and most installations run with (decision
# 0038, the name check). Set on the database for the run, reset at the end.
costs=${COSTS:-default} token=
database=$(psql "$DATABASE_URL" -XAtc "SELECT quote_ident(current_database())")
reset_costs() {
    [ "$costs" = default ] || return 0
    psql "$DATABASE_URL" -Xq -c "ALTER DATABASE $database RESET random_page_cost" -c "ALTER DATABASE $database RESET effective_cache_size"
}
trap 'rm -f "$token"; reset_costs' EXIT
if [ "$costs" = default ]; then
    psql "$DATABASE_URL" -Xq -c "ALTER DATABASE $database SET random_page_cost = 4" -c "ALTER DATABASE $database SET effective_cache_size = '4GB'"
fi
slug=$(psql "$DATABASE_URL" -XAtc "SELECT slug FROM parley.tenants WHERE slug LIKE 'search%' ORDER BY created_at DESC LIMIT 1")
[ -n "$slug" ] || { echo "no search bench brokerage in $DATABASE_URL" >&2; exit 1; }
token=$(mktemp)
DATABASE_URL=$DATABASE_URL "$NEW" token --tenant "$slug" --sub agent-1 --role agent --name "Agent 1" > "$token"
paths=("/v1/sessions?limit=50" "/v1/search?q=zanzibar" "/v1/search?q=house" "/v1/search?q=mar"
       "/v1/search?q=house%20garden" "/v1/search?q=%22house%20garden%22" "/v1/search?q=harbor")
for round in $(seq 1 "$rounds"); do
    order=(OLD NEW)
    [ $((round % 2)) -eq 0 ] && order=(NEW OLD)
    for side in "${order[@]}"; do
        # Another server on the port would answer /ready and be measured in this one's place.
        if curl -s -o /dev/null "http://127.0.0.1:$port/health"; then echo "port $port is taken" >&2; exit 1; fi
        DATABASE_URL=$DATABASE_URL "${!side}" serve --host 127.0.0.1 --port "$port" > /dev/null 2>&1 &
        pid=$!
        for _ in $(seq 1 50); do curl -sf "http://127.0.0.1:$port/ready" > /dev/null && break; sleep 0.2; done
        kill -0 "$pid" 2> /dev/null || { echo "$side did not start" >&2; exit 1; }
        echo "round $round, $side (${!side}):"
        python3 "$here/read-cpu.py" "$port" "$pid" "$PGDATA" "$token" "$n" "${paths[@]}"
        kill "$pid"
        wait "$pid" 2>/dev/null || true
    done
done
