/* json.c — strict parsing of untrusted JSON (see json.h).
 *
 * Three passes, each trusting only what the previous one proved:
 *
 *   1. UTF-8 (g_utf8_validate), which also finds raw NUL bytes;
 *   2. RFC 8259 syntax (json_check below), because json-glib 1.6 is lenient
 *      — it accepts comments, hex and octal numbers ("010" is 8), trailing
 *      statements, and turns "\u0000" into a silently shortened string — and
 *      its parser recurses once per nesting level, so deep input must be
 *      refused before it reaches it;
 *   3. json-glib builds the tree; its object-member signal lets us notice a
 *      repeated key, which json-glib would otherwise resolve silently.
 */
#include "io/json.h"

#include <stdbool.h>
#include <string.h>

#include <glib.h>

#include "error.h"

/* ---- pass 2: syntax ------------------------------------------------------ */

static bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

static int hex4(const char *s)
{
    int v = 0;
    for (int i = 0; i < 4; i++) {
        char c = s[i];
        int d = c >= '0' && c <= '9' ? c - '0'
              : c >= 'a' && c <= 'f' ? c - 'a' + 10
              : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0)
            return -1;
        v = v * 16 + d;
    }
    return v;
}

/* What the checker reports into: a reason (static, or written into why) and
 * the noun naming the whole text in reasons ("the header ends ..."). */
typedef struct {
    const char *noun;
    char why[256];
} report;

/* Scans the string starting at s[*i] == '"'; leaves *i after the closing
 * quote. Returns NULL or a reason. */
static const char *json_string(const char *s, size_t n, size_t *i, report *r)
{
    size_t start = *i, j = *i + 1;
    while (j < n) {
        unsigned char c = (unsigned char)s[j];
        if (c == '"') {
            *i = j + 1;
            return NULL;
        }
        if (c < 0x20)
            return *i = j, "control character inside a string (JSON needs it escaped)";
        if (c != '\\') {
            j++;
            continue;
        }
        if (j + 1 >= n)
            break;
        char e = s[j + 1];
        if (e && strchr("\"\\/bfnrt", e)) {
            j += 2;
            continue;
        }
        if (e != 'u')
            return *i = j, "unknown escape in a string";
        int u = j + 6 <= n ? hex4(s + j + 2) : -1;
        if (u < 0)
            return *i = j, "\\u escape without four hex digits";
        if (u == 0) {
            /* C strings cannot hold NUL: json-glib would cut the string
             * short, so two different keys could become one. Quote the
             * string's start (cut at a character boundary) so the reader
             * can find it. */
            size_t len = MIN(j - start - 1, (size_t)48);
            while (len > 0 && ((unsigned char)s[start + 1 + len] & 0xC0) == 0x80)
                len--;
            g_snprintf(r->why, sizeof r->why, "the string \"%.*s\\u0000...\" contains \\u0000 "
                       "(NUL), which keys and string values cannot hold", (int)len,
                       s + start + 1);
            *i = j;
            return r->why;
        }
        if (u >= 0xDC00 && u <= 0xDFFF)
            return *i = j, "lone low surrogate (\\uDC00-\\uDFFF) in a string";
        if (u >= 0xD800 && u <= 0xDBFF) {
            int lo = j + 12 <= n && s[j + 6] == '\\' && s[j + 7] == 'u' ? hex4(s + j + 8) : -1;
            if (lo < 0xDC00 || lo > 0xDFFF)
                return *i = j, "high surrogate without a low surrogate in a string";
            j += 12;
        } else {
            j += 6;
        }
    }
    *i = n;
    g_snprintf(r->why, sizeof r->why, "the %s ends inside a string", r->noun);
    return r->why;
}

/* Rewrites the integer s[0..len) (len > 19 digits) in place as a double
 * literal of the same length, d.ddd…e+XX, so json-glib reads it as a double
 * instead of wrapping it. Keeps len − 5 (or − 6) significant digits, more
 * than a double holds. Returns false beyond a double's range. */
