# smoke.sh — the start every tests/cli script on the golden models shares.
# Sourced with the script's own arguments (PALDIFF GOLDEN_DEFAULT) after
# setting $name:
#     name=eval-smoke; . "$(dirname "$0")/smoke.sh"
# Sets $paldiff, $golden (the script exits 77, skipped, where there is no
# golden folder), $tmp (removed on exit), and ok / fail / expect, which
# count into $passed and $failed.
set -u
paldiff=$1
golden=${PALDIFF_GOLDEN:-$2}
[ -d "$golden" ] || { echo "$name: skipped, no golden folder at $golden"; exit 77; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
passed=0 failed=0
ok()   { passed=$((passed + 1)); }
fail() { failed=$((failed + 1)); echo "FAIL: $*"; }

# expect STATUS PATTERN CMD...: the exit status and a pattern in stdout+stderr
expect() {   # sets $out
  want=$1 pattern=$2; shift 2
  out=$("$@" 2>&1); got=$?
  if [ "$got" = "$want" ] && printf '%s\n' "$out" | grep -q -- "$pattern"; then ok
  else fail "$* -> status $got (want $want), output lacks '$pattern':"; printf '%s\n' "$out" | head -5; fi
}
