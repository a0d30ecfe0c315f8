/* textclean.c — CLIP's text cleaning: ftfy 6.1.1's fix_text, Python's
 * html.unescape, whitespace collapsing and str.lower (see textclean.h).
 *
 * The Python originals work on code points, so the text is held as an array
 * of code points (ustr) and every step reads one array and writes another.
 */
#include "text/textclean.h"

#include <glib.h>
#include <string.h>

#include "text/textclean_tables.h"

/* ---- code point strings ------------------------------------------------ */

typedef struct ustr {
    gunichar *c;
    size_t n, cap;
} ustr;

static void us_reserve(ustr *s, size_t extra)
{
    if (s->n + extra <= s->cap)
        return;
    size_t cap = s->cap ? s->cap * 2 : 64;
    while (cap < s->n + extra)
        cap *= 2;
    s->c = g_renew(gunichar, s->c, cap);
    s->cap = cap;
}

static void us_push(ustr *s, gunichar c)
{
    us_reserve(s, 1);
    s->c[s->n++] = c;
}

static void us_push_n(ustr *s, const gunichar *c, size_t n)
{
    if (n == 0)
        return; /* c may be NULL */
    us_reserve(s, n);
    memcpy(s->c + s->n, c, n * sizeof *c);
    s->n += n;
}

/* Appends a UTF-8 string from the (valid) tables. */
static void us_push_utf8(ustr *s, const char *u)
{
    for (; *u; u = g_utf8_next_char(u))
        us_push(s, g_utf8_get_char(u));
}

static int us_equal(const ustr *a, const ustr *b)
{
    return a->n == b->n && (a->n == 0 || memcmp(a->c, b->c, a->n * sizeof *a->c) == 0);
}

static void us_swap(ustr *a, ustr *b)
{
    ustr t = *a;
    *a = *b;
    *b = t;
}

static void us_free(ustr *s)
{
    g_free(s->c);
    *s = (ustr){0};
}

/* NULL input or invalid UTF-8 gives 0 and leaves *out empty. */
static int us_from_utf8(const char *utf8, ustr *out)
{
    *out = (ustr){0};
    if (!utf8 || !g_utf8_validate(utf8, -1, NULL))
        return 0;
    for (const char *p = utf8; *p; p = g_utf8_next_char(p))
        us_push(out, g_utf8_get_char(p));
    return 1;
}

static char *us_to_utf8(const ustr *s)
{
    size_t len = 0;
    for (size_t i = 0; i < s->n; i++)
        len += (size_t)g_unichar_to_utf8(s->c[i], NULL);
    char *out = g_malloc(len + 1), *p = out;
    for (size_t i = 0; i < s->n; i++)
        p += g_unichar_to_utf8(s->c[i], p);
    *p = '\0';
    return out;
}

/* ---- HTML character references ----------------------------------------- */