static bool widen_integer(char *s, size_t len)
{
    size_t exp = len - 1, exp_digits = exp < 100 ? 2 : 3;
    if (exp > 308)
        return false;
    size_t keep = len - 3 - exp_digits; /* digits after the point */
    memmove(s + 2, s + 1, keep);
    s[1] = '.';
    s[2 + keep] = 'e';
    for (size_t d = exp_digits; d > 0; d--, exp /= 10) /* no NUL: the JSON goes on */
        s[2 + keep + d] = (char)('0' + exp % 10);
    return true;
}

/* Scans a number at s[*i] per RFC 8259. Integers must fit int64 (json-glib
 * would wrap larger ones silently) — unless wide_ints, when larger ones are
 * rewritten as doubles. */
static const char *json_number(char *s, size_t n, size_t *i, bool wide_ints)
{
    size_t j = *i;
    bool integer = true;
    if (j < n && s[j] == '-')
        j++;
    size_t digits = j;
    if (j < n && s[j] == '0')
        j++;
    else if (j < n && s[j] >= '1' && s[j] <= '9')
        while (j < n && g_ascii_isdigit(s[j]))
            j++;
    else
        return "malformed number";
    size_t int_end = j;
    if (j < n && s[j] == '.') {
        integer = false;
        if (++j >= n || !g_ascii_isdigit(s[j]))
            return *i = j, "malformed number (digits must follow '.')";
        while (j < n && g_ascii_isdigit(s[j]))
            j++;
    }
    if (j < n && (s[j] == 'e' || s[j] == 'E')) {
        integer = false;
        j++;
        if (j < n && (s[j] == '+' || s[j] == '-'))
            j++;
        if (j >= n || !g_ascii_isdigit(s[j]))
            return *i = j, "malformed number (digits must follow the exponent)";
        while (j < n && g_ascii_isdigit(s[j]))
            j++;
    }
    if (j < n && g_ascii_isdigit(s[j]))
        return *i = j, "malformed number (leading zero)";
    if (j < n && (g_ascii_isalpha(s[j]) || strchr(".+-", s[j])))
        return *i = j, "malformed number";
    if (integer) {
        /* 9223372036854775807 has 19 digits: compare as strings. */
        size_t len = int_end - digits;
        if (len > 19 || (len == 19 && memcmp(s + digits, "9223372036854775807", 19) > 0)) {
            /* A 19-digit integer beyond int64 is written with 19 chars: too
             * short for the rewrite, and rare enough to refuse. */
            if (!wide_ints || len < 20 || !widen_integer(s + digits, len))
                return "integer beyond the 64-bit range";
        }
    }
    *i = j;
    return NULL;
}

/* Checks that s[0..n) is exactly one JSON object (at byte 0 when at_start,
 * else after optional whitespace), nested at most max_depth deep, followed
 * only by whitespace. On failure returns the reason and sets *at to the byte
 * offset. Iterative, so hostile input cannot recurse. */
