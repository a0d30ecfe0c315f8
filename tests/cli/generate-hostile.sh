#!/bin/sh
# generate-hostile — `paldiff generate` given hostile input. Each case must
# end with exit status 1 or 2 and a message naming the problem — never a
# crash or a sanitizer report — and must leave no file behind. A prompt past
# CLIP's 75 tokens runs, with a warning. Ctrl-C stops a run: status 130,
# "cancelled", no file.
#   generate-hostile.sh PALDIFF GOLDEN_DEFAULT
set -u
paldiff=$1
case $paldiff in /*) ;; *) paldiff=$(pwd)/$paldiff ;; esac   # runs happen in another folder
golden=${PALDIFF_GOLDEN:-$2}
[ -d "$golden" ] || { echo "cli-generate: skipped, no golden folder at $golden"; exit 77; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
out=$tmp/out      # the only folder runs may write into; checked empty after each
mkdir "$out"
passed=0 failed=0
ok()   { passed=$((passed + 1)); }
fail() { failed=$((failed + 1)); echo "FAIL: $*"; }

# A tiny SD 1.x text-to-image model: the first golden model manifest of arch sd15.
model_dir=
for manifest in "$golden"/*/manifest.json; do
  grep -q '"arch": "sd15"' "$manifest" && { model_dir=$(dirname "$manifest"); break; }
done
[ -n "$model_dir" ] || { echo "cli-generate: skipped, no sd15 golden model under $golden"; exit 77; }
model=$model_dir/diffusers

# png_size FILE: WIDTHxHEIGHT from the IHDR chunk.
png_size() {
  od -An -tu1 -j16 -N8 "$1" | awk '{ printf "%dx%d\n", (($1*256+$2)*256+$3)*256+$4, (($5*256+$6)*256+$7)*256+$8 }'
}

# run CMD...: runs in $out, sets $status and $output (stdout + stderr).
run() {
  output=$(cd "$out" && "$@" 2>&1); status=$?
}

# sane WHAT: no sanitizer report, no file left in $out.
sane() {
  if printf '%s\n' "$output" | grep -q -e 'Sanitizer' -e 'runtime error:'; then
    fail "$1: sanitizer report:"; printf '%s\n' "$output" | head -20; return 1
  fi
  if [ -n "$(ls -A "$out")" ]; then
    fail "$1: left files behind: $(ls -A "$out" | tr '\n' ' ')"; rm -rf "$out"; mkdir "$out"; return 1
  fi
  return 0
}

# refused PATTERN WHAT ARGS...: `paldiff generate ARGS` exits 1 or 2 with PATTERN
# (a grep -i pattern) in its output and writes nothing.
refused() {
  pattern=$1 what=$2; shift 2
  run "$paldiff" generate "$@"
  sane "$what" || return
  case $status in
    1|2) ;;
    *) fail "$what: status $status (want 1 or 2):"; printf '%s\n' "$output" | head -5; return ;;
  esac
  if printf '%s\n' "$output" | grep -q -i -e "$pattern"; then ok
  else fail "$what: the message lacks '$pattern':"; printf '%s\n' "$output" | head -5; fi
}

fast="--steps 2 --seed 1 -o out.png"