static int is_digit(gunichar c) { return c >= '0' && c <= '9'; }
static int is_hex(gunichar c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
static int is_alpha(gunichar c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
static int is_alnum(gunichar c) { return is_digit(c) || is_alpha(c); }

/* Binary search of a generated table for the name name[0..len). */
static const pd_entity *entity_find(const pd_entity *t, size_t count, const char *name, size_t len)
{
    size_t lo = 0, hi = count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int cmp = strncmp(t[mid].name, name, len);
        if (cmp == 0 && t[mid].name[len] != '\0')
            cmp = 1; /* the table's name is longer */
        if (cmp < 0)
            lo = mid + 1;
        else if (cmp > 0)
            hi = mid;
        else
            return &t[mid];
    }
    return NULL;
}

static const pd_entity *html5_find(const char *name, size_t len)
{
    return entity_find(pd_html5_entities, pd_html5_entities_count, name, len);
}

/* Parses the digits of a numeric reference, c[i] being just after "&#":
 * "x"/"X" then hex digits, or decimal digits. Returns the index after the
 * digits, or i when there are none. *value saturates at 0x110000, which is
 * as invalid as any larger number Python's int would hold. */
static size_t parse_charref(const gunichar *c, size_t n, size_t i, uint32_t *value)
{
    unsigned base = 10;
    size_t k = i;
    if (k + 1 < n && (c[k] == 'x' || c[k] == 'X') && is_hex(c[k + 1])) {
        base = 16;
        k++;
    }
    size_t start = k;
    uint32_t v = 0;
    for (; k < n && (base == 16 ? is_hex(c[k]) : is_digit(c[k])); k++) {
        uint32_t d = is_digit(c[k]) ? c[k] - '0' : (c[k] | 0x20) - 'a' + 10;
        v = v * base + d;
        if (v > 0x110000)
            v = 0x110000;
    }
    *value = v;
    return k == start ? i : k;
}

static int charref_dropped(uint32_t v)
{
    for (size_t i = 0; i < pd_charref_dropped_count; i++)
        if (pd_charref_dropped[i] == v)
            return 1;
    return 0;
}

/* What html.unescape writes for a numeric reference to v (HTML5 rules). */
static void push_charref(ustr *out, uint32_t v)
{
    if (v == 0)
        us_push(out, 0xFFFD);
    else if (v == 0x0D)
        us_push(out, '\r');
    else if (v >= 0x80 && v <= 0x9F)
        us_push(out, pd_charref_c1[v - 0x80]);
    else if ((v >= 0xD800 && v <= 0xDFFF) || v > 0x10FFFF)
        us_push(out, 0xFFFD);
    else if (!charref_dropped(v))
        us_push(out, v);
}

/* Characters that end a reference name in html.unescape. */
static int name_stop(gunichar c)
{
    return c == '\t' || c == '\n' || c == '\f' || c == ' ' || c == '<' || c == '&' || c == '#' ||
           c == ';';
}

/* Python's html.unescape: "&#" digits, "&#x" hex digits, or a name of up to
 * 32 characters, each with an optional ';'. An unknown name decodes its
 * longest known prefix (legacy names such as "amp" need no ';'). */
static void html_unescape(const ustr *in, ustr *out)
{
    const gunichar *c = in->c;
    size_t n = in->n;
    out->n = 0;
    for (size_t i = 0; i < n;) {
        if (c[i] != '&') {
            us_push(out, c[i++]);
            continue;
        }
        size_t j = i + 1;
        if (j < n && c[j] == '#') {
            uint32_t v;
            size_t k = parse_charref(c, n, j + 1, &v);
            if (k == j + 1) { /* no digits: '#' cannot start a name either */
                us_push(out, c[i++]);
                continue;
            }
            if (k < n && c[k] == ';')
                k++;
            push_charref(out, v);
            i = k;
            continue;
        }
        size_t k = j;
        while (k < n && k - j < 32 && !name_stop(c[k]))
            k++;
        if (k == j) {
            us_push(out, c[i++]);
            continue;
        }
        if (k < n && c[k] == ';')
            k++;
        /* Table names are ASCII: only the ASCII head of the name can match. */
        char name[34];
        size_t len = k - j, ascii = 0;
        while (ascii < len && c[j + ascii] < 0x80) {
            name[ascii] = (char)c[j + ascii];
            ascii++;
        }
        const pd_entity *e = ascii == len ? html5_find(name, len) : NULL;
        size_t used = len;
        for (size_t x = MIN(len - 1, ascii); !e && x >= 2; x--) {
            e = html5_find(name, x);
            used = x;
        }
        if (e) {
            us_push_utf8(out, e->value);
            us_push_n(out, c + j + used, len - used);
        } else {
            us_push_n(out, c + i, k - i);
        }
        i = k;
    }
}

/* ftfy's unescape_html: only "&" "#"? 1..24 ASCII letters/digits ";". Names
 * must be HTML5 names ending in ';' or ftfy's all-caps ones; numeric ones
 * are kept unless html.unescape decodes the whole match to something
 * without a ';'. */
static void ftfy_unescape(const ustr *in, ustr *out)
{
    const gunichar *c = in->c;
    size_t n = in->n;
    out->n = 0;
    for (size_t i = 0; i < n;) {
        if (c[i] != '&') {
            us_push(out, c[i++]);
            continue;
        }
        int numeric = i + 1 < n && c[i + 1] == '#';
        size_t j = i + 1 + (size_t)numeric, k = j;
        while (k < n && k - j <= 24 && is_alnum(c[k]))
            k++;
        if (k == j || k - j > 24 || k >= n || c[k] != ';') {
            us_push(out, c[i++]);
            continue;
        }
        /* The match is c[i..k], k at the ';'. */
        if (numeric) {
            uint32_t v;
            if (parse_charref(c, n, j, &v) == k && v != ';')
                push_charref(out, v);
            else
                us_push_n(out, c + i, k + 1 - i);
        } else {
            char name[26];
            size_t len = k + 1 - j;
            for (size_t m = 0; m < len; m++)
                name[m] = (char)c[j + m];
            const pd_entity *e = html5_find(name, len);
            if (!e)
                e = entity_find(pd_ftfy_upper_entities, pd_ftfy_upper_entities_count, name, len);
            if (e)
                us_push_utf8(out, e->value);
            else
                us_push_n(out, c + i, k + 1 - i);
        }
        i = k + 1;
    }
}

/* ---- ftfy's character fixes -------------------------------------------- */

static void fix_c1_controls(const ustr *in, ustr *out)
{
    out->n = 0;
    for (size_t i = 0; i < in->n; i++) {
        gunichar c = in->c[i];
        us_push(out, c >= 0x80 && c <= 0x9F ? pd_charref_c1[c - 0x80] : c);
    }
}

/* ftfy's Latin ligatures and legacy digraphs (not æ/œ, which are letters). */
static const struct {
    gunichar cp;
    const char *value;
} ligatures[] = {
    {0x0132, "IJ"}, {0x0133, "ij"}, {0x0149, "\xCA\xBCn"}, /* ŉ → ʼn */
    {0x01C4, "D\xC5\xBD"}, {0x01C5, "D\xC5\xBE"}, {0x01C6, "d\xC5\xBE"}, /* Ǆ ǅ ǆ */
    {0x01C7, "LJ"}, {0x01C8, "Lj"}, {0x01C9, "lj"},
    {0x01CA, "NJ"}, {0x01CB, "Nj"}, {0x01CC, "nj"},
    {0x01F1, "DZ"}, {0x01F2, "Dz"}, {0x01F3, "dz"},
    {0xFB00, "ff"}, {0xFB01, "fi"}, {0xFB02, "fl"}, {0xFB03, "ffi"}, {0xFB04, "ffl"},
    {0xFB05, "\xC5\xBFt"}, {0xFB06, "st"}, /* ﬅ → ſt */
};

static void fix_latin_ligatures(const ustr *in, ustr *out)
{
    out->n = 0;
    for (size_t i = 0; i < in->n; i++) {
        gunichar c = in->c[i];
        const char *value = NULL;
        if ((c >= 0x0132 && c <= 0x01F3) || (c >= 0xFB00 && c <= 0xFB06))
            for (size_t k = 0; k < G_N_ELEMENTS(ligatures); k++)
                if (ligatures[k].cp == c)
                    value = ligatures[k].value;
        if (value)
            us_push_utf8(out, value);
        else
            us_push(out, c);
    }
}

static const char *width_find(gunichar c)
{
    size_t lo = 0, hi = pd_width_map_count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (pd_width_map[mid].cp < c)
            lo = mid + 1;
        else if (pd_width_map[mid].cp > c)
            hi = mid;
        else
            return pd_width_map[mid].value;
    }
    return NULL;
}

