// swift-gevent: context switch for aarch64 (AAPCS64).
//
// void gevent_ctx_jump(void **save_sp /* x0 */, void *new_sp /* x1 */);
//
// Saves the callee-saved registers x19-x28, the frame pointer x29, the link register x30, the low halves
// of v8-v15 (d8-d15) and FPCR. Frame on the saved stack, from the saved stack pointer up (176 bytes,
// 16-byte aligned): x19..x30 at +0..+88, d8..d15 at +96..+152, FPCR at +160.
// context.c builds the same frame for a fresh stack.
#if defined(__aarch64__)
    .text
    .globl gevent_ctx_jump
    .type gevent_ctx_jump, %function
    .p2align 4
gevent_ctx_jump:
    .cfi_startproc
    sub sp, sp, #176
    stp x19, x20, [sp, #0]
    stp x21, x22, [sp, #16]
    stp x23, x24, [sp, #32]
    stp x25, x26, [sp, #48]
    stp x27, x28, [sp, #64]
    stp x29, x30, [sp, #80]
    stp d8, d9, [sp, #96]
    stp d10, d11, [sp, #112]
    stp d12, d13, [sp, #128]
    stp d14, d15, [sp, #144]
    mrs x9, fpcr
    str x9, [sp, #160]
    mov x9, sp
    str x9, [x0]
    mov sp, x1
    ldr x9, [sp, #160]
    msr fpcr, x9
    ldp x19, x20, [sp, #0]
    ldp x21, x22, [sp, #16]
    ldp x23, x24, [sp, #32]
    ldp x25, x26, [sp, #48]
    ldp x27, x28, [sp, #64]
    ldp x29, x30, [sp, #80]
    ldp d8, d9, [sp, #96]
    ldp d10, d11, [sp, #112]
    ldp d12, d13, [sp, #128]
    ldp d14, d15, [sp, #144]
    add sp, sp, #176
    ret
    .cfi_endproc
    .size gevent_ctx_jump, .-gevent_ctx_jump

// First code run on a fresh stack: x19 holds the entry function, x20 its argument. The entry never
// returns; if it did, trap.
    .globl gevent_ctx_trampoline
    .type gevent_ctx_trampoline, %function
    .p2align 4
gevent_ctx_trampoline:
    .cfi_startproc
    .cfi_undefined x30
    mov x0, x20
    blr x19
    brk #0
    .cfi_endproc
    .size gevent_ctx_trampoline, .-gevent_ctx_trampoline
#endif
    .section .note.GNU-stack,"",%progbits
