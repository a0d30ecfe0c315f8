#!/bin/sh
# check-catalogs.sh SRCDIR [OUTDIR] — the plug-in's translations are complete.
#
#  1. every source under plugin/ and ui/ that marks strings (_(), N_(), C_(),
#     NC_(), ngettext) is listed in po/POTFILES, and every listed file exists;
#  2. a fresh template is extracted from po/POTFILES with the keywords of
#     meson's 'glib' gettext preset (the ones po/meson.build builds with) into
#     OUTDIR/paldiff.pot (default: $TMPDIR/paldiff-po);
#  3. for each language in po/LINGUAS, po/LANG.po merged with that template
#     has no untranslated and no fuzzy message (a changed source string shows
#     as fuzzy), and msgfmt --check passes on both the merged and the
#     committed file (format strings agree, the header is complete).
# Runs on any host with GNU gettext; needs neither GIMP nor a build of the plug-in.
set -eu
SRC=${1:?usage: check-catalogs.sh SRCDIR [OUTDIR]}
OUT=${2:-${TMPDIR:-/tmp}/paldiff-po}   # keeps the fresh template for msgmerge
DOMAIN=paldiff

for tool in xgettext msgmerge msgattrib msgfmt; do
  command -v "$tool" >/dev/null 2>&1 ||
    { echo "po-catalogs: $tool not found; install GNU gettext (apt-get install gettext, or scripts/install-deps)"; exit 1; }
done
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
cd "$SRC"
failed=0
fail() { failed=1; echo "FAIL $*"; }

# 1. POTFILES lists every file that marks strings, and only files that exist.
grep -v '^[[:space:]]*\(#\|$\)' po/POTFILES | sort -u >"$TMP/listed"
while read -r f; do
  [ -f "$f" ] || fail "po/POTFILES lists $f, which does not exist: remove the line"
done <"$TMP/listed"
find plugin ui -name '*.c' 2>/dev/null | sort >"$TMP/sources"
while read -r f; do
  if grep -qE '(^|[^A-Za-z0-9_])(_|N_|C_|NC_|ngettext|g_dngettext)[[:space:]]*\(' "$f" &&
     ! grep -qxF "$f" "$TMP/listed"; then
    fail "$f marks strings for translation but is not in po/POTFILES: add the line \"$f\""
  fi
done <"$TMP/sources"

# 2. A fresh template: the keywords and flags of meson's i18n 'glib' preset.
xgettext --package-name=$DOMAIN --from-code=UTF-8 --add-comments \
  --keyword=_ --keyword=N_ --keyword=C_:1c,2 --keyword=NC_:1c,2 \
  --keyword=g_dcgettext:2 --keyword=g_dngettext:2,3 --keyword=g_dpgettext2:2c,3 \
  --flag=N_:1:pass-c-format --flag=C_:2:pass-c-format --flag=NC_:2:pass-c-format \
  --flag=g_dngettext:2:pass-c-format --flag=g_strdup_printf:1:c-format \
  --flag=g_string_printf:2:c-format --flag=g_string_append_printf:2:c-format \
  --flag=g_error_new:3:c-format --flag=g_set_error:4:c-format \
  --flag=g_markup_printf_escaped:1:c-format --flag=g_log:3:c-format \
  --flag=g_print:1:c-format --flag=g_printerr:1:c-format --flag=g_printf:1:c-format \
  --flag=g_fprintf:2:c-format --flag=g_sprintf:2:c-format --flag=g_snprintf:3:c-format \
  --files-from=po/POTFILES -o "$OUT/$DOMAIN.pot" ||
  { echo "po-catalogs: xgettext failed on the files of po/POTFILES (its message is above)"; exit 1; }
n=$(grep -c '^msgid ' "$OUT/$DOMAIN.pot" || true)
echo "template: $((n - 1)) messages from $(wc -l <"$TMP/listed") files ($OUT/$DOMAIN.pot)"

# 3. Each language: complete, current, and compilable.
langs=$(grep -v '^[[:space:]]*\(#\|$\)' po/LINGUAS || true)
[ -n "$langs" ] || fail "po/LINGUAS names no language"
for lang in $langs; do
  po=po/$lang.po
  if [ ! -f "$po" ]; then
    fail "$po missing (po/LINGUAS names $lang): msginit -i $OUT/$DOMAIN.pot -l $lang -o $po"
    continue
  fi
  msgmerge --quiet --previous -o "$TMP/$lang.po" "$po" "$OUT/$DOMAIN.pot" ||
    { fail "$po: msgmerge failed (its message is above)"; continue; }
  lang_ok=1
  # "N translated messages, M fuzzy translations, K untranslated messages."
  stats=$(LC_ALL=C msgfmt --statistics -o /dev/null "$TMP/$lang.po" 2>&1)
  for kind in untranslated fuzzy; do
    count=$(echo "$stats" | sed -n "s/.*[^0-9]\([0-9][0-9]*\) $kind .*/\1/p")
    if [ -n "$count" ] && [ "$count" -gt 0 ]; then
      lang_ok=0
      fail "$po: $count $kind message(s):"
      # msgattrib keeps the header entry (the first paragraph): drop it.
      msgattrib --$( [ $kind = fuzzy ] && echo only-fuzzy || echo untranslated ) --no-obsolete \
        --no-wrap "$TMP/$lang.po" | sed '1,/^$/d; s/^/    /'
    fi
  done
  if [ "$lang_ok" = 0 ]; then
    echo "     to fix: msgmerge --update --previous $po $OUT/$DOMAIN.pot, then translate those messages and drop their fuzzy flags"
  fi
  for f in "$TMP/$lang.po" "$po"; do
    if ! msgfmt --check -o /dev/null "$f" 2>"$TMP/msgfmt.err"; then
      lang_ok=0
      fail "$po: msgfmt --check finds errors; fix them in $po:"
      sed 's/^/    /' "$TMP/msgfmt.err"
      break
    fi
  done
  if [ "$lang_ok" = 1 ]; then
    echo "ok   $po: $stats"
  fi
done
if [ "$failed" = 0 ]; then echo "po-catalogs: all catalogs complete"; fi
exit $failed