static void fix_character_width(const ustr *in, ustr *out)
{
    out->n = 0;
    for (size_t i = 0; i < in->n; i++) {
        gunichar c = in->c[i];
        const char *value = c == 0x3000 || (c >= 0xFF01 && c <= 0xFFEF) ? width_find(c) : NULL;
        if (value)
            us_push_utf8(out, value);
        else
            us_push(out, c);
    }
}

static void uncurl_quotes(const ustr *in, ustr *out)
{
    out->n = 0;
    for (size_t i = 0; i < in->n; i++) {
        gunichar c = in->c[i];
        if (c == 0x02BC || (c >= 0x2018 && c <= 0x201B))
            c = '\'';
        else if (c >= 0x201C && c <= 0x201F)
            c = '"';
        us_push(out, c);
    }
}

static void fix_line_breaks(const ustr *in, ustr *out)
{
    out->n = 0;
    for (size_t i = 0; i < in->n; i++) {
        gunichar c = in->c[i];
        if (c == '\r' && i + 1 < in->n && in->c[i + 1] == '\n')
            continue; /* CR LF: the LF stays */
        if (c == '\r' || c == 0x2028 || c == 0x2029 || c == 0x85)
            c = '\n';
        us_push(out, c);
    }
}

/* ESC '[' then digits (any script's decimal digits, as Python's \d) and
 * semicolons, then one ASCII letter. */
static void remove_terminal_escapes(const ustr *in, ustr *out)
{
    const gunichar *c = in->c;
    size_t n = in->n;
    out->n = 0;
    for (size_t i = 0; i < n; i++) {
        if (c[i] == 0x1B && i + 1 < n && c[i + 1] == '[') {
            size_t k = i + 2;
            while (k < n && (c[k] == ';' || g_unichar_isdigit(c[k])))
                k++;
            if (k < n && is_alpha(c[k])) {
                i = k;
                continue;
            }
        }
        us_push(out, c[i]);
    }
}

