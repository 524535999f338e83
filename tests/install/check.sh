#!/usr/bin/env bash
# make install into a scratch DESTDIR, then build a program against the
# installed files with pkg-config alone: once against libpaxcommit.so (and
# run it with the installed library), once against libpaxcommit.a.  Also
# checks the files a package would ship and the shared library's soname.
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
tmp=$(mktemp -d /tmp/paxcommit-install.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
dest=$tmp/root
prefix=/opt/paxcommit
fail() { printf 'test-install: %s\n' "$*" >&2; exit 1; }

make -s install BUILD="$BUILD" DESTDIR="$dest" PREFIX="$prefix" >"$tmp/install.log" 2>&1 ||
	{ cat "$tmp/install.log" >&2; fail "make install failed"; }
for f in share/man/man1/paxcommit.1 bin/paxcommit sbin/paxcommit-coordinator sbin/paxcommit-participant lib/libpaxcommit.so.0 \
	lib/libpaxcommit.so lib/libpaxcommit.a include/paxcommit.h lib/pkgconfig/paxcommit.pc \
	share/paxcommit/sql/participant.sql share/paxcommit/cluster.conf.example; do
	[[ -e $dest$prefix/$f ]] || fail "$prefix/$f was not installed"
done
# Man pages: installed, rendered without troff warnings, and paxcommit.conf(5)
# names every key the config reader knows.
for m in man1/paxcommit.1 man5/paxcommit.conf.5 man8/paxcommit-coordinator.8 man8/paxcommit-participant.8; do
	f=$dest$prefix/share/man/$m
	[[ -s $f ]] || fail "$prefix/share/man/$m was not installed"
	out=$(MANWIDTH=80 man --warnings -l "$f" 2>&1 >/dev/null || true)
	[[ -z $out ]] || fail "man $m: $out"
done
grep -q -e 'log\\-file' "$dest$prefix/share/man/man8/paxcommit-coordinator.8" || fail "paxcommit-coordinator(8) is not made from its --help"
keys=$(sed -n '/^static const char \*const \(cluster\|coord\|part\)_keys/,/};/p' common/px_config.c | grep -o '"[a-z_]*"' | tr -d '"' | sort -u)
[[ $(wc -w <<<"$keys") -ge 15 ]] || fail "could not read the config keys from common/px_config.c"
for k in $keys; do
	grep -Eq "^\.BR? (.* )?$k( |,|\$)" etc/paxcommit.conf.5 || fail "paxcommit.conf(5) has no entry for the key '$k'"
done
[[ -x $dest$prefix/sbin/paxcommit-coordinator ]] || fail "paxcommit-coordinator is not executable"
[[ $(readlink "$dest$prefix/lib/libpaxcommit.so") == libpaxcommit.so.0 ]] || fail "libpaxcommit.so does not point at libpaxcommit.so.0"
soname=$(objdump -p "$dest$prefix/lib/libpaxcommit.so.0" | awk '$1 == "SONAME" { print $2 }')
[[ $soname == libpaxcommit.so.0 ]] || fail "soname is '$soname', want libpaxcommit.so.0"
if objdump -T "$dest$prefix/lib/libpaxcommit.so.0" | awk '$2 == "g" && $4 == ".text" { print $NF }' | grep -v '^pc_' | grep -q .; then
	fail "libpaxcommit.so exports symbols outside pc_*"
fi

export PKG_CONFIG_PATH=$dest$prefix/lib/pkgconfig PKG_CONFIG_SYSROOT_DIR=$dest
pkg-config --exists paxcommit || fail "pkg-config does not find paxcommit"
[[ $(pkg-config --modversion paxcommit) =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || fail "no version in paxcommit.pc"
cflags=$(pkg-config --cflags paxcommit)
[[ $cflags == *"$dest$prefix/include"* ]] || fail "cflags '$cflags' do not name the installed include dir"

# Shared: compiled with the installed header only (no -I into the tree).
cc -std=c11 -Wall -Werror -o "$tmp/example" tests/unit/so_smoke.c $(pkg-config --cflags --libs paxcommit) ||
	fail "an example does not build with pkg-config --cflags --libs paxcommit"
LD_LIBRARY_PATH=$dest$prefix/lib "$tmp/example" >"$tmp/run.log" 2>&1 || { cat "$tmp/run.log" >&2; fail "the example does not run"; }
ldd_out=$(LD_LIBRARY_PATH=$dest$prefix/lib ldd "$tmp/example")
[[ $ldd_out == *"$dest$prefix/lib/libpaxcommit.so.0"* ]] || fail "the example did not load the installed libpaxcommit.so.0"
# Static: libpaxcommit.a plus its private dependencies.
cc -std=c11 -Wall -Werror -o "$tmp/example-static" tests/unit/so_smoke.c $(pkg-config --cflags paxcommit) \
	"$dest$prefix/lib/libpaxcommit.a" $(pkg-config --libs-only-l --static paxcommit | sed 's/-lpaxcommit//') ||
	fail "an example does not link against libpaxcommit.a"
"$tmp/example-static" >/dev/null || fail "the static example does not run"
ldd "$tmp/example-static" | grep -q libpaxcommit && fail "the static example still needs libpaxcommit.so"
"$dest$prefix/sbin/paxcommit-coordinator" --help >/dev/null || fail "the installed coordinator does not run"
# The systemd units name the installed daemons, and are valid units.
for u in paxcommit-coordinator@.service paxcommit-participant@.service; do
	f=$dest$prefix/lib/systemd/system/$u
	[[ -f $f ]] || fail "$u was not installed"
	grep -q "^ExecStart=$prefix/sbin/paxcommit-" "$f" || fail "$u does not start the installed daemon"
	grep -q '^Type=notify$' "$f" || fail "$u is not Type=notify"
	grep -q '@[A-Z]*@' "$f" && fail "$u keeps an unsubstituted @NAME@"
	if command -v systemd-analyze >/dev/null 2>&1; then
		# verify wants the binary at ExecStart's path: check a copy that names the DESTDIR one
		v=$tmp/${u/@/@1}
		sed "s|$prefix/sbin/|$dest$prefix/sbin/|" "$f" >"$v"
		out=$(SYSTEMD_LOG_LEVEL=warning systemd-analyze verify --man=no "$v" 2>&1 || true)
		[[ -z $out ]] || fail "systemd-analyze verify $u: $out"
	fi
done
printf 'test-install: installed into DESTDIR under %s; an example built with pkg-config, shared (%s) and static, runs\n' \
	"$prefix" "$soname"
