#!/bin/bash
# tools/numa-qemu/run.sh -- run one Linux x86_64 test binary inside a throw-away QEMU guest
# that has two NUMA nodes (1 CPU + 512 MiB each, distance 10/20), and exit with its status.
#
#   tools/numa-qemu/run.sh [--timeout SECONDS] [--with FILE]... [--node-mem MIB]
#                          [--accel kvm|tcg] [--keep] [--] BINARY [ARGS...]
#
# The guest is an initramfs (busybox-static + BINARY + the shared libraries ldd lists, plus
# every --with FILE and its libraries), booted with a Debian kernel; nothing else from the
# host is visible inside. Guest console output is streamed to stdout; the exit status is
# BINARY's (parsed from a "ZENITH-QEMU-EXIT <status>" line), 124 on timeout, 1 if the guest
# died without reporting, 77 if a needed Debian package is missing and cannot be installed.
#
# KVM is used when /dev/kvm can really boot a guest (probed once, cached), else TCG.
# --node-mem sets MiB per node (default 512); --keep leaves the staging dir for inspection.
#
# Environment: ZENITH_QEMU_CACHE (default <repo>/build-qemu), ZENITH_QEMU_KERNEL (use this
# bzImage instead of downloading one), ZENITH_QEMU_KERNEL_META (Debian meta package whose
# kernel is fetched, default linux-image-cloud-amd64; linux-image-amd64 also works).
# Debugging: ZENITH_QEMU_CPU (-cpu model), ZENITH_QEMU_APPEND (more kernel command line),
# ZENITH_QEMU_EXTRA (more qemu arguments, split on blanks).
set -eu -o pipefail

prog=numa-qemu
say() { printf '%s: %s\n' "$prog" "$*" >&2; }
die() { say "error: $*"; exit 1; }
usage() { sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//' >&2; exit "${1:-2}"; }

here=$(cd "$(dirname "$0")" && pwd)
cache=${ZENITH_QEMU_CACHE:-$(cd "$here/../.." && pwd)/build-qemu}
timeout_s=120
node_mem=512
accel=""
keep=0
withs=()

while [ $# -gt 0 ]; do
    case "$1" in
        --timeout) [ $# -ge 2 ] || usage; timeout_s=$2; shift 2 ;;
        --timeout=*) timeout_s=${1#*=}; shift ;;
        --with) [ $# -ge 2 ] || usage; withs+=("$2"); shift 2 ;;
        --with=*) withs+=("${1#*=}"); shift ;;
        --node-mem) [ $# -ge 2 ] || usage; node_mem=$2; shift 2 ;;
        --node-mem=*) node_mem=${1#*=}; shift ;;
        --accel) [ $# -ge 2 ] || usage; accel=$2; shift 2 ;;
        --accel=*) accel=${1#*=}; shift ;;
        --keep) keep=1; shift ;;
        -h|--help) usage 0 ;;
        --) shift; break ;;
        -*) say "unknown option $1"; usage ;;
        *) break ;;
    esac
done
[ $# -ge 1 ] || usage
case "$timeout_s" in ''|*[!0-9]*|0) die "--timeout wants whole seconds, got '$timeout_s'" ;; esac
case "$node_mem" in ''|*[!0-9]*|0) die "--node-mem wants MiB per node, got '$node_mem'" ;; esac
case "$accel" in ''|kvm|tcg) ;; *) die "--accel must be kvm or tcg" ;; esac

# ---------------------------------------------------------------- host packages / downloads
if [ "$(id -u)" = 0 ]; then sudo=(); elif sudo -n true 2>/dev/null; then sudo=(sudo -n); else sudo=(none); fi
apt_updated=0
apt_update_once() {   # refresh package lists once, if we may; returns 1 if we may not
    [ "$apt_updated" = 0 ] || return 0
    [ "${sudo[0]:-}" != none ] || return 1
    apt_updated=1
    say "apt-get update"
    "${sudo[@]}" apt-get update -qq >&2
}
# apt-get download PKG into the current directory (no root needed; root -> no _apt sandbox).
apt_download() {
    local opts=(-q)
    [ "$(id -u)" = 0 ] && opts+=(-o APT::Sandbox::User=root)
    apt-get "${opts[@]}" download "$1" >&2 && return 0
    apt_update_once && apt-get "${opts[@]}" download "$1" >&2
}

mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9    # serialise installs/downloads between concurrent runs

