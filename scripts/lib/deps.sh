# Shared by ./scripts/demo and ./scripts/test: install what is missing, then check the toolchain.
# Debian/Ubuntu: apt-get (as root, or through sudo). macOS: prints the Homebrew command.

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# ensure_debian_packages PKG...: installs the packages that are not installed yet.
ensure_debian_packages() {
    local missing=()
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "==> installing ${missing[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# ensure_dependencies PKG...: Debian package names; the macOS equivalents are printed when absent.
ensure_dependencies() {
    case "$(uname -s)" in
        Linux)
            if command -v apt-get >/dev/null 2>&1; then
                ensure_debian_packages "$@"
            else
                echo "error: no apt-get here; install these packages with your package manager: $*" >&2
                exit 1
            fi
            ;;
        Darwin)
            if ! pkg-config --exists rdkafka 2>/dev/null; then
                echo "error: librdkafka is missing. Install it with: brew install librdkafka kcat pkg-config" >&2
                echo "       (for the tests also: brew install postgresql@15 redis)" >&2
                exit 1
            fi
            ;;
    esac
    if ! command -v swift >/dev/null 2>&1; then
        echo "error: the Swift toolchain (6.1 or newer) is not on PATH; install it from swift.org and retry" >&2
        exit 1
    fi
}
