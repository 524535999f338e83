#!/usr/bin/env bash
# tests/model/run.sh - check the SPIN model of the protocol (paxcommit.pml).
#
# For each variant: spin generates the verifier (pan.c) in a temporary
# directory, gcc builds it, pan searches the state space (depth first,
# stopping at the first error), and the directory is removed.  One line per
# variant: states stored, depth reached, seconds of search, verdict (gcc -O1:
# -O2 takes four times as long to compile pan.c, longer than it saves).  The correct
# model's variants must report `errors: 0` with the search complete; each
# bug variant must report a violated assertion.  Exit status 1 otherwise.
#
#   MODEL_ONLY=NAME   run the variants whose name contains NAME
#   MODEL_TRAILS=DIR  keep each counterexample there (spin -t -p output)
#   MODEL_MEMLIM=MB   memory bound of one search (default 8000)
#
# Needs spin and gcc only.  One search runs at a time.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
memlim=${MODEL_MEMLIM:-8000}
command -v spin >/dev/null || { echo "model: spin is not installed (apt-get install spin)" >&2; exit 1; }
command -v gcc >/dev/null || { echo "model: gcc is not installed" >&2; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/paxcommit-model.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# name | spin -D options | expected: ok (no error, search complete),
# bounded:SECONDS (no error within that time; not exhaustive) or error.
# The correct model is checked as exhaustive sub-models (README.md says
# which behaviours each one leaves out) and, bounded, as a whole.
variants=(
	"correct-paxos-crash|-DXA_ONLY -DNO_L2 -DNO_AGENTS -DNO_HORIZON|ok"
	"correct-plain-crash|-DPLAIN_ONLY -DNO_L2 -DFOCUS -DNO_HORIZON|ok"
	"correct-gc-xa|-DXA_ONLY -DNO_CRASH -DNO_L2 -DFOCUS|ok"
	"correct-gc-plain|-DPLAIN_ONLY -DNO_CRASH -DNO_L2 -DFOCUS|ok"
	"correct-recovery-gc|-DXA_ONLY -DNO_CRASH -DNO_L2 -DNO_AGENTS|ok"
	"correct-full|${MODEL_FULL_DEFS:-}|bounded:${MODEL_FULL_SECONDS:-45}"
	"bug-presumed|-DBUG_PRESUMED -DXA_ONLY -DNO_CRASH -DNO_L2 -DFOCUS|error"
	"bug-quorum|-DBUG_QUORUM|error"
	"code-revive|-DCODE_REVIVE -DXA_ONLY -DNO_CRASH -DNO_L2 -DNO_AGENTS|error"
)

pass=0
fail=0
printf '%-26s %12s %7s %8s  %s\n' variant states depth seconds verdict
for v in "${variants[@]}"; do
	IFS='|' read -r name defs expect <<<"$v"
	if [ -n "${MODEL_ONLY:-}" ] && [[ $name != *"$MODEL_ONLY"* ]]; then
		continue
	fi
	d="$tmp/$name"
	mkdir -p "$d"
	cp "$here/paxcommit.pml" "$d/"
	verdict=""
	# shellcheck disable=SC2086 # $defs is a list of options
	if ! (cd "$d" && spin -a $defs paxcommit.pml >spin.log 2>&1); then
		verdict="FAIL (spin: $(head -n 1 "$d/spin.log"))"
	elif ! (cd "$d" && gcc -O1 -w -DSAFETY -DNOFAIR -DMEMLIM="$memlim" -o pan pan.c >cc.log 2>&1); then
		verdict="FAIL (gcc: $(head -n 1 "$d/cc.log"))"
	else
		start=$(date +%s.%N)
		limit=()
		[[ $expect == bounded:* ]] && limit=(timeout -s INT "${expect#bounded:}")
		(cd "$d" && "${limit[@]}" ./pan -m2000000 -c1 >pan.log 2>&1) || true
		end=$(date +%s.%N)
	fi
	states=- depth=- secs=-
	if [ -z "$verdict" ]; then
		log="$d/pan.log"
		states=$(awk '/states, stored/ {print $1; exit}' "$log")
		depth=$(sed -n 's/.*depth reached \([0-9]*\).*/\1/p' "$log" | head -n 1)
		errors=$(sed -n 's/.*errors: \([0-9]*\).*/\1/p' "$log" | head -n 1)
		secs=$(awk -v a="$start" -v b="$end" 'BEGIN {printf "%.1f", b - a}')
		incomplete=0
		grep -q -e 'Search not completed' -e 'max search depth too small' -e 'reached -DMEMLIM bound' "$log" &&
			incomplete=1
		if [[ $expect == bounded:* ]]; then
			if [ "${errors:-x}" = 0 ] && ! grep -q 'max search depth too small' "$log"; then
				if grep -q Interrupted "$log"; then
					verdict="ok: errors: 0 within ${expect#bounded:} s (not exhaustive)"
				else
					verdict="ok: errors: 0, exhaustive"
				fi
			else
				verdict="FAIL: $(grep -m 1 -o 'assertion violated.\{0,60\}' "$log" || echo "errors: ${errors:-?}")"
			fi
		elif [ "$expect" = ok ]; then
			if [ "${errors:-x}" = 0 ] && [ $incomplete = 0 ]; then
				verdict="ok: errors: 0, exhaustive"
			elif [ "${errors:-x}" = 0 ]; then
				verdict="FAIL: search incomplete (memory or depth bound)"
			else
				verdict="FAIL: $(grep -m 1 -o 'assertion violated.\{0,60\}' "$log" || echo "errors: $errors")"
			fi
		else
			if [ "${errors:-0}" -ge 1 ] && grep -q -e 'assertion violated' -e 'acceptance cycle' "$log"; then
				verdict="ok: counterexample found, as expected"
				if [ -n "${MODEL_TRAILS:-}" ]; then
					mkdir -p "$MODEL_TRAILS"
					# shellcheck disable=SC2086
					(cd "$d" && spin -t -p -g $defs paxcommit.pml >"$MODEL_TRAILS/$name.txt" 2>&1) || true
				fi
			else
				verdict="FAIL: no counterexample (errors: ${errors:-?})"
			fi
		fi
	fi
	case $verdict in
	ok*) pass=$((pass + 1)) ;;
	*) fail=$((fail + 1)) ;;
	esac
	printf '%-26s %12s %7s %8s  %s\n' "$name" "$states" "$depth" "$secs" "$verdict"
	rm -rf "$d"
done
echo "model: $pass passed, $fail failed"
[ "$fail" = 0 ]
