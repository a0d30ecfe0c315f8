/* test_rng.c — sched/rng.h without golden data: MT19937 against the C++
 * standard's check value, torch.randn's well-known first values for seed 0,
 * seed truncation, and the stream/cache rules the golden cases rely on. */
#include <math.h>
#include <string.h>

#include "check.h"
#include "sched/rng.h"

int main(void)
{
    pd_rng r, q;

    /* [rand.predef]: the 10000th output of mt19937 seeded 5489 is 4123659995. */
    pd_rng_seed(&r, 5489);
    uint32_t v = 0;
    for (int i = 0; i < 10000; i++)
        v = pd_rng_u32(&r);
    CHECK_MSG(v == 4123659995u, "got %u", v);

    /* torch.manual_seed(0); torch.randn(3) -> [1.5410, -0.2934, -2.1788] */
    float x[3];
    pd_rng_seed(&r, 0);
    pd_rng_randn(&r, x, 3);
    CHECK(fabsf(x[0] - 1.5410f) < 1e-4f && fabsf(x[1] + 0.2934f) < 1e-4f && fabsf(x[2] + 2.1788f) < 1e-4f);

    /* Only the low 32 bits of the seed count. */
    float a[40], b[40];
    pd_rng_seed(&r, UINT64_C(1) << 32);
    pd_rng_seed(&q, 0);
    pd_rng_randn(&r, a, 40);
    pd_rng_randn(&q, b, 40);
    CHECK(!memcmp(a, b, sizeof a));

    /* Small calls share the Box-Muller cache: 1 + 1 values = one call of 2. */
    pd_rng_seed(&r, 7);
    pd_rng_seed(&q, 7);
    pd_rng_randn(&r, a, 1);
    pd_rng_randn(&r, a + 1, 1);
    pd_rng_randn(&q, b, 2);
    CHECK(a[0] == b[0] && a[1] == b[1]);

    /* The cache survives a large call (which never touches it), and seeding
     * clears it. */
    pd_rng_seed(&r, 7);
    pd_rng_randn(&r, a, 1);
    pd_rng_randn(&r, a + 1, 16); /* 16 u32 draws */
    pd_rng_randn(&r, a + 17, 1);
    CHECK(a[17] == b[1]);
    pd_rng_seed(&r, 7);
    pd_rng_randn(&r, a, 1);
    pd_rng_seed(&r, 7);
    pd_rng_randn(&r, a + 1, 1);
    CHECK(a[0] == a[1]);

    /* A tail of n % 16 redoes the last 16 from fresh uniforms: the first full
     * blocks of a 17-value call equal a 16-value call's. */
    pd_rng_seed(&r, 3);
    pd_rng_seed(&q, 3);
    pd_rng_randn(&r, a, 16);
    pd_rng_randn(&q, b, 17);
    CHECK(a[0] == b[0]);
    CHECK(isfinite(b[16]));

    return check_summary("unit-rng");
}
