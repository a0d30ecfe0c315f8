/* runner.h — what the golden runner's case kinds share (see runner.c).
 *
 * Each kind is one function in its own file (run_text.c, run_unet.c,
 * run_vae.c, ...) registered in runner.c's table; it reads the case's input
 * and expected tensors from the case file `st`, runs paldiff, and calls
 * report() exactly once. Single-threaded.
 */
#ifndef PD_GOLDEN_RUNNER_H
#define PD_GOLDEN_RUNNER_H

#include <json-glib/json-glib.h>

#include "io/model.h"
#include "io/safetensors.h"
#include "paldiff.h"

typedef struct {
    const char *dir;        /* the manifest's folder          */
    const char *rel;        /* dir relative to the golden root */
    JsonObject *manifest;
} manifest;

typedef struct {
    const char *name, *dtype;
    JsonObject *entry;      /* its object in the manifest's "sources" */
    pd_model *model;        /* NULL when it failed to open     */
    char open_error[1024];
} source;

/* One result line: "PASS|FAIL <rel>/<id> [<source>] <details>". */
void report(int ok, const char *rel, const char *id, const char *src, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* Finds the named tensors of a case file: (name, dtype, &pointer) triples,
 * then NULL. Returns 1 when all are there with their dtypes; else reports
 * the case failed (naming the tensor) and returns 0. */
int case_tensors(const manifest *mf, const char *id, const source *s, const pd_safetensors *st, ...);

/* Largest |a − b|; NaN counts as infinitely wrong. */
double max_abs_diff(const float *a, const float *b, int64_t n);

/* Reports a comparison of got against the case's `want` tensor. */
void report_diff(const manifest *mf, const char *id, const source *s, const pd_st_tensor *want,
                 const float *got, int64_t n, double tol);

/* PyTorch's NCHW <-> paldiff's channels-last NHWC; out is a new g_malloc'd array. */
float *nchw_to_nhwc(const float *x, int B, int C, int H, int W);
float *nhwc_to_nchw(const float *x, int B, int H, int W, int C);

/* Kinds with an expected file: */
typedef void (*case_fn)(const manifest *mf, JsonObject *c, const source *s,
                        const pd_safetensors *st, double tol);
void run_text(const manifest *mf, JsonObject *c, const source *s, const pd_safetensors *st, double tol);
void run_unet(const manifest *mf, JsonObject *c, const source *s, const pd_safetensors *st, double tol);
void run_vae_decode(const manifest *mf, JsonObject *c, const source *s, const pd_safetensors *st, double tol);
void run_vae_encode(const manifest *mf, JsonObject *c, const source *s, const pd_safetensors *st, double tol);
void run_pipeline(const manifest *mf, JsonObject *c, const source *s, const pd_safetensors *st, double tol);
/* A pipeline case run through the `paldiff generate` command (--kind generate). */
void run_generate(const manifest *mf, JsonObject *c, const source *s, const pd_safetensors *st, double tol);
/* The paldiff command run_generate runs: --paldiff PATH, else $PALDIFF_EXE; or NULL. */
extern const char *paldiff_command;
/* Tokenizer cases carry their answer in the manifest. */
void run_tokenizer(const manifest *mf, JsonObject *c, const source *s);
/* Model-free kinds open their own case file and report with source "-". */
void run_rng(const manifest *mf, JsonObject *c);
void run_sched(const manifest *mf, JsonObject *c);

#endif
