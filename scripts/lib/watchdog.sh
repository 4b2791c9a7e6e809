# A watchdog for the test runs: a step that prints nothing for too long is taken as hung. Before it is killed,
# every thread's stack of every process under it is printed (gdb), so a hang seen once — in CI, say — says where it
# hung instead of ending as a CI timeout with no clue.
#
#   watched SILENCE_SECONDS LABEL CMD...   runs CMD in its own process group; its output goes to stdout as usual
#                                          and is copied to a file whose growth is the sign of life. Returns CMD's
#                                          status, or 124 after a hang (stacks printed, the group killed).
#                                          WATCHED_COPY=PATH keeps a copy of its output there.
# KAFKA_WORKER_TEST_SILENCE overrides every step's limit (seconds).

# descendants PID: PID and every process under it.
descendants() {
    local pid=$1 child
    echo "$pid"
    for child in $(cat /proc/"$pid"/task/*/children 2>/dev/null); do descendants "$child"; done
}

# dump_stacks PID...: every thread's stack of each process (gdb if present; the kernel's view otherwise).
dump_stacks() {
    local pid
    for pid in "$@"; do
        [ -d "/proc/$pid" ] || continue
        echo "---- stacks of $pid: $(tr '\0' ' ' </proc/"$pid"/cmdline 2>/dev/null | cut -c1-200)"
        if command -v gdb >/dev/null; then
            timeout 120 gdb -p "$pid" -batch -nx -ex "set pagination off" -ex "thread apply all bt 40" 2>/dev/null \
                | grep -E '^(Thread|#)' | cut -c1-240
        else
            for task in /proc/"$pid"/task/*; do
                echo "thread ${task##*/}: $(cat "$task/comm" 2>/dev/null) $(cat "$task/wchan" 2>/dev/null)"
            done
        fi
    done
}

watched() {
    local limit=${KAFKA_WORKER_TEST_SILENCE:-$1} label=$2
    shift 2
    local out
    out=$(mktemp "${TMPDIR:-/tmp}/kafka-worker-watched.XXXXXX")
    # set -m gives the background job its own process group, so the kill reaches everything it started.
    set -m
    "$@" > >(tee -a "$out") 2>&1 &
    local pid=$!
    set +m
    local size=0 last_change=$SECONDS now_size hung=0
    while kill -0 "$pid" 2>/dev/null; do
        sleep 5
        now_size=$(stat -c %s "$out" 2>/dev/null || echo 0)
        if [ "$now_size" != "$size" ]; then
            size=$now_size
            last_change=$SECONDS
        elif [ $((SECONDS - last_change)) -ge "$limit" ]; then
            hung=1
            break
        fi
    done
    if [ "$hung" = 1 ]; then
        echo "error: $label printed nothing for ${limit} s; taken as hung. Stacks of its processes:" >&2
        # shellcheck disable=SC2046
        dump_stacks $(descendants "$pid") >&2
        kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
        rm -f "$out"
        return 124
    fi
    local rc=0
    wait "$pid" || rc=$?
    if [ -n "${WATCHED_COPY:-}" ]; then cp "$out" "$WATCHED_COPY"; fi
    rm -f "$out"
    return "$rc"
}
