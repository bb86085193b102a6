// swift-gevent: register probes for the context-switch check (context_switch_test.c).
//
// void probe_switch(void **save_sp, void *new_sp, const uint64_t *in, uint64_t *out);
//   Loads every callee-saved register and the FP control state from `in`, calls
//   gevent_ctx_jump(save_sp, new_sp), and when that returns stores the same registers into `out`, so the
//   caller can see whether the switch (and whatever ran in the other context meanwhile) preserved them.
//   The probe itself follows the ABI: it restores its caller's callee-saved registers and FP control.
// void probe_fp_control(uint64_t *out);
//   Stores the current FP control state (x86_64: out[0] = MXCSR, out[1] = x87 control word;
//   aarch64: out[0] = FPCR).
// uintptr_t probe_sp(void);
//   The caller's stack pointer at the call instruction (which the ABI requires to be 16-byte aligned).
//
// Layout of `in` and `out`:
//   x86_64:  rbx, rbp, r12, r13, r14, r15, MXCSR, x87 control word          (8 words)
//   aarch64: x19..x28, x29, d8..d15, FPCR                                 (20 words)

#if defined(__x86_64__)
    .text
    .globl probe_switch
    .type probe_switch, @function
    .p2align 4
probe_switch:
    .cfi_startproc
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    // 6 pushes keep rsp at 8 mod 16; 24 more bytes align it for the call. 0: out, 8: MXCSR, 12: x87 CW.
    subq $24, %rsp
    movq %rcx, 0(%rsp)
    stmxcsr 8(%rsp)
    fnstcw 12(%rsp)
    ldmxcsr 48(%rdx)
    fldcw 56(%rdx)
    movq 0(%rdx), %rbx
    movq 8(%rdx), %rbp
    movq 16(%rdx), %r12
    movq 24(%rdx), %r13
    movq 32(%rdx), %r14
    movq 40(%rdx), %r15
    call gevent_ctx_jump@PLT
    movq 0(%rsp), %rcx
    movq %rbx, 0(%rcx)
    movq %rbp, 8(%rcx)
    movq %r12, 16(%rcx)
    movq %r13, 24(%rcx)
    movq %r14, 32(%rcx)
    movq %r15, 40(%rcx)
    movq $0, 48(%rcx)
    movq $0, 56(%rcx)
    stmxcsr 48(%rcx)
    fnstcw 56(%rcx)
    ldmxcsr 8(%rsp)
    fldcw 12(%rsp)
    addq $24, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .cfi_endproc
    .size probe_switch, .-probe_switch

    .globl probe_fp_control
    .type probe_fp_control, @function
    .p2align 4
probe_fp_control:
    .cfi_startproc
    movq $0, 0(%rdi)
    movq $0, 8(%rdi)
    stmxcsr 0(%rdi)
    fnstcw 8(%rdi)
    ret
    .cfi_endproc
    .size probe_fp_control, .-probe_fp_control

    .globl probe_sp
    .type probe_sp, @function
    .p2align 4
probe_sp:
    .cfi_startproc
    leaq 8(%rsp), %rax
    ret
    .cfi_endproc
    .size probe_sp, .-probe_sp

    .section .note.GNU-stack,"",@progbits

#elif defined(__aarch64__)
    .text
    .globl probe_switch
    .type probe_switch, %function
    .p2align 4
probe_switch:
    .cfi_startproc
    // Own frame: the caller's x19..x30, d8..d15, FPCR and the `out` pointer (176 bytes).
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
    stp x9, x3, [sp, #160]
    ldr x9, [x2, #152]
    msr fpcr, x9
    ldp x19, x20, [x2, #0]
    ldp x21, x22, [x2, #16]
    ldp x23, x24, [x2, #32]
    ldp x25, x26, [x2, #48]
    ldp x27, x28, [x2, #64]
    ldr x29, [x2, #80]
    ldp d8, d9, [x2, #88]
    ldp d10, d11, [x2, #104]
    ldp d12, d13, [x2, #120]
    ldp d14, d15, [x2, #136]
    bl gevent_ctx_jump
    ldr x3, [sp, #168]
    stp x19, x20, [x3, #0]
    stp x21, x22, [x3, #16]
    stp x23, x24, [x3, #32]
    stp x25, x26, [x3, #48]
    stp x27, x28, [x3, #64]
    str x29, [x3, #80]
    stp d8, d9, [x3, #88]
    stp d10, d11, [x3, #104]
    stp d12, d13, [x3, #120]
    stp d14, d15, [x3, #136]
    mrs x9, fpcr
    str x9, [x3, #152]
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
    .size probe_switch, .-probe_switch

    .globl probe_fp_control
    .type probe_fp_control, %function
    .p2align 4
probe_fp_control:
    .cfi_startproc
    mrs x9, fpcr
    str x9, [x0, #0]
    str xzr, [x0, #8]
    ret
    .cfi_endproc
    .size probe_fp_control, .-probe_fp_control

    .globl probe_sp
    .type probe_sp, %function
    .p2align 4
probe_sp:
    .cfi_startproc
    mov x0, sp
    ret
    .cfi_endproc
    .size probe_sp, .-probe_sp

    .section .note.GNU-stack,"",%progbits
#else
#error "the context-switch check supports x86_64 and aarch64"
#endif