if ! command -v qemu-system-x86_64 >/dev/null 2>&1; then
    if [ "${sudo[0]:-}" = none ]; then
        echo "$prog: missing Debian package: qemu-system-x86 (apt-get install --no-install-recommends qemu-system-x86)" >&2
        exit 77
    fi
    say "installing qemu-system-x86"
    inst=("${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends qemu-system-x86)
    "${inst[@]}" > "$cache/apt-install.log" 2>&1 ||
        { apt_update_once && "${inst[@]}" > "$cache/apt-install.log" 2>&1; } ||
        { tail -n 20 "$cache/apt-install.log" >&2; die "apt-get install qemu-system-x86 failed"; }
fi

# busybox: the host's if it is the static one, else busybox-static's binary fetched into the
# cache (avoids replacing a host 'busybox' package, which conflicts with busybox-static).
busybox=""
if dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q 'ok installed' &&
   [ -x /bin/busybox ]; then
    busybox=/bin/busybox
elif [ -x "$cache/busybox/busybox" ]; then
    busybox=$cache/busybox/busybox
else
    say "fetching busybox-static into $cache/busybox"
    rm -rf "$cache/busybox.tmp"; mkdir -p "$cache/busybox.tmp"
    (cd "$cache/busybox.tmp" && apt_download busybox-static) || {
        echo "$prog: cannot fetch Debian package busybox-static (apt-get download busybox-static; run apt-get update?)" >&2
        exit 77; }
    dpkg-deb --fsys-tarfile "$cache"/busybox.tmp/busybox-static_*.deb |
        tar -x -C "$cache/busybox.tmp" ./bin/busybox
    mkdir -p "$cache/busybox"
    mv "$cache/busybox.tmp/bin/busybox" "$cache/busybox/busybox"
    rm -rf "$cache/busybox.tmp"
    busybox=$cache/busybox/busybox
fi

# kernel: vmlinuz only, taken out of the Debian package (the modules are not needed: the
# initramfs has no drivers to load; serial, ACPI/SRAT NUMA, devtmpfs are built in).
if [ -n "${ZENITH_QEMU_KERNEL:-}" ]; then
    kernel=$ZENITH_QEMU_KERNEL
    kname=$kernel
    [ -r "$kernel" ] || die "ZENITH_QEMU_KERNEL=$kernel is not readable"
elif [ -r "$cache/kernel/vmlinuz" ]; then
    kernel=$cache/kernel/vmlinuz
    kname=$(cat "$cache/kernel/PACKAGE" 2>/dev/null || echo "$kernel")
else
    meta=${ZENITH_QEMU_KERNEL_META:-linux-image-cloud-amd64}
    kpkg_of() { apt-cache depends "$meta" 2>/dev/null | awk '$1 == "Depends:" && $2 ~ /^linux-image-/ { print $2; exit }' || true; }
    kpkg=$(kpkg_of)
    if [ -z "$kpkg" ] && apt_update_once; then kpkg=$(kpkg_of); fi
    if [ -z "$kpkg" ]; then
        echo "$prog: cannot resolve Debian package $meta to a kernel package (run apt-get update?)" >&2
        exit 77
    fi
    say "fetching $kpkg into $cache/kernel"
    rm -rf "$cache/kernel.tmp"; mkdir -p "$cache/kernel.tmp"
    (cd "$cache/kernel.tmp" && apt_download "$kpkg") || {
        echo "$prog: cannot fetch Debian package $kpkg (apt-get download $kpkg)" >&2; exit 77; }
    dpkg-deb --fsys-tarfile "$cache"/kernel.tmp/"$kpkg"_*.deb | tar -x -C "$cache/kernel.tmp" ./boot
    mkdir -p "$cache/kernel"
    mv "$cache"/kernel.tmp/boot/config-* "$cache/kernel/config"
    echo "$kpkg" > "$cache/kernel/PACKAGE"
    mv "$cache"/kernel.tmp/boot/vmlinuz-* "$cache/kernel/vmlinuz"
    rm -rf "$cache/kernel.tmp"
    kernel=$cache/kernel/vmlinuz
    kname=$kpkg
fi
exec 9>&-

# ---------------------------------------------------------------- initramfs
stage=$(mktemp -d "$cache/run.XXXXXX")
# shellcheck disable=SC2317  # invoked via trap
cleanup() {
    set +e
    local f pid
    for f in "$stage"/*.pid; do   # a qemu of ours still running (we were interrupted)?
        pid=$(cat "$f" 2>/dev/null) || continue
        case "$(cat "/proc/$pid/comm" 2>/dev/null)" in qemu-system-*) kill "$pid" 2>/dev/null ;; esac
    done
    wait 2>/dev/null   # for the qemu | sed | tee pipeline, if one is running
    if [ "$keep" = 1 ]; then say "kept $stage"; else rm -rf "$stage"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
root=$stage/root
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,run,etc}
cp "$busybox" "$root/bin/busybox"
libdirs=""

is_elf() { [ "$(head -c 4 "$1" 2>/dev/null | od -An -c | tr -d ' ')" = '177ELF' ]; }
is_x86_64_elf() {   # ELFCLASS64 and e_machine 0x3e (little endian)
    is_elf "$1" && [ "$(od -An -tx1 -j4 -N1 "$1" | tr -d ' ')" = 02 ] &&
        [ "$(od -An -tx1 -j18 -N2 "$1" | tr -d ' ')" = 3e00 ]
}
abspath() { case "$1" in /*) printf '%s\n' "$1" ;; *) printf '%s/%s\n' "$PWD" "$1" ;; esac; }
# put host file $1 at the same absolute path inside the guest (symlinks dereferenced)
stage_file() {
    local dst=$root$1
    [ -e "$dst" ] && return 0
    mkdir -p "$(dirname "$dst")"
    cp -L --preserve=mode "$1" "$dst"
}
# stage an ELF file and everything ldd says it needs (incl. the dynamic loader)
stage_with_libs() {
    local f=$1 lib out
    stage_file "$f"
    is_elf "$f" || return 0
    is_x86_64_elf "$f" || { say "warning: $f is not an x86_64 ELF file"; return 0; }
    out=$(ldd "$f" 2>&1) || true    # static binaries: "not a dynamic executable", status 1
    if grep -q '=> not found' <<<"$out"; then
        die "$f: ldd cannot resolve: $(grep '=> not found' <<<"$out" | awk '{print $1}' | tr '\n' ' ')"
    fi
    while read -r lib; do
        [ -n "$lib" ] || continue
        stage_file "$lib"
        case ":$libdirs:" in *":$(dirname "$lib"):"*) ;; *) libdirs=${libdirs:+$libdirs:}$(dirname "$lib") ;; esac
    done < <(awk '$2 == "=>" && $3 ~ /^\// { print $3; next } $1 ~ /^\// { print $1 }' <<<"$out")
}

bin=$1; shift
case "$bin" in */*) ;; *) bin=$(command -v "$bin") || die "$bin: not found in PATH" ;; esac
if [ ! -f "$bin" ] || [ ! -x "$bin" ]; then die "$bin: not an executable file"; fi
bin=$(abspath "$bin")
is_x86_64_elf "$bin" || die "$bin: not an x86_64 ELF executable"
stage_with_libs "$bin"
for w in "${withs[@]+"${withs[@]}"}"; do
    [ -e "$w" ] || die "--with $w: no such file"
    w=$(abspath "$w")
    if [ -d "$w" ]; then
        while IFS= read -r -d '' f; do stage_with_libs "$f"; done < <(find "$w" -type f -print0)
    else
        stage_with_libs "$w"
    fi