static const char *json_check(char *s, size_t n, int max_depth, bool at_start, bool wide_ints,
                              size_t *at, report *r)
{
    enum { VALUE, VALUE_OR_CLOSE, KEY, KEY_OR_CLOSE, COLON, COMMA_OR_CLOSE, DONE } state = VALUE;
    char stack[PD_JSON_MAX_DEPTH];
    int depth = 0;
    size_t i = 0;
    const char *bad = NULL;

    if (at_start) {
        if (n == 0 || s[0] != '{') {
            g_snprintf(r->why, sizeof r->why,
                       "the %s must be a JSON object starting with '{' at byte 0", r->noun);
            return *at = 0, r->why;
        }
    } else {
        while (i < n && is_ws(s[i]))
            i++;
        if (i >= n || s[i] != '{') {
            g_snprintf(r->why, sizeof r->why, "the %s must be a JSON object, starting with '{'",
                       r->noun);
            return *at = i, r->why;
        }
    }
    while (!bad) {
        while (i < n && is_ws(s[i]))
            i++;
        if (i >= n)
            break;
        char c = s[i];
        bool value_done = false;
        switch (state) {
        case VALUE:
        case VALUE_OR_CLOSE:
            if (c == ']' && state == VALUE_OR_CLOSE) {
                depth--, i++, value_done = true;
            } else if (c == '{' || c == '[') {
                if (depth == max_depth) {
                    g_snprintf(r->why, sizeof r->why, "nested deeper than %d levels", max_depth);
                    bad = r->why;
                    break;
                }
                stack[depth++] = c, i++;
                state = c == '{' ? KEY_OR_CLOSE : VALUE_OR_CLOSE;
            } else if (c == '"') {
                bad = json_string(s, n, &i, r), value_done = true;
            } else if (c == '-' || g_ascii_isdigit(c)) {
                bad = json_number(s, n, &i, wide_ints), value_done = true;
            } else {
                static const char *const lit[] = {"true", "false", "null"};
                for (int k = 0; k < 3 && !value_done; k++) {
                    size_t len = strlen(lit[k]);
                    if (n - i >= len && memcmp(s + i, lit[k], len) == 0)
                        i += len, value_done = true;
                }
                if (!value_done)
                    bad = "unexpected character where a value should be";
            }
            break;
        case KEY:
        case KEY_OR_CLOSE:
            if (c == '}' && state == KEY_OR_CLOSE) {
                depth--, i++, value_done = true;
            } else if (c == '"') {
                bad = json_string(s, n, &i, r);
                state = COLON;
            } else {
                bad = "expected a quoted member name";
            }
            break;
        case COLON:
            if (c == ':')
                i++, state = VALUE;
            else
                bad = "expected ':' after a member name";
            break;
        case COMMA_OR_CLOSE:
            if (c == ',') {
                i++;
                state = stack[depth - 1] == '{' ? KEY : VALUE;
            } else if (c == (stack[depth - 1] == '{' ? '}' : ']')) {
                depth--, i++, value_done = true;
            } else {
                bad = stack[depth - 1] == '{' ? "expected ',' or '}'" : "expected ',' or ']'";
            }
            break;
        case DONE:
            g_snprintf(r->why, sizeof r->why, "unexpected data after the %s's JSON object "
                       "(only whitespace may follow it)", r->noun);
            bad = r->why;
            break;
        }
        if (!bad && value_done)
            state = depth == 0 ? DONE : COMMA_OR_CLOSE;
    }
    if (!bad && state != DONE) {
        g_snprintf(r->why, sizeof r->why, "the %s ends before its JSON object is closed",
                   r->noun);
        bad = r->why;
    }
    *at = MIN(i, n);
    return bad;
}

/* ---- pass 3: duplicate keys ---------------------------------------------- */

/* json-glib replaces a repeated member without a word. It announces every
 * member after storing it, so a member that does not grow its object's size
 * repeated an earlier one. json_check bounds the depth, and so the stack of
 * open objects. */
typedef struct {
    int depth;
    guint count[PD_JSON_MAX_DEPTH + 1];
    char *duplicate;            /* the first repeated name, or NULL */
} dup_watch;

static void on_object_start(JsonParser *parser, gpointer data)
{
    (void)parser;
    dup_watch *w = data;
    if (w->depth <= PD_JSON_MAX_DEPTH)
        w->count[w->depth] = 0;
    w->depth++;
}

static void on_object_member(JsonParser *parser, JsonObject *object, const char *name,
                             gpointer data)
{
    (void)parser;
    dup_watch *w = data;
    int top = w->depth - 1;
    if (top < 0 || top > PD_JSON_MAX_DEPTH)
        return;
    if (++w->count[top] != json_object_get_size(object) && !w->duplicate)
        w->duplicate = g_strdup(name);
}

static void on_object_end(JsonParser *parser, JsonObject *object, gpointer data)
{
    (void)parser, (void)object;
    ((dup_watch *)data)->depth--;
}

/* ---- the entry point ------------------------------------------------------ */

