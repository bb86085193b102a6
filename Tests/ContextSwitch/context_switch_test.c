// swift-gevent: checks the raw context switch (Sources/CGreenlet/switch_*.S + context.c) without the Swift
// runtime, so it can be cross-compiled and run under qemu-user.
//
//   context_switch_test [ROUNDS=100000] [TIMED_ROUND_TRIPS=1000000]
//
// What it checks:
//   1. Ring: three contexts (the thread's own stack and two made with gevent_ctx_make) pass control round a
//      ring ROUNDS times. Before every switch a context loads fresh patterns into all callee-saved
//      registers (x86_64: rbx rbp r12-r15; aarch64: x19-x29, d8-d15) and the FP control state (MXCSR and
//      the x87 control word; FPCR); after the switch returns it reads them back (probe.S). The two other
//      contexts load their own patterns meanwhile, so anything the switch fails to save shows up as a
//      mismatch. Each context also checks a buffer on its own stack and a local kept in registers by C.
//   2. Fresh stacks: the entry function gets its argument, a 16-byte aligned stack at its calls, and the
//      default FP control state whatever the context that first jumped to it had set.
//   3. Timing: plain ping-pong between two contexts; ns per switch is printed (information, not a check).
// Exit status 0 when every check passed, 1 otherwise; the last line is "N passed, N failed".
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void gevent_ctx_jump(void **save_sp, void *new_sp);
void *gevent_ctx_make(void *stack_top, void (*entry)(void *), void *arg);

void probe_switch(void **save_sp, void *new_sp, const uint64_t *in, uint64_t *out);
void probe_fp_control(uint64_t *out);
uintptr_t probe_sp(void);

#if defined(__x86_64__)
#define ARCH "x86_64"
enum { NREG = 8, NGPR = 6, FP_FIRST = 6 };
static const char *const reg_names[NREG] = {"rbx", "rbp", "r12", "r13", "r14", "r15", "mxcsr", "x87cw"};
// MXCSR: exception masks, DAZ, rounding control, flush-to-zero (not the sticky status flags, bits 0-5).
// x87: exception masks, precision control, rounding control.
static const uint64_t fp_masks[2] = {0xFFC0, 0x0F3F};
static const uint64_t fp_defaults[2] = {0x1F80, 0x037F};

static void fp_pattern(uint64_t *words, uint64_t seed) {
    uint64_t rc = seed & 3, fz = (seed >> 2) & 1, daz = (seed >> 3) & 1;
    static const uint64_t precision[3] = {0, 2, 3}; // 1 is reserved
    // Exceptions stay masked: a trap would not be a test failure but a crash.
    words[0] = 0x1F80 | (rc << 13) | (fz << 15) | (daz << 6);
    words[1] = 0x003F | (precision[(seed >> 4) % 3] << 8) | (((seed >> 6) & 3) << 10);
}
#elif defined(__aarch64__)
#define ARCH "aarch64"
enum { NREG = 20, NGPR = 11, FP_FIRST = 19 };
static const char *const reg_names[NREG] = {"x19", "x20", "x21", "x22", "x23", "x24", "x25", "x26", "x27", "x28",
                                            "x29", "d8",  "d9",  "d10", "d11", "d12", "d13", "d14", "d15", "fpcr"};
// FPCR: rounding mode (22-23), flush-to-zero (24), default NaN (25), alternative half precision (26). The
// trap-enable bits are not implemented by most cores (they read as zero), so they are left out.
static const uint64_t fp_masks[1] = {0x07C00000};
static const uint64_t fp_defaults[1] = {0};

static void fp_pattern(uint64_t *words, uint64_t seed) {
    words[0] = (seed & 0x1F) << 22;
}
#else
#error "the context-switch check supports x86_64 and aarch64"
#endif

enum { NFP = NREG - FP_FIRST, CONTEXTS = 3, STACK_BYTES = 128 * 1024, LOCAL_WORDS = 256, MAX_REPORTS = 20 };

static void *saved_sp[CONTEXTS];
static uint64_t rounds = 100000;
static unsigned long failures;
static unsigned long checks;
static int fresh_entries;

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void fail(const char *fmt, ...) {
    if (failures++ < MAX_REPORTS) {
        va_list ap;
        va_start(ap, fmt);
        printf("FAIL (" ARCH "): ");
        vprintf(fmt, ap);
        printf("\n");
        va_end(ap);
    } else if (failures == MAX_REPORTS + 1) {
        printf("FAIL (" ARCH "): further failures not shown\n");
    }
}

static uint64_t mix(uint64_t x) { // splitmix64: distinct, unpredictable bits for every register and round
    x += 0x9E3779B97F4A7C15u;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9u;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBu;
    return x ^ (x >> 31);
}

static void make_pattern(uint64_t *in, int context, uint64_t round) {
    uint64_t seed = ((uint64_t)context << 48) ^ (round * NREG);
    for (int i = 0; i < FP_FIRST; i++) {
        in[i] = mix(seed + (uint64_t)i);
    }
    fp_pattern(in + FP_FIRST, mix(seed) + (uint64_t)context * 7 + round);
}

static void compare(const uint64_t *in, const uint64_t *out, int context, uint64_t round) {
    for (int i = 0; i < NREG; i++) {
        uint64_t mask = i < FP_FIRST ? UINT64_MAX : fp_masks[i - FP_FIRST];
        checks++;
        if ((in[i] & mask) != (out[i] & mask)) {
            fail("context %d, round %" PRIu64 ": %s was 0x%" PRIx64 " before the switch and 0x%" PRIx64 " after",
                 context, round, reg_names[i], in[i] & mask, out[i] & mask);
        }
    }
}

