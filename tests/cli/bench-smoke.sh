#!/bin/sh
# bench-smoke — `paldiff bench forms` on a golden model at a tiny size: it
# prints the F32, F16 and palettized columns and exits 0 (a smoke test, not
# a timing: speed targets live in the benchmark itself); bad options give 2.
#   bench-smoke.sh PALDIFF GOLDEN_DEFAULT
name=bench-smoke; . "$(dirname "$0")/smoke.sh"
export PALDIFF_CACHE="$tmp/cache"

expect 0 "forms" "$paldiff" bench --help

n=0
for manifest in "$golden"/*/manifest.json; do
  dir=$(dirname "$manifest")
  grep -q '"kind": "model"' "$manifest" || continue
  # the model's F16 single file: the "path" of the source whose dtype is F16
  f16=$(awk -F'"' '/"path":/ { p = $4 } /"dtype": "F16"/ { print p; exit }' "$manifest")
  [ -n "$f16" ] || continue
  n=$((n + 1))
  for bits in 6 2; do
    expect 0 "F32 *F16 *$bits-bit" "$paldiff" bench forms --f32 "$dir/diffusers" --f16 "$dir/$f16" \
      --config "$dir/diffusers" --bits $bits --size 16x16 --repeat 1
    for row in "UNet weights, MB" "UNet step, s" "decode, G weights/s: ref"; do
      if printf '%s\n' "$out" | grep -q "$row"; then ok; else fail "bits $bits: no row '$row'"; fi
    done
  done
  break
done
[ "$n" -gt 0 ] || fail "no golden model with an F16 source under $golden"

expect 2 "both --f32 and --f16" "$paldiff" bench forms --f32 "$dir/diffusers"
expect 2 "usage" "$paldiff" bench forms --bits 7
[ ! -e "$PALDIFF_CACHE" ] || fail "bench forms with --f32 wrote into the cache"

echo "$name: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
