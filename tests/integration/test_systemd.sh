#!/usr/bin/env bash
# test_systemd.sh - the systemd units pass `systemd-analyze verify` and
# rate an exposure of at most 2.0 in `systemd-analyze security`.
#
#   test_systemd.sh TEST_UNIT_DIR UNIT_DIR MAN_SRC_DIR
#
# TEST_UNIT_DIR holds brandmond.service and brandmond@.service generated
# with ExecStart= pointing at the built brandmond (verify checks that the
# binary exists); UNIT_DIR the units as they are installed; MAN_SRC_DIR the
# source man pages, which verify looks up for Documentation=man:... .
# No running systemd is needed: verify loads the units in a private test
# manager, and security --offline=true reads the files alone.
# Exits 77 (skipped) when systemd-analyze is not installed.
set -uo pipefail

test_units=$1
units=$2
man_src=$3
max_exposure=20 # systemd-analyze's scale is 0-100: 20 is "2.0"

if ! command -v systemd-analyze >/dev/null 2>&1; then
    echo "SKIP: systemd-analyze is not installed (Debian package systemd)"
    exit 77
fi

passed=0
failed=0
ok() {
    echo "PASS $1"
    passed=$((passed + 1))
}
fail() {
    echo "FAIL $1"
    failed=$((failed + 1))
}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# verify runs `man` for each Documentation=man: entry: give it the pages.
mkdir -p "$work/man/man8" "$work/man/man5"
cp "$man_src/brandmond.8" "$work/man/man8/"
cp "$man_src/brandmond-rules.5" "$work/man/man5/"
# The units are copied so that verify sees them beside nothing else.
cp "$test_units/brandmond.service" "$test_units/brandmond@.service" "$work/"

# The directives the daemon and the docs rely on, in both units (literal
# text: $MAINPID is systemd's, not the shell's).
# shellcheck disable=SC2016
for unit in brandmond.service brandmond@.service; do
    f=$work/$unit
    missing=""
    for want in 'Type=notify' 'NotifyAccess=main' 'WatchdogSec=30s' \
        'ExecReload=/bin/kill -HUP $MAINPID' 'Restart=on-failure' \
        'RestartSec=2s' 'TimeoutStopSec=15s' 'DynamicUser=yes' \
        'ProtectSystem=strict' 'CapabilityBoundingSet=' \
        'RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX' \
        'SystemCallFilter=@system-service' \
        'SystemCallFilter=~@privileged @resources' 'UMask=0077' \
        'LoadCredential=x_token' 'LoadCredential=mastodon_token' \
        'LoadCredential=redis'; do
        grep -qF -- "$want" "$f" || missing="$missing [$want]"
    done
    if grep -q '@[A-Z_]*@' "$f"; then
        missing="$missing [an unreplaced @PLACEHOLDER@]"
    fi
    if [ -z "$missing" ]; then
        ok "$unit has the expected directives"
    else
        fail "$unit lacks:$missing"
    fi
done
if grep -qx 'StateDirectory=brandmond' "$work/brandmond.service" &&
    grep -q '^ExecStart=.*/brandmond -c .*/brandmon/brandmond.yaml$' \
        "$work/brandmond.service"; then
    ok "brandmond.service: state directory and config path"
else
    fail "brandmond.service: StateDirectory=brandmond or ExecStart= differs"
fi
if grep -qx 'StateDirectory=brandmond/%i' "$work/brandmond@.service" &&
    grep -q '^ExecStart=.*/brandmond -c .*/brandmon/%i.yaml$' \
        "$work/brandmond@.service"; then
    ok "brandmond@.service: per-instance state directory and config"
else
    fail "brandmond@.service: StateDirectory=brandmond/%i or ExecStart= differs"
fi

# systemd-analyze verify exits non-zero on errors (a missing binary, a bad
# value) but only warns about unknown keys: any message about our units
# fails the test too. Messages about other units (the host's) are shown.
# brandmond@test.service is the template instantiated, so %i is expanded.
for unit in brandmond.service brandmond@.service brandmond@test.service; do
    out=$(cd "$work" && MANPATH="$work/man" systemd-analyze verify \
        "./$unit" 2>&1)
    rc=$?
    ours=$(printf '%s\n' "$out" | grep -i 'brandmond' || true)
    if [ "$rc" -eq 0 ] && [ -z "$ours" ]; then
        ok "systemd-analyze verify $unit"
    else
        printf '%s\n' "$out"
        fail "systemd-analyze verify $unit (exit $rc)"
    fi
done

# systemd-analyze security: --threshold=N makes it exit non-zero when the
# overall exposure is over N (on its 0-100 scale); the "Overall exposure
# level" line is checked as well, so the figure is shown in the log.
for dir_unit in "$work:brandmond.service" "$work:brandmond@test.service" \
    "$units:brandmond.service" "$units:brandmond@test.service"; do
    dir=${dir_unit%%:*}
    unit=${dir_unit#*:}
    out=$(cd "$dir" && systemd-analyze security --offline=true \
        --threshold="$max_exposure" "./$unit" 2>&1)
    rc=$?
    line=$(printf '%s\n' "$out" | grep 'Overall exposure level' || true)
    level=$(printf '%s\n' "$line" | sed -n 's/.*: \([0-9][0-9]*\.[0-9]\).*/\1/p')
    # 2.0 -> 20, compared as whole numbers.
    tenths=$(printf '%s\n' "$level" | tr -d '.')
    if [ "$rc" -eq 0 ] && [ -n "$tenths" ] &&
        [ "$((10#$tenths))" -le "$max_exposure" ]; then
        ok "systemd-analyze security $dir/$unit: exposure $level"
    else
        printf '%s\n' "$out"
        fail "systemd-analyze security $dir/$unit: exposure '${level:-?}' (exit $rc), at most 2.0 wanted"
    fi
done

# The check must be able to fail: a unit that grants everything is over
# the threshold, and a unit whose binary is missing does not verify.
mkdir -p "$work/bad"
sed -e '/^DynamicUser=/d' -e '/^Protect/d' -e '/^Private/d' \
    -e '/^SystemCall/d' -e '/^CapabilityBoundingSet=/d' \
    -e '/^Restrict/d' -e '/^NoNewPrivileges=/d' \
    "$work/brandmond.service" >"$work/bad/brandmond.service"
if (cd "$work/bad" && systemd-analyze security --offline=true \
    --threshold="$max_exposure" ./brandmond.service >/dev/null 2>&1); then
    fail "an unhardened unit passed the exposure threshold"
else
    ok "an unhardened unit is over the exposure threshold"
fi
sed 's#^ExecStart=[^ ]*#ExecStart=/nonexistent/brandmond#' \
    "$work/brandmond.service" >"$work/bad/brandmond.service"
if (cd "$work/bad" && MANPATH="$work/man" systemd-analyze verify \
    ./brandmond.service >/dev/null 2>&1); then
    fail "a unit with a missing binary verified"
else
    ok "a unit with a missing binary does not verify"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