static int control_char(gunichar c)
{
    return c <= 0x08 || c == 0x0B || (c >= 0x0E && c <= 0x1F) || c == 0x7F ||
           (c >= 0x206A && c <= 0x206F) || c == 0xFEFF || (c >= 0xFFF9 && c <= 0xFFFC);
}

static void remove_control_chars(const ustr *in, ustr *out)
{
    out->n = 0;
    for (size_t i = 0; i < in->n; i++)
        if (!control_char(in->c[i]))
            us_push(out, in->c[i]);
}

static void normalize_nfc(const ustr *in, ustr *out)
{
    out->n = 0;
    /* Below U+0300 every character is NFC and composes with nothing. */
    size_t i = 0;
    while (i < in->n && in->c[i] < 0x300)
        i++;
    if (i == in->n) {
        us_push_n(out, in->c, in->n);
        return;
    }
    char *utf8 = us_to_utf8(in);
    char *nfc = g_utf8_normalize(utf8, -1, G_NORMALIZE_NFC);
    us_push_utf8(out, nfc);
    g_free(nfc);
    g_free(utf8);
}

/* One line of ftfy's fix_text: every fix in ftfy's order, again and again
 * until a round changes nothing (so "&amp;amp;" ends as "&"). */
static void fix_segment(ustr *seg, int unescape, ustr *tmp, ustr *prev)
{
    typedef void (*fixer)(const ustr *, ustr *);
    static const fixer fixers[] = {
        fix_c1_controls, fix_latin_ligatures,     fix_character_width,  uncurl_quotes,
        fix_line_breaks, remove_terminal_escapes, remove_control_chars, normalize_nfc,
    };
    for (;;) {
        prev->n = 0;
        us_push_n(prev, seg->c, seg->n);
        if (unescape) {
            ftfy_unescape(seg, tmp);
            us_swap(seg, tmp);
        }
        /* Printable ASCII, tab, LF and FF are left alone by every fixer
         * below; skipping them keeps chains like "&amp;amp;amp;..." (one
         * level per round) cheap. */
        size_t i = 0;
        while (i < seg->n && ((seg->c[i] >= 0x20 && seg->c[i] < 0x7F) || seg->c[i] == '\t' ||
                              seg->c[i] == '\n' || seg->c[i] == '\f'))
            i++;
        for (size_t f = 0; f < G_N_ELEMENTS(fixers) && i < seg->n; f++) {
            fixers[f](seg, tmp);
            us_swap(seg, tmp);
        }
        if (us_equal(seg, prev))
            return;
    }
}

/* ftfy's fix_text: lines are fixed one by one, each with its '\n'. Its
 * "auto" HTML rule turns unescaping off for good at the first line that
 * holds a '<' (the text may be HTML, whose escapes are meant). */
static void fix_text(const ustr *in, ustr *out)
{
    ustr seg = {0}, tmp = {0}, prev = {0};
    int unescape = 1;
    out->n = 0;
    for (size_t pos = 0; pos < in->n;) {
        size_t end = pos;
        while (end < in->n && in->c[end] != '\n')
            end++;
        if (end < in->n)
            end++;
        seg.n = 0;
        us_push_n(&seg, in->c + pos, end - pos);
        for (size_t i = 0; i < seg.n && unescape; i++)
            if (seg.c[i] == '<')
                unescape = 0;
        fix_segment(&seg, unescape, &tmp, &prev);
        us_push_n(out, seg.c, seg.n);
        pos = end;
    }
    us_free(&seg);
    us_free(&tmp);
    us_free(&prev);
}

/* ---- whitespace and case ------------------------------------------------ */

/* The Unicode White_Space characters: what the `regex` module's \s matches. */
static int white_space(gunichar c)
{
    return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F ||
           c == 0x205F || c == 0x3000;
}

/* Python's str.isspace(), which str.strip() uses: also U+001C..U+001F. */
static int py_isspace(gunichar c) { return white_space(c) || (c >= 0x1C && c <= 0x1F); }

static void strip(ustr *s)
{
    size_t a = 0, b = s->n;
    while (a < b && py_isspace(s->c[a]))
        a++;
    while (b > a && py_isspace(s->c[b - 1]))
        b--;
    if (a > 0 && b > a)
        memmove(s->c, s->c + a, (b - a) * sizeof *s->c);
    s->n = b - a;
}

static void collapse_whitespace(const ustr *in, ustr *out)
{
    out->n = 0;
    for (size_t i = 0; i < in->n;) {
        if (!white_space(in->c[i])) {
            us_push(out, in->c[i++]);
            continue;
        }
        while (i < in->n && white_space(in->c[i]))
            i++;
        us_push(out, ' ');
    }
}

