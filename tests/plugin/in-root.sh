#!/bin/sh
# in-root.sh — the plug-in tests, run inside the Debian 13 root by
# tests/plugin/run (through scripts/gimp-root, the checkout at /src, a
# throw-away HOME and GIMP3_DIRECTORY). Builds the project outside /src,
# installs the plug-in into the throw-away profile, runs cases.scm in
# gimp-console-3.0 and compares its layers with `paldiff generate`'s images
# for the same parameters, bit for bit. Under Xvfb it runs ui/'s widget
# tests (tests/ui) and the dialog (dialog.scm: Generate, Cancel, Close,
# last-used values), and screenshots the dialog; with SCREENSHOT=PATH (a
# path in the checkout, e.g. docs/dialog.png) it copies the picture there.
# Ends with "plugin: N passed, M failed".
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
   ninja -C "$B" engine/paldiff plugin/paldiff tests/plugin/imgcmp tests/ui/test_ui >"$T/build.log" 2>&1 &&
   meson install -C "$B" --quiet --tags plugin,i18n >"$T/install.log" 2>&1 &&
   [ -x "$PLUGINS/paldiff/paldiff" ]; then
  ok "build and install into $PLUGINS/paldiff/paldiff"
  grep -A3 '\(plugin\|ui\)/.*warning:' "$T/build.log" | head -40   # the plug-in's own
else
  cat "$T/setup.log" "$T/build.log" "$T/install.log" 2>/dev/null | tail -40
  bad "build and install"; finish
fi
for lang in de ja; do   # po/: installed with the tag i18n
  mo=$PLUGINS/paldiff/locale/$lang/LC_MESSAGES/paldiff.mo
  if [ -f "$mo" ]; then ok "catalog installed: $mo"; else bad "catalog not installed: $mo (see po/meson.build)"; fi
done
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
         "a file is damaged or not in the expected format: $T/init.png: " \
         "nothing of the layer is selected" \
         "indexed images are not supported"; do
  if grep -qF "$m" "$T/gimp.log"; then ok "message: $m"; else bad "message not shown: $m"; fi
done

# The installed catalogs are used: in a German and a Japanese locale the
# missing-model error reaches Script-Fu translated, and GIMP, re-querying the
# plug-in for the new language, records its translated menu label in
# pluginrc. gettext ignores LANGUAGE under C.UTF-8: scripts/gimp-root
# generates these locales. Each language runs on a copy of the profile, so
# that the runs below do not re-query every plug-in for English again.
for c in "de_DE.UTF-8|Modell /nonexistent/model: Datei oder Ordner nicht gefunden|_Text zu Bild …" \
         "ja_JP.UTF-8|モデル /nonexistent/model: そのようなファイルやフォルダーはありません|テキストから画像(_T)..."; do
  loc=${c%%|*} rest=${c#*|}
  msg=${rest%%|*} label=${rest#*|}
  profile=$T/gimp3-$loc
  rm -rf "$profile" && cp -a "$GIMP3_DIRECTORY" "$profile"
  LANG=$loc GIMP3_DIRECTORY=$profile gimp-console-3.0 -i -d -f --batch-interpreter=plug-in-script-fu-eval -b "
    (let ((img (car (gimp-image-new 16 16 RGB))))
      (catch #t (plug-in-paldiff-txt2img #:run-mode RUN-NONINTERACTIVE #:image img #:prompt \"x\"
                                         #:model \"/nonexistent/model\"))
      (gimp-image-delete img))" --quit >"$T/i18n-$loc.log" 2>&1
  if grep -qF "$msg" "$T/i18n-$loc.log"; then ok "$loc: message \"$msg\""
  else grep -A1 paldiff "$T/i18n-$loc.log"; bad "$loc: message not translated (locale -a lists $loc?)"; fi
  if grep -qF "\"$label\"" "$profile/pluginrc"; then ok "$loc: menu label \"$label\""
  else bad "$loc: menu label \"$label\" not in $profile/pluginrc"; fi
done

# Xvfb on a display number of this run's own: the X sockets are not
# private to the root's /tmp, so two test runs must not both take :99.
xvfb() { xvfb-run -a -n $(($$ % 400 + 100)) -s "-screen 0 1024x768x24" "$@"; }

echo "== ui/ widgets under Xvfb"
if xvfb meson test -C "$B" --no-rebuild --suite ui --print-errorlogs >"$T/ui.log" 2>&1; then
  ok "ui/ widgets bound to a test object (tests/ui)"
else
  tail -40 "$T/ui.log"; bad "ui/ widget tests"
fi

echo "== the dialog under Xvfb (its buttons pressed by the PALDIFF_DIALOG_TEST hook)"
run_dialog() {  # NAME ACTIONS PROMPT SEED STEPS: one interactive txt2img; log in $T/dialog-NAME.log
  xvfb env PALDIFF_DIALOG_TEST="$2" timeout 300 gimp-console-3.0 -i -d -f \
    --batch-interpreter=plug-in-script-fu-eval -b "(begin (define dir \"$T\")
      (load \"$SRC/tests/plugin/dialog.scm\") (dialog-txt2img \"$3\" $4 $5))" --quit >"$T/dialog-$1.log" 2>&1
  grep -o 'PLUGINDIALOG .*' "$T/dialog-$1.log" | head -1
}
expect_dialog() {  # NAME LABEL EXPECTED-LINE ACTUAL-LINE
  if [ "$4" = "$3" ]; then ok "$2"; else tail -20 "$T/dialog-$1.log"; bad "$2: got '$4'"; fi
}
# A fresh profile has no last-used values, so the first runs take the
# arguments given. Cancel first: 1000 steps, Cancel pressed at the first; had
# it not stopped them, the run would end with a layer.
got=$(run_dialog cancel "cancel close" "stop me" 6 1000)
expect_dialog cancel "dialog: Cancel mid-generation leaves the image as it was, Close then returns CANCEL" \
  "PLUGINDIALOG cancel layers=Background" "$got"
got=$(run_dialog generate "generate shot:$T/dialog.png generate close" "from the dialog" 5 2)
expect_dialog generate "dialog: Generate adds a layer and keeps the dialog open for another; Close returns SUCCESS" \
  "PLUGINDIALOG success layers=from the dialog (seed 5) #1|from the dialog (seed 5)|Background" "$got"
# The screenshot (the README shows it as docs/dialog.png) after a generation,
# so the preview shows the result.
if [ "$(head -c 8 "$T/dialog.png" 2>/dev/null | od -An -tx1 | tr -d ' ')" = 89504e470d0a1a0a ] &&
   [ "$(wc -c <"$T/dialog.png")" -gt 10000 ]; then
  ok "dialog screenshot: $T/dialog.png"
  if [ -n "${SCREENSHOT:-}" ]; then
    cp "$T/dialog.png" "$SRC/$SCREENSHOT" && ok "dialog screenshot copied to $SCREENSHOT"
  fi
else
  bad "dialog screenshot: $T/dialog.png is not a PNG of the dialog"
fi
# The SUCCESS above saved the values: this run opens with them, not with its own.
got=$(run_dialog last "generate close" "not these values" 9 3)
expect_dialog last "dialog: opens with the last-used values (prompt, seed of the previous run)" \
  "PLUGINDIALOG success layers=from the dialog (seed 5)|Background" "$got"

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
