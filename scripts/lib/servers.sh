# Private PostgreSQL and Redis servers for the tests: 127.0.0.1 only, free ports, a temporary directory,
# stopped by PID (start_test_servers installs an EXIT trap). Exports:
#   KAFKA_WORKER_TEST_POSTGRES_URL  postgres://…@127.0.0.1:PORT/postgres?sslmode=disable
#   KAFKA_WORKER_TEST_POSTGRES_CTL  a command taking stop|start|restart (for the restart tests)
#   KAFKA_WORKER_TEST_REDIS_URL     redis://:password@127.0.0.1:PORT
# The passwords are random per run.

# free_port: a TCP port on 127.0.0.1 that nothing listens on, below the kernel's ephemeral range (a port
# there may be the local end of some outgoing connection, which makes a listener's bind fail).
free_port() {
    local port low=32768 span
    read -r low _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || true
    span=$((low - 10000))
    [ "$span" -ge 1000 ] || span=20000
    for _ in $(seq 1 200); do
        port=$((10000 + RANDOM % span))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "$port"
            return 0
        fi
    done
    echo "error: no free port found on 127.0.0.1" >&2
    return 1
}

# as_server_user CMD...: PostgreSQL refuses to run as root; as root, run it as the `postgres` user.
as_server_user() {
    if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

random_secret() { head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n'; }

# wait_for_port PORT SECONDS NAME [PID]: fails at once if PID (the server) exits before it listens.
wait_for_port() {
    local deadline=$((SECONDS + $2))
    until (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; do
        if [ -n "${4:-}" ] && ! kill -0 "$4" 2>/dev/null; then
            echo "error: $3 exited before listening on 127.0.0.1:$1" >&2
            return 1
        fi
        if [ $SECONDS -ge $deadline ]; then
            echo "error: $3 did not listen on 127.0.0.1:$1 within $2 s" >&2
            return 1
        fi
        sleep 0.1
    done
    # Something else may answer on the port while the server itself failed to bind.
    if [ -n "${4:-}" ]; then
        sleep 0.2
        kill -0 "$4" 2>/dev/null || { echo "error: $3 exited; 127.0.0.1:$1 belongs to another process" >&2; return 1; }
    fi
}

stop_test_servers() {
    local pid
    if [ -n "${TEST_SERVERS_DIR:-}" ]; then
        if [ -f "$TEST_SERVERS_DIR/pg/postmaster.pid" ]; then
            pid=$(head -1 "$TEST_SERVERS_DIR/pg/postmaster.pid")
            # SIGINT: PostgreSQL's fast shutdown.
            [ -n "$pid" ] && kill -INT "$pid" 2>/dev/null && wait_for_exit "$pid"
        fi
        if [ -n "${TEST_REDIS_PID:-}" ]; then
            kill -TERM "$TEST_REDIS_PID" 2>/dev/null && wait_for_exit "$TEST_REDIS_PID"
        fi
        rm -rf "$TEST_SERVERS_DIR"
    fi
}

wait_for_exit() {
    for _ in $(seq 1 100); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done
    kill -KILL "$1" 2>/dev/null || true
}

# write_pgctl PG_BIN PORT: the stop|start|restart helper for the tests' PostgreSQL on PORT.
write_pgctl() {
    local pg_bin=$1 pg_port=$2
    cat >"$TEST_SERVERS_DIR/pgctl" <<CTL
#!/usr/bin/env bash
# stop|start|restart the tests' PostgreSQL (fast shutdown; waits until it accepts connections again).
set -euo pipefail
run() { if [ "\$(id -u)" -eq 0 ]; then runuser -u postgres -- "\$@"; else "\$@"; fi; }
# The server must not inherit the caller's pipes (a test reading our output would wait for it forever).
for fd in \$(ls /proc/\$\$/fd 2>/dev/null); do
    if [ "\$fd" -gt 2 ]; then eval "exec \$fd>&-" 2>/dev/null || true; fi
done
exec </dev/null
case "\$1" in
    stop|start|restart)
        run "$pg_bin/pg_ctl" -D "$TEST_SERVERS_DIR/pg" -m fast -w -t 30 -l "$TEST_SERVERS_DIR/pgrun/postgres.log" \
            -o "-c listen_addresses=127.0.0.1 -c port=$pg_port -c unix_socket_directories=$TEST_SERVERS_DIR/pgrun -c max_connections=200" \
            "\$1" >/dev/null 2>&1 || { tail -5 "$TEST_SERVERS_DIR/pgrun/postgres.log" >&2; exit 1; } ;;
    *) echo "usage: \$0 stop|start|restart" >&2; exit 2 ;;
esac
CTL
    chmod 755 "$TEST_SERVERS_DIR/pgctl"
}

start_test_servers() {
    local pg_bin pg_port redis_port pg_password redis_password
    pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
    if [ -z "$pg_bin" ]; then pg_bin=$(dirname "$(command -v initdb 2>/dev/null || echo /nonexistent/initdb)"); fi
    [ -x "$pg_bin/initdb" ] || { echo "error: PostgreSQL's initdb was not found" >&2; return 1; }
    command -v redis-server >/dev/null || { echo "error: redis-server was not found" >&2; return 1; }

    TEST_SERVERS_DIR=$(mktemp -d "${TMPDIR:-/tmp}/kafka-worker-servers.XXXXXX")
    chmod 755 "$TEST_SERVERS_DIR"
    trap stop_test_servers EXIT
    pg_password=$(random_secret)
    redis_password=$(random_secret)

    # PostgreSQL: password auth over TCP on 127.0.0.1, unix socket inside the temporary directory.
    mkdir -p "$TEST_SERVERS_DIR/pg" "$TEST_SERVERS_DIR/pgrun"
    printf '%s\n' "$pg_password" >"$TEST_SERVERS_DIR/pgpass"
    if [ "$(id -u)" -eq 0 ]; then chown -R postgres "$TEST_SERVERS_DIR/pg" "$TEST_SERVERS_DIR/pgrun" "$TEST_SERVERS_DIR/pgpass"; fi
    as_server_user "$pg_bin/initdb" -D "$TEST_SERVERS_DIR/pg" -U kafka_worker --pwfile="$TEST_SERVERS_DIR/pgpass" \
        --auth-host=scram-sha-256 --auth-local=trust -E UTF8 >"$TEST_SERVERS_DIR/initdb.log" 2>&1 \
        || { cat "$TEST_SERVERS_DIR/initdb.log" >&2; return 1; }
    rm -f "$TEST_SERVERS_DIR/pgpass"
    # A port can be taken between the check and the server's bind: try a few.
    local attempt
    for attempt in 1 2 3; do
        pg_port=$(free_port)
        write_pgctl "$pg_bin" "$pg_port"
        if "$TEST_SERVERS_DIR/pgctl" start && wait_for_port "$pg_port" 30 PostgreSQL; then break; fi
        [ "$attempt" -lt 3 ] || { tail -20 "$TEST_SERVERS_DIR/pgrun/postgres.log" >&2; return 1; }
        "$TEST_SERVERS_DIR/pgctl" stop >/dev/null 2>&1 || true
        echo "==> PostgreSQL did not start on port $pg_port; trying another port" >&2
    done

    # Redis: no persistence, a password, 127.0.0.1 only.
    for attempt in 1 2 3; do
        redis_port=$(free_port)
        redis-server --bind 127.0.0.1 --port "$redis_port" --requirepass "$redis_password" --save '' --appendonly no \
            --dir "$TEST_SERVERS_DIR" --logfile "$TEST_SERVERS_DIR/redis.log" &
        TEST_REDIS_PID=$!
        if wait_for_port "$redis_port" 30 Redis "$TEST_REDIS_PID"; then break; fi
        kill -TERM "$TEST_REDIS_PID" 2>/dev/null && wait_for_exit "$TEST_REDIS_PID"
        TEST_REDIS_PID=
        [ "$attempt" -lt 3 ] || { tail -20 "$TEST_SERVERS_DIR/redis.log" >&2; return 1; }
        echo "==> Redis did not start on port $redis_port; trying another port" >&2
    done

    export KAFKA_WORKER_TEST_POSTGRES_URL="postgres://kafka_worker:$pg_password@127.0.0.1:$pg_port/postgres?sslmode=disable"
    export KAFKA_WORKER_TEST_POSTGRES_CTL="$TEST_SERVERS_DIR/pgctl"
    export KAFKA_WORKER_TEST_REDIS_URL="redis://:$redis_password@127.0.0.1:$redis_port"
    echo "==> PostgreSQL on 127.0.0.1:$pg_port, Redis on 127.0.0.1:$redis_port (temporary, in $TEST_SERVERS_DIR)"
}
