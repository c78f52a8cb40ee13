#!/bin/sh
# run-tests.sh LABEL BIN... [LABEL BIN...] -- runs Criterion suites, prints their reports and one
# closing line "zenith: N passed, N failed, N skipped". LABEL is plain, asan, tsan or valgrind
# (it picks the sanitizer options; valgrind runs each suite under memcheck, which fails a test
# that leaks or touches memory wrongly), optionally with @io_uring or @epoll: the suites that
# follow run with ZENITH_BACKEND set to that backend (the reactor suites run once on each; one
# suite body, two runs). Exit status 1 if any test failed or any suite did not run to the end.
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
export ASAN_OPTIONS="abort_on_error=0:detect_leaks=1:strict_string_checks=1"
export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1"
here=$(cd "$(dirname "$0")" && pwd)
export LSAN_OPTIONS="suppressions=$here/lsan.supp:print_suppressions=0"
passed=0 failed=0 skipped=0 broken=""
label=plain
tap=$(mktemp)
trap 'rm -f "$tap"' EXIT
for arg in "$@"; do
    case "$arg" in
        plain|asan|tsan|valgrind) label=$arg; unset ZENITH_BACKEND; continue ;;
        plain@*|asan@*|tsan@*|valgrind@*)
            label=$arg
            ZENITH_BACKEND=${arg#*@}
            export ZENITH_BACKEND
            continue ;;
    esac
    name="$label/$(basename "$arg")"
    echo "== $name"
    rm -f "$tap"
    run=""
    # numactl is not ours: its own leaks are not our failures
    case $label in valgrind*) run="valgrind -q --trace-children=yes --trace-children-skip=*/numactl --leak-check=full --errors-for-leak-kinds=definite,indirect --error-exitcode=9" ;; esac
    # shellcheck disable=SC2086 # $run is a command and its options
    # valgrind 3.19 does not know epoll_pwait2 (441): the epoll backend falls back to epoll_wait
    $run "$arg" --tap="$tap" --short-filename 2>&1 | grep -v 'unhandled amd64-linux syscall: 441' | sed -n '/^\[----\]\|^\[FAIL\]\|^\[SKIP\]\|Synthesis\|WARNING\|ERROR\|runtime error\|^==[0-9]*==/p'
    if [ ! -s "$tap" ]; then
        echo "$name: produced no report"
        failed=$((failed + 1)); broken="$broken $name"; continue
    fi
    p=$(grep -c '^ok .*# SKIP' "$tap")
    s=$p
    p=$(grep '^ok ' "$tap" | grep -vc '# SKIP')
    f=$(grep -c '^not ok ' "$tap")
    planned=$(sed -n 's/^1\.\.\([0-9]*\)$/\1/p' "$tap" | head -1)
    ran=$((p + f + s))
    if [ -n "$planned" ] && [ "$ran" -lt "$planned" ]; then
        echo "$name: only $ran of $planned tests reported"
        f=$((f + planned - ran)); broken="$broken $name"
    fi
    if [ -n "$planned" ] && [ "$ran" -gt "$planned" ]; then
        echo "$name: $ran results for $planned tests (a report written twice)"
        f=$((f + 1)); broken="$broken $name"
    fi
    passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
    grep '^ok .*# SKIP' "$tap" | sed "s|^ok - |  skipped $label/|"
    grep '^not ok ' "$tap" | sed "s|^not ok - |  FAILED $label/|"
done
[ -n "$broken" ] && echo "suites that did not finish:$broken"
echo "zenith: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
