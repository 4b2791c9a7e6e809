# The chaos short tier of ./scripts/test: `kafka-worker chaos` with 20,000 orders, 3 worker processes, PostgreSQL,
# 60 s of faults about every 4 s (kills, zombies, graceful restarts, broker down, request errors, coordinator and
# leader moves, RTT spikes, a PostgreSQL restart: each kind at least once), then the checker. Needs the test
# servers (start_test_servers). The seed is fixed so a landing is reproducible; KAFKA_WORKER_CHAOS_SEED picks
# another (every failure prints the command that replays it).

CHAOS_SEED_DEFAULT=11

# run_chaos_tier LABEL [ARGS...]: one run; ARGS go to `kafka-worker chaos` (e.g. --bootstrap-servers for Tansu).
run_chaos_tier() {
    local label=$1
    shift
    local seed=${KAFKA_WORKER_CHAOS_SEED:-$CHAOS_SEED_DEFAULT}
    # The URL (with its password) travels in the environment, never on a command line.
    local args=(--records 20000 --workers 3 --duration 60s --fault-interval 4s --seed "$seed" --postgres-url-from-environment
        --postgres-restart-command "$KAFKA_WORKER_TEST_POSTGRES_CTL restart" --log-level critical "$@")
    echo "==> chaos short tier ($label, seed $seed)"
    local started=$SECONDS
    # The harness prints its progress every few seconds: five silent minutes mean it hangs (see watchdog.sh).
    if ! KAFKA_WORKER_CHAOS_POSTGRES_URL="$KAFKA_WORKER_TEST_POSTGRES_URL" watched 300 "chaos ($label)" .build/debug/kafka-worker chaos "${args[@]}"; then
        echo "error: chaos short tier ($label) failed; replay with:" \
            "${LD_LIBRARY_PATH:+LD_LIBRARY_PATH=$LD_LIBRARY_PATH }KAFKA_WORKER_CHAOS_POSTGRES_URL=… kafka-worker chaos ${args[*]}" >&2
        return 1
    fi
    echo "==> chaos short tier ($label): $((SECONDS - started)) s"
}

# start_tansu: a private Tansu broker (memory storage) on 127.0.0.1; exports TANSU_BOOTSTRAP and stops it on exit.
start_tansu() {
    local port attempt
    for attempt in 1 2 3; do
        port=$(free_port)
        "$TANSU_BIN" broker --listener-url "tcp://127.0.0.1:$port" --advertised-listener-url "tcp://127.0.0.1:$port" \
            --storage-engine memory://tansu/ >"${TEST_SERVERS_DIR:-/tmp}/tansu.log" 2>&1 &
        TANSU_PID=$!
        if wait_for_port "$port" 30 Tansu "$TANSU_PID"; then
            export TANSU_BOOTSTRAP="127.0.0.1:$port"
            return 0
        fi
        kill -TERM "$TANSU_PID" 2>/dev/null && wait_for_exit "$TANSU_PID"
        TANSU_PID=
    done
    echo "error: Tansu did not start" >&2
    return 1
}

stop_tansu() {
    if [ -n "${TANSU_PID:-}" ]; then
        kill -TERM "$TANSU_PID" 2>/dev/null && wait_for_exit "$TANSU_PID"
        TANSU_PID=
    fi
}
