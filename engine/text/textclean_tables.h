/* textclean_tables.h — data for the text cleaning (textclean.c), generated
 * from Python's standard library by tools/gen_textclean_tables.py into
 * textclean_tables.c (regenerate, never edit by hand).
 *
 *     for (size_t i = 0; i < pd_html5_entities_count; i++)
 *         if (strcmp(pd_html5_entities[i].name, "amp;") == 0)
 *             puts(pd_html5_entities[i].value);            // "&"
 *
 * Names are ASCII without the leading '&'; values are UTF-8. Entity tables
 * are sorted by strcmp() of the name (so they can be binary-searched), the
 * width map by code point. Read-only static data: safe from any thread.
 */
#ifndef PD_TEXTCLEAN_TABLES_H
#define PD_TEXTCLEAN_TABLES_H

#include <stddef.h>
#include <stdint.h>

typedef struct pd_entity {
    const char *name;  /* "amp;", or a legacy name without ';' such as "amp" */
    const char *value; /* one or two code points                           */
} pd_entity;

typedef struct pd_width_entry {
    uint32_t cp;       /* a fullwidth/halfwidth form, or U+3000           */
    const char *value; /* its NFKC form                                   */
} pd_width_entry;

/* html.entities.html5: what Python's html.unescape decodes. */
extern const pd_entity pd_html5_entities[];
extern const size_t pd_html5_entities_count;

/* The all-caps names ftfy decodes besides the HTML5 ones ("EACUTE;" -> "É"). */
extern const pd_entity pd_ftfy_upper_entities[];
extern const size_t pd_ftfy_upper_entities_count;

/* html.unescape's value for numeric references to U+0080..U+009F (the
 * windows-1252 reading), which is also ftfy's fix for C1 control characters. */
extern const uint32_t pd_charref_c1[32];

/* Code points that html.unescape turns a numeric reference into nothing for. */
extern const uint32_t pd_charref_dropped[];
extern const size_t pd_charref_dropped_count;

/* ftfy's width map: fullwidth and halfwidth forms to their NFKC forms. */
extern const pd_width_entry pd_width_map[];
extern const size_t pd_width_map_count;

#endif