// One context's part of the ring: switch to the next context ROUNDS times, checking registers each time.
static void ring(int context) {
    volatile uint64_t local[LOCAL_WORDS];   // on this context's own stack
    uint64_t kept = mix((uint64_t)context); // a value C keeps in a callee-saved register across the calls
    for (int i = 0; i < LOCAL_WORDS; i++) {
        local[i] = mix((uint64_t)(context * LOCAL_WORDS + i));
    }
    for (uint64_t round = 0;; round++) {
        uint64_t in[NREG], out[NREG];
        make_pattern(in, context, round);
        memset(out, 0xA5, sizeof(out));
        probe_switch(&saved_sp[context], saved_sp[(context + 1) % CONTEXTS], in, out);
        compare(in, out, context, round);
        checks++;
        if (kept != mix((uint64_t)context)) {
            fail("context %d, round %" PRIu64 ": a C local held across the switch changed", context, round);
        }
        if (round % 1024 == 0) {
            for (int i = 0; i < LOCAL_WORDS; i++) {
                checks++;
                if (local[i] != mix((uint64_t)(context * LOCAL_WORDS + i))) {
                    fail("context %d, round %" PRIu64 ": word %d of its stack buffer changed", context, round, i);
                    break;
                }
            }
        }
        if (context == 0 && round + 1 == rounds) {
            return; // contexts 1 and 2 stay suspended in the ring; their stacks are simply abandoned
        }
    }
}

static void ring_entry(void *arg) {
    int context = (int)(intptr_t)arg;
    fresh_entries++;
    checks += 3;
    if (context < 1 || context >= CONTEXTS) {
        fail("a fresh context got argument %d, expected 1 or 2", context);
        context = 1;
    }
    uintptr_t sp = probe_sp();
    if (sp % 16 != 0) {
        fail("context %d: stack pointer 0x%" PRIxPTR " at a call is not 16-byte aligned", context, sp);
    }
    uint64_t control[2];
    probe_fp_control(control);
    for (int i = 0; i < NFP; i++) {
        if ((control[i] & fp_masks[i]) != (fp_defaults[i] & fp_masks[i])) {
            fail("context %d: fresh stack started with FP control 0x%" PRIx64 ", expected the default 0x%" PRIx64,
                 context, control[i] & fp_masks[i], fp_defaults[i] & fp_masks[i]);
        }
    }
    ring(context);
    fail("context %d: ring returned in a fresh context", context);
    abort(); // an entry must never return
}

static int check_ring(void) {
    unsigned long before = failures;
    static unsigned char stacks[CONTEXTS][STACK_BYTES] __attribute__((aligned(16)));
    for (int i = 1; i < CONTEXTS; i++) {
        // An odd top: gevent_ctx_make must align it down itself.
        saved_sp[i] = gevent_ctx_make(stacks[i] + STACK_BYTES - 8 * i, ring_entry, (void *)(intptr_t)i);
    }
    ring(0);
    checks++;
    if (fresh_entries != CONTEXTS - 1) {
        fail("%d fresh contexts started, expected %d", fresh_entries, CONTEXTS - 1);
    }
    printf("%s (" ARCH "): ring of %d contexts, %" PRIu64 " rounds: callee-saved registers (%d), FP control, "
           "stack buffers, fresh-stack entry\n",
           failures == before ? "PASS" : "FAIL", CONTEXTS, rounds, NREG - NFP);
    return failures == before;
}

// MARK: - Timing

static void *ping_sp, *pong_sp;
static volatile uint64_t pong_count;

static void pong_entry(void *arg) {
    (void)arg;
    for (;;) {
        pong_count = pong_count + 1;
        gevent_ctx_jump(&pong_sp, ping_sp);
    }
}

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int check_ping_pong(uint64_t round_trips) {
    static unsigned char stack[STACK_BYTES] __attribute__((aligned(16)));
    pong_sp = gevent_ctx_make(stack + STACK_BYTES, pong_entry, NULL);
    gevent_ctx_jump(&ping_sp, pong_sp); // first entry
    pong_count = 0;
    double t0 = now_ns();
    for (uint64_t i = 0; i < round_trips; i++) {
        gevent_ctx_jump(&ping_sp, pong_sp);
    }
    double t1 = now_ns();
    checks++;
    int ok = pong_count == round_trips;
    if (!ok) {
        fail("ping-pong: the other context ran %" PRIu64 " times for %" PRIu64 " round trips", pong_count, round_trips);
    }
    printf("%s (" ARCH "): ping-pong %" PRIu64 " round trips, %.1f ns per gevent_ctx_jump (information only)\n",
           ok ? "PASS" : "FAIL", round_trips, (t1 - t0) / (2.0 * (double)round_trips));
    return ok;
}

int main(int argc, char **argv) {
    if (argc > 1) {
        rounds = strtoull(argv[1], NULL, 10);
    }
    uint64_t round_trips = argc > 2 ? strtoull(argv[2], NULL, 10) : 1000000;
    if (rounds == 0 || round_trips == 0) {
        fprintf(stderr, "usage: %s [ROUNDS>0] [TIMED_ROUND_TRIPS>0]\n", argv[0]);
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    int passed = 0, total = 0;
    total++, passed += check_ring();
    total++, passed += check_ping_pong(round_trips);
    printf("context switch (" ARCH "): %lu register and memory checks\n", checks);
    printf("%d passed, %d failed\n", passed, total - passed);
    return passed == total ? 0 : 1;
}
