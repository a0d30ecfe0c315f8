#!/bin/sh
# eval-smoke — `paldiff eval` as a user runs it: every golden txt2img model
# against itself scores inf everywhere; against its 8-, 4- and 2-bit
# conversions finite PSNRs, high at 8 bits, falling with the width on the
# UNet; models of other architectures, inpainting models, missing models and
# bad options give status 1 or 2 and a message.
#   eval-smoke.sh PALDIFF GOLDEN_DEFAULT
name=eval-smoke; . "$(dirname "$0")/smoke.sh"
# check DESCRIPTION AWK-CONDITION: on the table rows of $out (fields: name, MB,
# text, UNet, VAE, image, seconds)
check() {
  if printf '%s\n' "$out" | awk -v fail=1 "$2 { fail = 0 } END { exit fail }"; then ok
  else fail "$1:"; printf '%s\n' "$out"; fi
}

expect 0 "PSNR" "$paldiff" eval --help
small="-q --width 64 --height 64 --steps 2"

n=0 txt2img=""
for manifest in "$golden"/*/manifest.json; do
  dir=$(dirname "$manifest")
  grep -q '"kind": "model"' "$manifest" || continue
  arch=$(sed -n 's/.*"arch": "\([^"]*\)".*/\1/p' "$manifest" | head -1)
  n=$((n + 1))
  case $arch in
  *inpaint*)
    expect 1 "inpainting model" "$paldiff" eval $small "$dir/diffusers" "$dir/diffusers"
    continue ;;
  esac
  txt2img="$txt2img $dir/diffusers"
  for b in 8 4 2; do
    "$paldiff" convert -q --bits $b "$dir/diffusers" "$tmp/m$n-$b.safetensors" >/dev/null || fail "convert $dir at $b bits"
  done
  expect 0 "m$n-2.safetensors" "$paldiff" eval $small "$dir/diffusers" "$dir/diffusers" \
    "$tmp/m$n-8.safetensors" "$tmp/m$n-4.safetensors" "$tmp/m$n-2.safetensors"
  check "$arch against itself: inf everywhere" \
    '$1 == "diffusers" && $3 == "inf" && $4 == "inf" && $5 == "inf" && $6 == "inf"'
  check "$arch at 8 bits: finite and high (> 30 dB)" \
    '$1 == "m'$n'-8.safetensors" && $3 > 30 && $3 != "inf" && $4 > 30 && $4 != "inf" && $5 > 30 && $5 != "inf" && $6 > 30 && $6 != "inf"'
  check "$arch UNet: 8 > 4 > 2 bits" \
    '/-8.safetensors/ { u8 = $4 } /-4.safetensors/ { u4 = $4 } /-2.safetensors/ { u2 = $4 } END { if (u8 > u4 && u4 > u2) fail = 0 }'
done
[ "$n" -gt 0 ] || fail "no model manifests under $golden"

set -- $txt2img
if [ $# -ge 2 ]; then
  expect 1 "not the same model" "$paldiff" eval $small "$1" "$2"
fi
first=$1
expect 1 "no such file" "$paldiff" eval $small "$tmp/missing" "$first"
expect 1 "no such file" "$paldiff" eval $small "$first" "$tmp/missing"
expect 2 "usage" "$paldiff" eval "$first"
expect 2 "size 7" "$paldiff" eval -q --width 7 "$first" "$first"
expect 2 "steps 0" "$paldiff" eval -q --steps 0 "$first" "$first"
expect 2 "timestep 1000" "$paldiff" eval -q --timestep 1000 "$first" "$first"
expect 2 "guidance" "$paldiff" eval -q --guidance nan "$first" "$first"

echo "eval-smoke: $passed passed, $failed failed"
[ "$failed" = 0 ]