done

q() { printf "'%s'" "${1//\'/\'\\\'\'}"; }   # single-quote for the guest shell
cmd=$(q "$bin")
for a in "$@"; do cmd="$cmd $(q "$a")"; done
cat > "$root/init" <<EOF
#!/bin/busybox sh
/bin/busybox mount -t devtmpfs devtmpfs /dev
exec 0</dev/console 1>/dev/console 2>&1
/bin/busybox --install -s
export PATH=/bin:/sbin:/usr/bin:/usr/sbin HOME=/ ZENITH_QEMU=1
${libdirs:+export LD_LIBRARY_PATH=$(q "$libdirs")}
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mkdir -p /dev/shm /dev/pts && mount -t tmpfs -o mode=1777 tmpfs /dev/shm && mount -t devpts devpts /dev/pts
ip link set lo up
cd $(q "$PWD") 2>/dev/null || cd /
echo "$prog: guest up: nodes \$(cat /sys/devices/system/node/online), cpus \$(nproc), kernel \$(uname -r)"
$cmd </dev/null
st=\$?
echo "ZENITH-QEMU-EXIT \$st"
poweroff -f
EOF
chmod 755 "$root/init"
# minimal /etc so that localhost resolves and uid 0 has a name
printf '127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n' > "$root/etc/hosts"
printf 'passwd: files\ngroup: files\nhosts: files dns\n' > "$root/etc/nsswitch.conf"
printf 'root:x:0:0:root:/:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' > "$root/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' > "$root/etc/group"
(cd "$root" && find . -mindepth 1 | "$busybox" cpio -o -H newc -R 0:0 2>/dev/null) | gzip -1 > "$stage/initrd.gz"

# ---------------------------------------------------------------- boot
read -r -a extra <<<"${ZENITH_QEMU_EXTRA:-}"   # debugging knob: extra qemu arguments
# qboot (from qemu-system-data) boots -kernel faster than SeaBIOS and prints no escape codes.
bios=()
[ -r /usr/share/qemu/qboot.rom ] && bios=(-bios /usr/share/qemu/qboot.rom)