# Models that are not there or not models.
refused "$tmp/missing" "missing model" "$tmp/missing" -p "a fox" $fast
single=$(ls "$model_dir"/*.safetensors | head -1)
head -c 5000 "$single" > "$tmp/truncated.safetensors"
refused "truncated.safetensors" "truncated model" "$tmp/truncated.safetensors" -p "a fox" $fast \
  --config "$model" --tokenizer "$model/tokenizer"
head -c 65536 /dev/urandom > "$tmp/random.safetensors"
refused "random.safetensors" "random-bytes model" "$tmp/random.safetensors" -p "a fox" $fast
refused "prompt" "no prompt" "$model" $fast
PALDIFF_MODEL=$tmp/gone; export PALDIFF_MODEL
refused "PALDIFF_MODEL=$tmp/gone" "no model, PALDIFF_MODEL missing" -p "a fox" $fast
unset PALDIFF_MODEL

# Arguments out of range.
refused "steps" "--steps 0" "$model" -p "a fox" --steps 0 -o out.png
refused "steps" "--steps 100000" "$model" -p "a fox" --steps 100000 -o out.png
refused "multiple of 8" "--width 100" "$model" -p "a fox" $fast --width 100
refused "megapixels" "13 megapixels" "$model" -p "a fox" $fast --width 4096 --height 3200
refused "num-images" "-N 0" "$model" -p "a fox" $fast -N 0
refused "strength" "--strength 0" "$model" -p "a fox" $fast --strength 0
refused "scheduler" "unknown scheduler" "$model" -p "a fox" $fast --scheduler nonesuch
refused "output" "--output .gif" "$model" -p "a fox" --steps 2 -o out.gif
refused "UTF-8" "non-UTF-8 prompt" "$model" -p "$(printf '\377\376')" $fast
refused "16384" "20,000-byte prompt" "$model" -p "$(head -c 20000 /dev/zero | tr '\0' a)" $fast
printf '{"num_train_timesteps": ' > "$tmp/sched.json"
refused "sched.json" "broken scheduler config" "$model" -p "a fox" $fast --scheduler-config "$tmp/sched.json"

# Init images and masks: corrupt, truncated, of another size.
init=$(ls "$model_dir"/cases/*.init.png | head -1)
head -c 4096 /dev/urandom > "$tmp/random.png"
refused "random.png" "random-bytes init" "$model" -p "a fox" $fast --init "$tmp/random.png"
size=$(wc -c < "$init")
head -c $((size / 2)) "$init" > "$tmp/half.png"
refused "half.png" "truncated init" "$model" -p "a fox" $fast --init "$tmp/half.png"
refused "init" "--mask without --init" "$model" -p "a fox" $fast --mask "$init"
other=
for png in "$golden"/*/cases/*.png; do
  [ "$(png_size "$png")" != "$(png_size "$init")" ] && { other=$png; break; }
done
if [ -n "$other" ]; then
  refused "mask" "mask of another size ($(png_size "$other") vs $(png_size "$init"))" \
    "$model" -p "a fox" $fast --init "$init" --mask "$other"
else
  fail "no golden PNG of another size than $init to use as a wrong mask"
fi
head -c 5000 "$(ls "$model_dir"/cases/*.safetensors | head -1)" > "$tmp/draws.safetensors"
refused "draws.safetensors" "truncated --draws file" "$model" -p "a fox" $fast --draws "$tmp/draws.safetensors"

# A prompt far past 75 tokens runs (cut to 75), with a warning.
run "$paldiff" generate "$model" -p "$(head -c 10000 /dev/zero | tr '\0' a | sed 's/aaaa/a a /g')" $fast
if printf '%s\n' "$output" | grep -q 'Sanitizer\|runtime error:'; then
  fail "long prompt: sanitizer report"; printf '%s\n' "$output" | head -20
elif [ "$status" = 0 ] && [ -f "$out/out.png" ] && printf '%s\n' "$output" | grep -q "75 tokens"; then ok
else fail "long prompt: status $status (want 0), out.png and a warning about 75 tokens:"; printf '%s\n' "$output" | head -5
fi
rm -f "$out/out.png"

# Ctrl-C: the run stops within a step, says so, exits 130 and writes nothing.
# A script's background job starts with SIGINT ignored; give it the default back.
if env --default-signal=INT true 2>/dev/null; then undo_ignore="env --default-signal=INT"
else undo_ignore="perl -e \$SIG{INT}='DEFAULT';exec(@ARGV)"; fi
(cd "$out" && exec $undo_ignore "$paldiff" generate "$model" -p "a fox" --steps 500 --scheduler ddim \
  --width 128 --height 128 -o out.png > "$tmp/int.log" 2>&1) &
pid=$!
# Interrupt once denoising has begun (its progress line), as a user would.
waited=0
while ! grep -q "denoising" "$tmp/int.log" && kill -0 "$pid" 2>/dev/null && [ "$waited" -lt 600 ]; do
  sleep 0.1; waited=$((waited + 1))
done
sleep 0.5
kill -INT "$pid" 2>/dev/null
waited=0
while kill -0 "$pid" 2>/dev/null && [ "$waited" -lt 60 ]; do sleep 0.5; waited=$((waited + 1)); done
if kill -0 "$pid" 2>/dev/null; then
  kill -KILL "$pid"; fail "Ctrl-C: still running 30 s after SIGINT"
fi
wait "$pid"; status=$?
output=$(cat "$tmp/int.log")
if sane "Ctrl-C"; then
  if [ "$status" = 130 ] && grep -q "^cancelled" "$tmp/int.log"; then ok
  else fail "Ctrl-C: status $status (want 130) and 'cancelled':"; head -5 "$tmp/int.log"; fi
fi

echo "cli-generate: $passed passed, $failed failed"
[ "$failed" = 0 ]
