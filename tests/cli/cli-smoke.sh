#!/bin/sh
# cli-smoke — the paldiff command as a user runs it: every golden model is
# inspected and encodes a prompt; bad input gives exit status 1 and a message.
#   cli-smoke.sh PALDIFF GOLDEN_DEFAULT
name=cli-smoke; . "$(dirname "$0")/smoke.sh"

expect 0 "inspect" "$paldiff" --help
expect 2 "unknown command" "$paldiff" frobnicate

# The demo model: written by paldiff itself, then opened like any diffusers folder.
expect 0 "wrote the demo model" "$paldiff" demo-model "$tmp/demo"
expect 0 "found the demo model" "$paldiff" demo-model "$tmp/demo"
expect 0 "arch: *sd15 " "$paldiff" inspect "$tmp/demo"
expect 0 "embedding: \[1, 77, 64\]" "$paldiff" encode-prompt "$tmp/demo" "a red fox"
expect 0 "$tmp/cache/paldiff/demo-v1" env -u PALDIFF_CACHE XDG_CACHE_HOME="$tmp/cache" "$paldiff" demo-model
mkdir "$tmp/mine" && touch "$tmp/mine/note"
expect 1 "not a paldiff demo model" "$paldiff" demo-model "$tmp/mine"

for manifest in "$golden"/*/manifest.json; do
  dir=$(dirname "$manifest")
  grep -q '"kind": "model"' "$manifest" || continue
  arch=$(sed -n 's/.*"arch": "\([^"]*\)".*/\1/p' "$manifest" | head -1)
  expect 0 "arch: *$arch " "$paldiff" inspect "$dir/diffusers"
  expect 0 "embedding: \[1, 77, " "$paldiff" encode-prompt "$dir/diffusers" "a red fox"
  for single in "$dir"/*.safetensors; do
    [ -f "$single" ] || continue
    expect 0 "arch: *$arch " "$paldiff" inspect --config "$dir/diffusers" "$single"
    expect 0 "embedding: \[1, 77, " "$paldiff" encode-prompt --config "$dir/diffusers" \
      --tokenizer "$dir/diffusers/tokenizer" "$single" "a red fox"
    expect 1 "no tokenizer found" "$paldiff" encode-prompt "$single" "a red fox"
  done
  expect 1 "not valid UTF-8" "$paldiff" encode-prompt "$dir/diffusers" "$(printf 'bad \377')"
  expect 1 "longer than 16384 bytes" "$paldiff" encode-prompt "$dir/diffusers" "$(head -c 20000 /dev/zero | tr '\0' a)"
  expect 0 "embedding: \[1, 77, " "$paldiff" encode-prompt "$dir/diffusers" "$(head -c 10000 /dev/zero | tr '\0' a)"
  expect 1 "clip_skip 99" "$paldiff" encode-prompt --clip-skip 99 "$dir/diffusers" "a fox"
  expect 1 "expected epsilon or v" "$paldiff" inspect --prediction x "$dir/diffusers"
done

expect 1 "no such file" "$paldiff" inspect "$tmp/missing"
printf 'not a model' > "$tmp/junk.safetensors"
expect 1 "junk.safetensors" "$paldiff" inspect "$tmp/junk.safetensors"
printf 'x' > "$tmp/old.ckpt"
expect 1 "pickled" "$paldiff" inspect "$tmp/old.ckpt"

# Full-size shape manifests, as sparse single files (no disk space, seconds).
for shapes in "$golden"/shapes/*.json; do
  arch=$(sed -n 's/.*"arch": "\([^"]*\)".*/\1/p' "$shapes" | head -1)
  expect 0 "wrote" "$paldiff" synth --layout original --dtype F16 --random "" "$shapes" "$tmp/full.safetensors"
  expect 0 "arch: *$arch " "$paldiff" inspect "$tmp/full.safetensors"
done

echo "cli-smoke: $passed passed, $failed failed"
[ "$failed" = 0 ]
