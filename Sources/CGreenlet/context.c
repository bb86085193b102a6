// swift-gevent: builds the first frame of a fresh greenlet stack, matching the frame that
// gevent_ctx_jump saves (see switch_x86_64.S and switch_aarch64.S).
#include "include/CGreenlet.h"

#include <stdint.h>
#include <string.h>

extern void gevent_ctx_trampoline(void);

void *gevent_ctx_make(void *stack_top, void (*entry)(void *), void *arg) {
    uintptr_t top = (uintptr_t)stack_top & ~(uintptr_t)15;
#if defined(__x86_64__)
    // After the restore sequence pops this frame, `ret` jumps to the trampoline with rsp == top, which is
    // 16-byte aligned: the trampoline's `call` then gives `entry` the alignment the ABI promises.
    uint64_t *sp = (uint64_t *)top;
    *--sp = (uint64_t)(uintptr_t)gevent_ctx_trampoline; // return address
    *--sp = 0;                                          // rbp: ends frame-pointer walks
    *--sp = 0;                                          // rbx
    *--sp = (uint64_t)(uintptr_t)entry;                 // r12
    *--sp = (uint64_t)(uintptr_t)arg;                   // r13
    *--sp = 0;                                          // r14
    *--sp = 0;                                          // r15
    *--sp = 0x1F80;                                     // MXCSR: all exceptions masked, round to nearest
    *--sp = 0x037F;                                     // x87 control word: the power-on default
    return sp;
#elif defined(__aarch64__)
    uint64_t *sp = (uint64_t *)(top - 176);
    memset(sp, 0, 176);
    sp[0] = (uint64_t)(uintptr_t)entry;                  // x19
    sp[1] = (uint64_t)(uintptr_t)arg;                    // x20
    sp[10] = 0;                                          // x29: ends frame-pointer walks
    sp[11] = (uint64_t)(uintptr_t)gevent_ctx_trampoline; // x30
    sp[20] = 0;                                          // FPCR: round to nearest, no traps
    return sp;
#else
#error "swift-gevent supports x86_64 and aarch64"
#endif
}
