#!/bin/sh
# in-root.sh — the plug-in tests, run inside the Debian 13 root by
# tests/plugin/run (through scripts/gimp-root, the checkout at /src, a
# throw-away HOME and GIMP3_DIRECTORY). Builds the project outside /src,
# installs the plug-in into the throw-away profile, runs cases.scm in
# gimp-console-3.0 and compares its layers with `paldiff generate`'s images
# for the same parameters, bit for bit. Ends with "plugin: N passed, M failed".
set -u
SRC=${SRC:-/src}
B=${BUILD:-/tmp/build}
T=/tmp/plugin-test
PLUGINS=$GIMP3_DIRECTORY/plug-ins
passed=0 failed=0
ok() { passed=$((passed + 1)); echo "ok   $*"; }
bad() { failed=$((failed + 1)); echo "FAIL $*"; }
finish() { echo "plugin: $passed passed, $failed failed"; [ "$failed" = 0 ]; exit $?; }

rm -rf "$B" "$T"
mkdir -p "$T" "$PLUGINS"
echo "== build ($(gimp-console-3.0 --version))"
if meson setup "$B" "$SRC" -Dplugin=enabled -Dplugindir="$PLUGINS" >"$T/setup.log" 2>&1 &&
   ninja -C "$B" engine/paldiff plugin/paldiff tests/plugin/imgcmp >"$T/build.log" 2>&1 &&
   meson install -C "$B" --quiet --tags plugin >"$T/install.log" 2>&1 &&
   [ -x "$PLUGINS/paldiff/paldiff" ]; then
  ok "build and install into $PLUGINS/paldiff/paldiff"
  grep -A3 'plugin/.*warning:' "$T/build.log" | head -40   # the plug-in's own
else
  cat "$T/setup.log" "$T/build.log" "$T/install.log" 2>/dev/null | tail -40
  bad "build and install"; finish
fi
PALDIFF=$B/engine/paldiff
IMGCMP=$B/tests/plugin/imgcmp
"$PALDIFF" demo-model "$T/demo" >/dev/null || { bad "paldiff demo-model"; finish; }

echo "== gimp-console-3.0 batch"
start=$(date +%s)
gimp-console-3.0 -i -d -f --batch-interpreter=plug-in-script-fu-eval \
  -b "(begin (define dir \"$T\") (load \"$SRC/tests/plugin/cases.scm\"))" --quit >"$T/gimp.log" 2>&1
rc=$?
echo "   (exit $rc, $(($(date +%s) - start)) s)"
grep -q 'PLUGINTEST done' "$T/gimp.log" || { tail -30 "$T/gimp.log"; bad "cases.scm ran to its end"; }
grep -o 'PLUGINTEST \(ok\|FAIL\) .*' "$T/gimp.log" > "$T/cases.txt"
while read -r _ verdict rest; do
  if [ "$verdict" = ok ]; then ok "gimp: $rest"; else bad "gimp: $rest"; fi
done < "$T/cases.txt"

# The error cases' messages reach the caller (Script-Fu prints them).
for m in "model /nonexistent/model: no such file or folder" \
         "nothing of the layer is selected" \
         "indexed images are not supported"; do
  if grep -qF "$m" "$T/gimp.log"; then ok "message: $m"; else bad "message not shown: $m"; fi
done

echo "== an interactive run under Xvfb (the dialog, OK pressed by the test hook)"
PALDIFF_DIALOG_AUTO_OK_MS=2000 timeout 300 xvfb-run -a -s "-screen 0 800x600x24" \
  gimp-console-3.0 -i -d -f --batch-interpreter=plug-in-script-fu-eval -b "
  (let* ((img (car (gimp-image-new 64 64 RGB))))
    (plug-in-paldiff-txt2img #:run-mode RUN-INTERACTIVE #:image img #:prompt \"from the dialog\"
                             #:model \"$T/demo\" #:steps 2 #:seed 5)
    (gimp-message (string-append \"PLUGINDIALOG \"
                    (car (gimp-item-get-name (vector-ref (car (gimp-image-get-layers img)) 0)))))
    (gimp-image-delete img))" --quit >"$T/dialog.log" 2>&1
if grep -q 'PLUGINDIALOG from the dialog (seed 5)' "$T/dialog.log"; then
  ok "interactive txt2img: the dialog opened, OK made the layer"
else
  tail -20 "$T/dialog.log"; bad "interactive txt2img through the dialog"
fi

echo "== the same parameters through paldiff generate"
gen() {  # NAME ARGS... : writes $T/cli-NAME.png
  name=$1; shift
  if "$PALDIFF" generate -q -o "$T/cli-$name.png" "$@" >"$T/cli-$name.log" 2>&1; then return 0; fi
  cat "$T/cli-$name.log"; bad "paldiff generate for $name"; return 1
}
cmp_png() {  # LABEL IMGCMP-ARGS...
  label=$1; shift
  if out=$("$IMGCMP" "$@" 2>&1); then ok "$label ($out)"; else bad "$label ($out)"; fi
}
D=$T/demo
gen txt2img "$D" -p "a red fox in the snow" --steps 4 --guidance 7.5 --seed 7 --scheduler euler \
    --width 64 --height 64 &&
  cmp_png "txt2img = paldiff generate" "$T/cli-txt2img.png" "$T/txt2img.png"
gen txt2img-selection "$D" -p "a lighthouse" --steps 3 --guidance 5 --seed 11 --scheduler ddim \
    --width 40 --height 24 &&
  cmp_png "txt2img at the selection = paldiff generate" "$T/cli-txt2img-selection.png" "$T/txt2img-selection.png"
gen txt2img-default -p "a boat" --steps 2 --seed 3 --width 64 --height 64 &&
  cmp_png "txt2img, default model = paldiff generate, default model" "$T/cli-txt2img-default.png" \
    "$T/txt2img-default.png"
gen img2img "$D" --init "$T/init.png" -p "a stormy sea" --steps 5 --guidance 6 --seed 42 \
    --scheduler euler_a --strength 0.6 &&
  cmp_png "img2img = paldiff generate --init" "$T/cli-img2img.png" "$T/img2img.png"
gen inpaint "$D" --init "$T/init.png" --mask "$T/mask.png" -p "a yellow flower" --steps 4 \
    --guidance 7.5 --seed 9 --scheduler dpmpp_2m --strength 1.0 && {
  cmp_png "inpaint, inside the selection = paldiff generate --mask" --inside "$T/mask.png" \
    "$T/cli-inpaint.png" "$T/inpaint.png"
  cmp_png "inpaint, outside the selection = the original" --outside "$T/mask.png" \
    "$T/init.png" "$T/inpaint.png"
}
gen inpaint-feathered "$D" --init "$T/init.png" --mask "$T/feather-mask.png" -p "a yellow flower" \
    --steps 3 --seed 21 --strength 0.9 &&
  cmp_png "inpaint, feathered = generated·coverage + original·(1 − coverage)" --composite \
    "$T/cli-inpaint-feathered.png" "$T/init.png" "$T/feather-mask.png" "$T/inpaint-feathered.png"
finish
