/* textclean.h — the text cleaning OpenAI CLIP applies before tokenizing.
 *
 *     char *clean = pd_text_clean("  “Ｈｅｌｌｏ” &amp;amp; ﬁne\tCAFÉ ");
 *     if (!clean) ...                    // not valid UTF-8
 *     // clean = "\"hello\" & fine café"
 *     g_free(clean);
 *
 * CLIP's simple_tokenizer does, in this order:
 *   1. ftfy.fix_text(text) with ftfy 6.1.1's defaults        pd_text_fix()
 *   2. html.unescape(html.unescape(text)), then strip()     pd_html_unescape()
 *   3. every run of whitespace to one space, strip()
 *   4. str.lower()                                          pd_text_lower()
 * pd_text_clean() does all four. Each function reproduces the Python
 * function it names, code point for code point, for valid UTF-8 input.
 *
 * What pd_text_fix() does (ftfy 6.1.1's fix_text): it works line by line
 * (each piece ends after a '\n'), and on each line repeats, until nothing
 * changes:
 *   - HTML unescape, ftfy's "auto" rule: only references ending in ';'
 *     (HTML5 names, ftfy's all-caps names such as &EACUTE;, numeric ones),
 *     and none at all on a line holding '<' or on any line after it;
 *   - C1 controls U+0080..U+009F read as windows-1252 (U+0085 becomes '…');
 *   - Latin ligatures split (ﬁ → fi, Ĳ → IJ, ǅ → Dž ...);
 *   - fullwidth and halfwidth forms to their NFKC forms, U+3000 to a space;
 *   - curly quotes straightened (U+2018..U+201B and U+02BC → ', U+201C..U+201F → ");
 *   - line breaks (CR LF, CR, U+2028, U+2029, U+0085) to '\n';
 *   - terminal escapes (ESC [ digits-and-semicolons letter) removed;
 *   - control characters removed: U+0000..U+0008, U+000B, U+000E..U+001F,
 *     U+007F, U+206A..U+206F, U+FEFF, U+FFF9..U+FFFC;
 *   - NFC normalization.
 * ftfy's fix_surrogates has nothing to do: valid UTF-8 holds no surrogates,
 * and numeric references to them become U+FFFD.
 *
 * Not done: ftfy's fix_encoding (mojibake repair, e.g. "cafÃ©" → "café").
 * It is a large heuristic that changes only text its "badness" measure flags
 * as mis-decoded; on such text paldiff's tokens differ from the reference.
 * Also not done: ftfy's split of lines longer than 1,000,000 code points.
 *
 * Unicode data comes from GLib (categories, simple case mappings, NFC) and
 * from the generated tables (textclean_tables.h); where GLib's Unicode
 * version differs from the reference Python's, characters new in between may
 * be treated differently.
 *
 * Every function returns a new string to free with g_free(), or NULL when
 * the input is NULL or not valid UTF-8. They keep no state: safe from any
 * thread.
 */
#ifndef PD_TEXTCLEAN_H
#define PD_TEXTCLEAN_H

/* Steps 1-4: what CLIP feeds its pre-tokenizer. */
char *pd_text_clean(const char *utf8);

/* Step 1: ftfy 6.1.1 fix_text() with default options, less fix_encoding. */
char *pd_text_fix(const char *utf8);

/* Python's html.unescape(): HTML5 named references (legacy names also
 * without ';', longest prefix first), decimal and hex numeric references with
 * the HTML5 replacements for invalid code points. */
char *pd_html_unescape(const char *utf8);

/* Python's str.lower(): full lower-case mapping (İ → i + U+0307) and the
 * final sigma rule (Σ → ς at the end of a word). Unlike g_utf8_strdown() it
 * does not depend on the locale (no Turkish dotless i). */
char *pd_text_lower(const char *utf8);

#endif