/* Unicode's Case_Ignorable, which the final sigma rule skips over. */
static int case_ignorable(gunichar c)
{
    switch (g_unichar_type(c)) {
    case G_UNICODE_NON_SPACING_MARK:
    case G_UNICODE_ENCLOSING_MARK:
    case G_UNICODE_FORMAT:
    case G_UNICODE_MODIFIER_LETTER:
    case G_UNICODE_MODIFIER_SYMBOL:
        return 1;
    default:
        break;
    }
    switch (c) { /* Word_Break MidLetter, MidNumLet, Single_Quote */
    case 0x0027: case 0x002E: case 0x003A: case 0x00B7: case 0x0387: case 0x055F:
    case 0x05F4: case 0x2018: case 0x2019: case 0x2024: case 0x2027: case 0xFE13:
    case 0xFE52: case 0xFE55: case 0xFF07: case 0xFF0E: case 0xFF1A:
        return 1;
    default:
        return 0;
    }
}

/* Unicode's Cased: letters with case, plus the Other_Lowercase and
 * Other_Uppercase characters that are not Case_Ignorable (ª º, Roman
 * numerals, circled and squared Latin letters). */
static int cased(gunichar c)
{
    switch (g_unichar_type(c)) {
    case G_UNICODE_UPPERCASE_LETTER:
    case G_UNICODE_LOWERCASE_LETTER:
    case G_UNICODE_TITLECASE_LETTER:
        return 1;
    default:
        break;
    }
    return c == 0xAA || c == 0xBA || (c >= 0x2160 && c <= 0x217F) ||
           (c >= 0x24B6 && c <= 0x24E9) || (c >= 0x1F130 && c <= 0x1F149) ||
           (c >= 0x1F150 && c <= 0x1F169) || (c >= 0x1F170 && c <= 0x1F189);
}

/* Python's rule for Σ: final (ς) when a cased letter precedes it and none
 * follows, looking past case-ignorable characters both ways. */
static int final_sigma(const ustr *s, size_t i)
{
    size_t j = i;
    while (j > 0 && case_ignorable(s->c[j - 1]))
        j--;
    if (j == 0 || !cased(s->c[j - 1]))
        return 0;
    j = i + 1;
    while (j < s->n && case_ignorable(s->c[j]))
        j++;
    return j == s->n || !cased(s->c[j]);
}

static void lower(const ustr *in, ustr *out)
{
    out->n = 0;
    for (size_t i = 0; i < in->n; i++) {
        gunichar c = in->c[i];
        if (c == 0x0130) { /* İ: the one unconditional multi-character lowercase */
            us_push(out, 'i');
            us_push(out, 0x0307);
        } else if (c == 0x03A3) {
            us_push(out, final_sigma(in, i) ? 0x03C2 : 0x03C3);
        } else if (c >= 0x2160 && c <= 0x216F) { /* Roman numerals Ⅰ..Ⅿ (Nl): */
            us_push(out, c + 0x10);                /* GLib maps only letters   */
        } else if (c >= 0x24B6 && c <= 0x24CF) {   /* circled Ⓐ..Ⓩ (So)        */
            us_push(out, c + 0x1A);
        } else {
            us_push(out, g_unichar_tolower(c));
        }
    }
}

/* ---- public ------------------------------------------------------------- */

typedef void (*step_fn)(const ustr *, ustr *);

/* Validates, runs one step, converts back. */
static char *run_step(const char *utf8, step_fn step)
{
    ustr in, out = {0};
    if (!us_from_utf8(utf8, &in))
        return NULL;
    step(&in, &out);
    char *r = us_to_utf8(&out);
    us_free(&in);
    us_free(&out);
    return r;
}

char *pd_text_fix(const char *utf8) { return run_step(utf8, fix_text); }
char *pd_html_unescape(const char *utf8) { return run_step(utf8, html_unescape); }
char *pd_text_lower(const char *utf8) { return run_step(utf8, lower); }

char *pd_text_clean(const char *utf8)
{
    ustr a, b = {0};
    if (!us_from_utf8(utf8, &a))
        return NULL;
    /* basic_clean */
    fix_text(&a, &b);
    html_unescape(&b, &a);
    html_unescape(&a, &b);
    strip(&b);
    /* whitespace_clean */
    collapse_whitespace(&b, &a);
    strip(&a);
    /* .lower() */
    lower(&a, &b);
    char *r = us_to_utf8(&b);
    us_free(&a);
    us_free(&b);
    return r;
}