# boot_qemu ACCEL INITRD TIMEOUT LOG STREAM(0|1) -> sets qrc (qemu/timeout status)
boot_qemu() {
    local cpu
    if [ "$1" = kvm ]; then cpu=host; else cpu=max; fi
    cpu=${ZENITH_QEMU_CPU:-$cpu}
    local qemu=(qemu-system-x86_64 -accel "$1" -cpu "$cpu" -m "$((2 * node_mem))M" -smp 2
        -object "memory-backend-ram,size=${node_mem}M,id=m0" -object "memory-backend-ram,size=${node_mem}M,id=m1"
        -numa "node,nodeid=0,cpus=0,memdev=m0" -numa "node,nodeid=1,cpus=1,memdev=m1"
        -numa "dist,src=0,dst=1,val=20"
        -nographic -no-reboot -net none "${bios[@]+"${bios[@]}"}" "${extra[@]+"${extra[@]}"}"
        -pidfile "$4.pid" -kernel "$kernel" -initrd "$2"
        -append "console=ttyS0 quiet panic=-1${ZENITH_QEMU_APPEND:+ $ZENITH_QEMU_APPEND}")
    # stdin from /dev/null: qemu then leaves the terminal alone. Run in the background and
    # wait, so that our INT/TERM traps fire at once (cleanup then stops qemu via its pidfile).
    if [ "$5" = 1 ]; then
        { set +e; timeout --foreground -k 5 "$3" "${qemu[@]}" </dev/null; echo $? > "$4.rc"; } |
            sed -u 's/\r$//' | tee "$4" &
    else
        { set +e; timeout --foreground -k 5 "$3" "${qemu[@]}" </dev/null 2>&1; echo $? > "$4.rc"; } |
            sed 's/\r$//' > "$4" &
    fi
    wait $! || true
    qrc=$(cat "$4.rc" 2>/dev/null || echo 1)
}
exit_marker() { LC_ALL=C awk '/^ZENITH-QEMU-EXIT [0-9]+$/ { s = $2 } END { print s }' "$1"; }

# /dev/kvm being there is not enough: nested KVM without VMX (e.g. the "kvm_pvm" module of
# PVM-based sandboxes) cannot run a stock kernel and just spins. So boot a trivial guest once
# under KVM and cache the verdict per host kernel / qemu / guest kernel.
kvm_works() {
    local key verdict probe=$cache/kvm-probe
    key="$(uname -r) | $(qemu-system-x86_64 --version | sed -n 1p) | $(stat -c '%s %Y' "$kernel")"
    if [ -r "$probe" ] && [ "$(head -n 1 "$probe")" = "$key" ]; then
        verdict=$(sed -n 2p "$probe")
    else
        say "probing whether KVM can boot a guest here (once; up to 15s)"
        local pr=$stage/probe
        mkdir -p "$pr"/{bin,dev}
        cp "$busybox" "$pr/bin/busybox"
        printf '%s\n' '#!/bin/busybox sh' '/bin/busybox mount -t devtmpfs devtmpfs /dev' \
            'echo ZENITH-QEMU-EXIT 0 >/dev/console' '/bin/busybox poweroff -f' > "$pr/init"
        chmod 755 "$pr/init"
        (cd "$pr" && find . -mindepth 1 | "$busybox" cpio -o -H newc -R 0:0 2>/dev/null) | gzip -1 > "$stage/probe.gz"
        boot_qemu kvm "$stage/probe.gz" 15 "$stage/probe.log" 0
        if [ "$(exit_marker "$stage/probe.log")" = 0 ]; then verdict=kvm; else verdict=no; fi
        printf '%s\n%s\n' "$key" "$verdict" > "$probe.$$" && mv -f "$probe.$$" "$probe"
    fi
    [ "$verdict" = kvm ]
}

if [ -z "$accel" ]; then
    if ! [ -c /dev/kvm ] || ! [ -r /dev/kvm ] || ! [ -w /dev/kvm ]; then
        accel=tcg; why="no usable /dev/kvm"
    elif kvm_works; then
        accel=kvm; why="/dev/kvm works"
    else
        accel=tcg; why="/dev/kvm present but a KVM guest does not boot here"
        [ -d /sys/module/kvm_pvm ] && why="$why (host KVM is kvm_pvm, no VMX)"
    fi
else
    why="--accel $accel"
fi
say "booting $kname with accel=$accel ($why)," \
    "initrd $(($(stat -c %s "$stage/initrd.gz") / 1024)) KiB, timeout ${timeout_s}s"

log=$stage/console.log
start=$(date +%s.%N)
boot_qemu "$accel" "$stage/initrd.gz" "$timeout_s" "$log" 1
secs=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')

st=$(exit_marker "$log")
if [ -n "$st" ]; then
    say "$(basename "$bin") exited with status $st ($accel, ${secs}s in qemu)"
    exit "$st"
elif [ "$qrc" = 124 ] || [ "$qrc" = 137 ]; then
    say "timed out after ${timeout_s}s ($accel)"
    exit 124
else
    say "guest ended without an exit marker (qemu status $qrc, ${secs}s)"
    exit 1
fi
