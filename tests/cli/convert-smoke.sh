#!/bin/sh
# convert-smoke — `paldiff convert` as a user runs it: every golden model
# (its diffusers folder, and its single files with --config/--tokenizer) is
# converted, inspected as palettized, and `paldiff generate` on the result
# writes an image; a mixed-bit recipe converts and generates too; bad options
# and sources give status 2 or 1 and a message.
#   convert-smoke.sh PALDIFF GOLDEN_DEFAULT
name=convert-smoke; . "$(dirname "$0")/smoke.sh"

expect 0 "convert" "$paldiff" --help
expect 0 "granularity" "$paldiff" convert --help
expect 0 "recipe" "$paldiff" convert --help

n=0
for manifest in "$golden"/*/manifest.json; do
  dir=$(dirname "$manifest")
  grep -q '"kind": "model"' "$manifest" || continue
  arch=$(sed -n 's/.*"arch": "\([^"]*\)".*/\1/p' "$manifest" | head -1)
  n=$((n + 1))
  dst="$tmp/m$n.safetensors"
  expect 0 "wrote $dst" "$paldiff" convert -q --bits 4 "$dir/diffusers" "$dst"
  expect 0 "layout: *palettized" "$paldiff" inspect "$dst"
  expect 0 "arch: *$arch " "$paldiff" inspect "$dst"
  expect 0 "embedding: \[1, 77, " "$paldiff" encode-prompt "$dst" "a red fox"
  case $arch in
  *inpaint*) # inpaints only: an init image and a mask of its own
    expect 1 "inpainting model" "$paldiff" generate -q "$dst" -p "a red fox" --steps 2 \
      --width 64 --height 64 --seed 1 -o "$tmp/m$n.png" ;;
  *)
    expect 0 "wrote $tmp/m$n.png" "$paldiff" generate -q "$dst" -p "a red fox" --steps 2 \
      --width 64 --height 64 --seed 1 -o "$tmp/m$n.png"
    if [ -s "$tmp/m$n.png" ]; then ok; else fail "$tmp/m$n.png missing"; fi ;;
  esac
  for single in "$dir"/*.safetensors; do
    [ -f "$single" ] || continue
    dst="$tmp/s$n.safetensors"
    expect 0 "2-bit per-group" "$paldiff" convert -q --bits 2 --granularity group --group-size 8 \
      --config "$dir/diffusers" --tokenizer "$dir/diffusers/tokenizer" "$single" "$dst"
    # the tokenizer and configs travel inside: no options needed any more
    expect 0 "embedding: \[1, 77, " "$paldiff" encode-prompt "$dst" "a red fox"
    rm -f "$dst"
  done
done
[ "$n" -gt 0 ] || fail "no model manifests under $golden"

first=$(dirname "$(grep -l '"kind": "model"' "$golden"/*/manifest.json | head -1)")/diffusers
expect 1 "bits 7" "$paldiff" convert --bits 7 "$first" "$tmp/x.safetensors"
expect 1 "do not divide" "$paldiff" convert --granularity group --group-size 3 "$first" "$tmp/x.safetensors"
expect 2 "expected tensor or group" "$paldiff" convert --granularity row "$first" "$tmp/x.safetensors"
expect 2 "expected kmeans or uniform" "$paldiff" convert --mode median "$first" "$tmp/x.safetensors"
expect 2 "usage" "$paldiff" convert "$first"
expect 1 "no such file" "$paldiff" convert "$tmp/missing" "$tmp/x.safetensors"
expect 1 "is the source" "$paldiff" convert "$tmp/m1.safetensors" "$tmp/m1.safetensors"
if [ ! -e "$tmp/x.safetensors" ]; then ok; else fail "a refused conversion left $tmp/x.safetensors"; fi
# mixed-bit recipes: a txt2img model's UNet analysed, per tensor and per
# group; an inpainting model's refused (eval cannot measure it); bad specs
txt= inpaint=
for manifest in $(grep -l '"kind": "model"' "$golden"/*/manifest.json); do
  if grep -q '"arch": "[a-z0-9]*-inpaint"' "$manifest"; then inpaint=${inpaint:-$(dirname "$manifest")/diffusers}
  else txt=${txt:-$(dirname "$manifest")/diffusers}; fi
done
expect 0 "mixed-bit recipe: " "$paldiff" convert -q --recipe mixed:3.5 "$txt" "$tmp/mixed.safetensors"
expect 0 "wrote $tmp/mixed.png" "$paldiff" generate -q "$tmp/mixed.safetensors" -p "a red fox" --steps 2 \
  --width 64 --height 64 --seed 1 -o "$tmp/mixed.png"
expect 0 "mixed 4.00-bit per-group" "$paldiff" convert -q --recipe mixed:4 --recipe-every-width \
  --granularity group --group-size 8 "$txt" "$tmp/mixed-g.safetensors"
[ -z "$inpaint" ] || expect 1 "inpainting model" "$paldiff" convert -q --recipe mixed:4 "$inpaint" "$tmp/x.safetensors"
expect 2 "expected mixed:BITS" "$paldiff" convert --recipe mixed "$txt" "$tmp/x.safetensors"
expect 1 "target 1.5" "$paldiff" convert --recipe mixed:1.5 "$txt" "$tmp/x.safetensors"
expect 1 "analysis size 12" "$paldiff" convert --recipe mixed:4 --recipe-size 12 "$txt" "$tmp/x.safetensors"
if [ ! -e "$tmp/x.safetensors" ]; then ok; else fail "a refused recipe left $tmp/x.safetensors"; fi

# a palettized file converts again (to another width)
expect 0 "3-bit" "$paldiff" convert -q --bits 3 "$tmp/m1.safetensors" "$tmp/again.safetensors"

echo "convert-smoke: $passed passed, $failed failed"
[ "$failed" = 0 ]