pd_status pd_json_parse(const char *label, const char *what, const char *text, size_t len,
                        int max_depth, unsigned flags, JsonParser **out, pd_error *err)
{
    if (!label)
        label = "(JSON)";
    if (!out)
        return pd_fail(err, PD_E_ARG, "%s: pd_json_parse: out is NULL", label);
    *out = NULL;
    if (!text && len)
        return pd_fail(err, PD_E_ARG, "%s: pd_json_parse: text is NULL", label);
    if (max_depth < 1 || max_depth > PD_JSON_MAX_DEPTH)
        return pd_fail(err, PD_E_ARG, "%s: pd_json_parse: max_depth %d is outside 1..%d", label,
                       max_depth, PD_JSON_MAX_DEPTH);
    if (len >= G_MAXSSIZE)
        return pd_fail(err, PD_E_FORMAT, "%s: %zu bytes of JSON are more than this system can "
                       "parse", label, len);

    /* "<label>: header is not ..." or "<label>: not ..." */
    char *is = what ? g_strconcat(what, " is ", NULL) : g_strdup("");
    report r = {.noun = what ? what : "text"};

    char *copy = g_try_malloc(len + 1);
    if (!copy) {
        pd_status s = pd_fail(err, PD_E_NOMEM, "%s: out of memory for %zu bytes of JSON",
                              label, len);
        g_free(is);
        return s;
    }
    if (len)
        memcpy(copy, text, len);
    copy[len] = '\0';

    pd_status status = PD_OK;
    const char *end, *bad;
    size_t at;
    dup_watch watch = {0};
    JsonParser *parser = NULL;
    GError *gerr = NULL;

    if (!g_utf8_validate(copy, (gssize)len, &end)) {
        status = *end ? pd_fail(err, PD_E_FORMAT, "%s: %snot valid UTF-8 (byte %zu); JSON must "
                                "be UTF-8", label, is, (size_t)(end - copy))
                      : pd_fail(err, PD_E_FORMAT, "%s: %snot valid JSON at byte %zu: a NUL byte",
                                label, is, (size_t)(end - copy));
        goto done;
    }
    if ((bad = json_check(copy, len, max_depth, flags & PD_JSON_OBJECT_AT_START,
                          flags & PD_JSON_WIDE_INTS, &at, &r))) {
        status = pd_fail(err, PD_E_FORMAT, "%s: %snot valid JSON at byte %zu: %s", label, is,
                         at, bad);
        goto done;
    }

    parser = json_parser_new_immutable();
    g_signal_connect(parser, "object-start", G_CALLBACK(on_object_start), &watch);
    g_signal_connect(parser, "object-member", G_CALLBACK(on_object_member), &watch);
    g_signal_connect(parser, "object-end", G_CALLBACK(on_object_end), &watch);
    if (!json_parser_load_from_data(parser, copy, (gssize)len, &gerr)) {
        status = pd_fail(err, PD_E_FORMAT, "%s: %snot valid JSON: %s", label, is, gerr->message);
        goto done;
    }
    /* The watch points into this frame: nothing may reach it after return. */
    g_signal_handlers_disconnect_by_data(parser, &watch);
    if (watch.duplicate) {
        status = pd_fail(err, PD_E_FORMAT, "%s: %s%skey \"%s\" appears twice in one object",
                         label, what ? what : "", what ? ": " : "", watch.duplicate);
        goto done;
    }
    /* json_check proved it; this guards the assumption that json-glib agrees. */
    JsonNode *root = json_parser_get_root(parser);
    if (!root || !JSON_NODE_HOLDS_OBJECT(root)) {
        status = pd_fail(err, PD_E_FORMAT, "%s: %snot a JSON object", label, is);
        goto done;
    }
    *out = parser;
    parser = NULL;
done:
    if (parser)
        g_object_unref(parser);
    g_clear_error(&gerr);
    g_free(watch.duplicate);
    g_free(copy);
    g_free(is);
    return status;
}
