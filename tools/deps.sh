#!/bin/sh
# deps.sh [--optional] NAME...  -- make sure Zenith's build dependencies are present.
# NAME is a pkg-config module (liburing, criterion, numa, libdpdk), a header-only check
# (mimalloc, libfuzzer), nginx-stream (nginx with its stream module) or a tool (clang, valgrind, clang-format, pkg-config). Missing ones are installed
# with apt-get when we are root (or have password-less sudo); otherwise one line names the
# Debian packages and the script exits 1. With --optional, a package that cannot be had is
# reported and skipped (exit 0).
optional=0
if [ "$1" = "--optional" ]; then optional=1; shift; fi

pkg_of() {
    case "$1" in
        liburing) echo liburing-dev ;;
        criterion) echo libcriterion-dev ;;
        numa) echo libnuma-dev ;;
        libdpdk) echo libdpdk-dev ;;
        libuv) echo libuv1-dev ;;
        mimalloc) echo libmimalloc-dev ;;
        pkg-config) echo pkg-config ;;
        clang) echo clang ;;
        clang-format) echo clang-format ;;
        valgrind) echo valgrind ;;
        numactl) echo numactl ;;
        libfuzzer) echo libclang-rt-14-dev ;;
        nginx-stream) echo "nginx libnginx-mod-stream" ;;
        go) echo golang-go ;;
        node) echo nodejs ;;
        ip) echo iproute2 ;;
        wast2json) echo wabt ;;
        lld) echo lld ;;
        *) echo "$1" ;;
    esac
}

have() {
    case "$1" in
        liburing|criterion|numa|libdpdk|libuv)
            command -v pkg-config >/dev/null 2>&1 && pkg-config --exists "$1" ;;
        mimalloc) [ -f /usr/include/mimalloc.h ] ;;
        libfuzzer) [ -n "$(find /usr/lib/llvm-*/lib/clang -name 'libclang_rt.fuzzer-x86_64.a' 2>/dev/null | head -1)" ] ;;
        nginx-stream) [ -f /usr/lib/nginx/modules/ngx_stream_module.so ] && { command -v nginx || [ -x /usr/sbin/nginx ]; } >/dev/null 2>&1 ;;
        haproxy) command -v haproxy >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ] ;;
        *) command -v "$1" >/dev/null 2>&1 ;;
    esac
}

missing=""
for n in "$@"; do
    if [ "$n" != pkg-config ] && ! command -v pkg-config >/dev/null 2>&1; then
        case "$missing" in *pkg-config*) ;; *) missing="$missing pkg-config" ;; esac
    fi
    have "$n" || missing="$missing $(pkg_of "$n")"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" = 0 ]; then
    sudo=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo="sudo -n"
else
    if [ $optional = 1 ]; then
        echo "zenith: optional packages not installed, skipping what needs them:$missing"
        exit 0
    fi
    echo "zenith: missing Debian packages; install them with: sudo apt-get install -y$missing" >&2
    exit 1
fi

echo "zenith: installing Debian packages:$missing"
# $missing is a list of package names: split on purpose (SC2086 below)
export DEBIAN_FRONTEND=noninteractive
# shellcheck disable=SC2086
if ! $sudo apt-get install -y -q $missing >/tmp/zenith-apt.log 2>&1; then
    $sudo apt-get update -q >/tmp/zenith-apt.log 2>&1
    # shellcheck disable=SC2086
    if ! $sudo apt-get install -y -q $missing >>/tmp/zenith-apt.log 2>&1; then
        if [ $optional = 1 ]; then
            echo "zenith: could not install optional packages:$missing (see /tmp/zenith-apt.log); skipping"
            exit 0
        fi
        echo "zenith: could not install:$missing (see /tmp/zenith-apt.log); run: sudo apt-get install -y$missing" >&2
        exit 1
    fi
fi
exit 0
