#!/usr/bin/env bash
# test_install.sh - `cmake --install` of this build puts every file where
# it belongs, and the installed man pages render without warnings.
#
#   test_install.sh BUILD_DIR VERSION SBINDIR SYSCONFDIR DATADIR MANDIR \
#                   DOCDIR UNITDIR SOURCE_DIR
#
# The *DIR arguments are the build's GNUInstallDirs values (relative to
# the prefix, or absolute). The install goes to a temporary DESTDIR with a
# --prefix of its own, so nothing is written outside the temporary folder
# even where a destination is absolute, and a destination that ignores the
# prefix shows up as a file outside it.
set -uo pipefail

build=$1
version=$2
sbindir=$3
sysconfdir=$4
datadir=$5
mandir=$6
docdir=$7
unitdir=$8
src=$9

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
dest=$work/dest
prefix=/opt/brandmon-install-test

# Where a GNUInstallDirs value lands under DESTDIR.
place() {
    case "$1" in
    /*) printf '%s%s' "$dest" "$1" ;;
    *) printf '%s%s/%s' "$dest" "$prefix" "$1" ;;
    esac
}

if DESTDIR=$dest cmake --install "$build" --prefix "$prefix" \
    >"$work/install.log" 2>&1; then
    ok "cmake --install --prefix $prefix (DESTDIR=$dest)"
else
    cat "$work/install.log"
    fail "cmake --install failed"
    echo "$passed passed, $failed failed"
    exit 1
fi

sbin=$(place "$sbindir")
etc=$(place "$sysconfdir")/brandmon
data=$(place "$datadir")/brandmon
man=$(place "$mandir")
doc=$(place "$docdir")
units=$(place "$unitdir")

expected=(
    "$sbin/brandmond"
    "$units/brandmond.service"
    "$units/brandmond@.service"
    "$etc/brandmond.yaml.example"
    "$data/intents.yaml"
    "$data/sentiment-lexicon.yaml"
    "$man/man8/brandmond.8"
    "$man/man5/brandmond-rules.5"
    "$doc/README.md"
)
for f in "$src"/rules/examples/*.yaml; do
    expected+=("$data/examples/$(basename "$f")")
done
for f in "$src"/docs/*.md; do
    expected+=("$doc/$(basename "$f")")
done
missing=""
for f in "${expected[@]}"; do
    [ -f "$f" ] || missing="$missing ${f#"$dest"}"
done
if [ -z "$missing" ]; then
    ok "all ${#expected[@]} expected files are installed"
else
    fail "not installed:$missing"
fi

# With every destination relative, nothing may land outside the prefix.
all_relative=1
for d in "$sbindir" "$sysconfdir" "$datadir" "$mandir" "$docdir" "$unitdir"; do
    case "$d" in /*) all_relative=0 ;; esac
done
if [ "$all_relative" -eq 1 ]; then
    outside=$(cd "$dest" && find . -type f ! -path ".$prefix/*")
    if [ -z "$outside" ]; then
        ok "every file is under the prefix"
    else
        fail "installed outside the prefix: $outside"
    fi
fi

if [ -x "$sbin/brandmond" ] &&
    [ "$("$sbin/brandmond" --version 2>&1)" = "brandmond $version" ]; then
    ok "the installed brandmond runs (brandmond $version)"
else
    fail "the installed brandmond does not run or is not version $version"
fi

# The installed units are the generated ones: no placeholder left, the
# daemon started from SBINDIR with the config in SYSCONFDIR/brandmon.
bad_units=""
for u in brandmond.service brandmond@.service; do
    f=$units/$u
    [ -f "$f" ] || continue
    if grep -q '@[A-Z_]*@' "$f" ||
        ! grep -q '^ExecStart=/.*/brandmond -c /.*/brandmon/.*\.yaml$' "$f"; then
        bad_units="$bad_units $u"
    fi
done
if [ -z "$bad_units" ]; then
    ok "installed units are configured (ExecStart=, no @PLACEHOLDER@)"
else
    fail "installed units not configured:$bad_units"
fi

# The example config loads with the real loader: pointed at the installed
# example packs and data, with the secrets and the spool moved to the
# temporary folder (the check reads the Redis password, and opens the
# spool, as the daemon would).
if [ -f "$etc/brandmond.yaml.example" ]; then
    mkdir -p "$work/cred"
    printf 'not-a-real-secret\n' >"$work/cred/redis"
    sed -e "s#^  - /etc/brandmon/rules\$#  - $data/examples#" \
        -e "s#/run/credentials/brandmond.service/#$work/cred/#" \
        -e "s#^  spool: .*#  spool: $work/spool#" \
        "$etc/brandmond.yaml.example" >"$work/brandmond.yaml"
    printf 'data_dir: %s\n' "$data" >>"$work/brandmond.yaml"
    if out=$("$sbin/brandmond" -c "$work/brandmond.yaml" --check 2>&1); then
        ok "the example config checks: $out"
    else
        printf '%s\n' "$out"
        fail "brandmond -c brandmond.yaml.example --check"
    fi
fi

# Man pages: the .TH line names the page and its section; then the first
# renderer found must print no warning.
for page in "$man/man8/brandmond.8" "$man/man5/brandmond-rules.5"; do
    [ -f "$page" ] || continue
    name=$(basename "$page")
    section=${name##*.}
    title=$(printf '%s' "${name%.*}" | tr '[:lower:]' '[:upper:]')
    th=$(grep -m1 '^\.TH ' "$page")
    # .TH BRANDMOND\-RULES 5 ...: compare with the escape removed.
    th_title=$(printf '%s\n' "$th" | awk '{print $2}' | sed 's/\\-/-/g')
    th_section=$(printf '%s\n' "$th" | awk '{print $3}')
    if [ "$th_title" = "$title" ] && [ "$th_section" = "$section" ]; then
        ok "$name: .TH $th_title $th_section"
    else
        fail "$name: .TH line '$th' does not name $title $section"
    fi
    if command -v mandoc >/dev/null 2>&1; then
        tool="mandoc -T lint"
        out=$(mandoc -T lint -W warning "$page" 2>&1)
    elif command -v groff >/dev/null 2>&1; then
        tool="groff -man -ww"
        out=$(groff -man -Tutf8 -ww -z "$page" 2>&1)
    elif command -v man >/dev/null 2>&1; then
        tool="man -l"
        out=$(MANWIDTH=80 man -l "$page" 2>&1 >/dev/null)
    else
        echo "note: no mandoc, groff or man: $name only checked for .TH"
        continue
    fi
    if [ -z "$out" ]; then
        ok "$name renders without warnings ($tool)"
    else
        printf '%s\n' "$out"
        fail "$name: $tool warns"
    fi
    # Pages are plain ASCII (roff escapes for anything else).
    if LC_ALL=C grep -q '[^[:print:][:space:]]' "$page"; then
        fail "$name has non-ASCII bytes"
    else
        ok "$name is ASCII"
    fi
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
