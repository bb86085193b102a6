// swift-gevent: the C half of a greenlet.
//
// A greenlet is a saved stack pointer plus a stack. Switching saves the callee-saved registers and the
// floating-point control state on the current stack, stores the stack pointer, loads the other one and
// restores. Around that primitive this header adds what a runtime needs per switch: errno saved per
// greenlet, Swift's exclusivity access set swapped, sanitizer fiber annotations, and the thread-local
// "current greenlet" that the SIGSEGV handler and the preload shim read without entering Swift.
#ifndef CGREENLET_H
#define CGREENLET_H

#include <stddef.h>
#include <stdint.h>
#include <signal.h>
#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

// MARK: - The raw context switch (switch_x86_64.S, switch_aarch64.S, context.c)

/// Saves the callee-saved registers and FP control state on the current stack, stores the stack pointer
/// in `*save_sp`, then continues on `new_sp` (a value saved by an earlier jump or made by
/// `gevent_ctx_make`). Returns when some other context jumps back to the one saved here.
void gevent_ctx_jump(void **save_sp, void *new_sp);

/// Prepares a fresh stack so that the first `gevent_ctx_jump` onto the returned pointer calls
/// `entry(arg)` on it. `stack_top` is the highest address of the stack (exclusive). `entry` must never
/// return: it ends by jumping to another context.
void *gevent_ctx_make(void *stack_top, void (*entry)(void *), void *arg);

// MARK: - Greenlets

/// What the C side knows about one greenlet. Swift owns the memory (it is embedded in the Swift object's
/// tail allocation or allocated once per greenlet) and must not move it while the greenlet lives.
typedef struct cgreenlet {
    void *sp;              ///< saved stack pointer while not running
    void *stack_base;      ///< lowest address of the stack's guard region; NULL for a thread's main greenlet
    size_t stack_size;     ///< usable bytes above the guard
    size_t guard_size;     ///< bytes of guard region (faults on any access) at stack_base
    void *stack_slab;      ///< the slab the stack came from (stack.c)
    void (*entry)(void *); ///< called once, on the greenlet's own stack, with `arg`
    void *arg;
    uintptr_t exclusivity[2]; ///< Swift's per-context access-set state (see ConcurrencyExclusivity)
    int saved_errno;
    int dead;
    void *asan_fake_stack;
    const void *asan_from_bottom;
    size_t asan_from_size;
    void *tsan_fiber;
    char name[48];       ///< for the stack-overflow report, NUL-terminated
    void *thread_record; ///< the preload shim's record when the greenlet runs a patched pthread, else NULL
} cgreenlet_t;

/// Makes `g` stand for the calling thread's own stack (the "main greenlet" of a hub) and enters its
/// exclusivity context. Call once per hub, on the hub's thread.
void cgreenlet_init_main(cgreenlet_t *g);

/// Gives `g` a stack of `stack_size` usable bytes (rounded up to pages) with a guard region below it: one
/// the calling thread keeps warm when the size is the default, else a slot of a slab of that size. Returns
/// 0, or an errno value (ENOMEM) when no stack could be mapped, EINVAL when GEVENT_STACK_GUARD=madvise and
/// the kernel has no MADV_GUARD_INSTALL. `entry(arg)` runs on the first switch into `g`.
int cgreenlet_init(cgreenlet_t *g, size_t stack_size, void (*entry)(void *), void *arg);

/// Keeps `g`'s stack warm for the calling thread, or returns its memory and gives it back to its slab. `g`
/// must not be running.
void cgreenlet_release_stack(cgreenlet_t *g);

/// Switches from `from` (which must be the running greenlet) to `to`: saves errno, swaps Swift's
/// exclusivity access set, annotates sanitizers, updates the thread's current greenlet, jumps. Returns
/// when something switches back to `from`, with `from`'s errno restored.
void cgreenlet_switch(cgreenlet_t *from, cgreenlet_t *to);

/// Final switch of a greenlet whose entry has finished: like `cgreenlet_switch` but tells sanitizers that
/// `from`'s stack is gone. Never returns.
__attribute__((noreturn)) void cgreenlet_switch_final(cgreenlet_t *from, cgreenlet_t *to);

/// The thread-locals behind cgreenlet_current() and cgreenlet_thread_hub() (greenlet.c). Initial-exec and
/// hidden: CGreenlet is always linked into the same image as its users (an executable, or the preload
/// library), so reading one is a single %fs-relative load, which the inline accessors below let Swift
/// code do without a call.
extern
    __attribute__((tls_model("initial-exec"), visibility("hidden"))) _Thread_local cgreenlet_t *cgreenlet_tls_current;
extern __attribute__((tls_model("initial-exec"), visibility("hidden"))) _Thread_local void *cgreenlet_tls_hub;

/// The greenlet running on this thread, or NULL when no hub ever ran here.
static inline cgreenlet_t *cgreenlet_current(void) {
    return cgreenlet_tls_current;
}

/// Sets the thread's current greenlet without switching (used when a hub is created or destroyed).
void cgreenlet_set_current(cgreenlet_t *g);

/// The hub of the calling thread (an unretained Swift object), or NULL.
static inline void *cgreenlet_thread_hub(void) {
    return cgreenlet_tls_hub;
}
void cgreenlet_set_thread_hub(void *hub);

/// Called on a thread that exits while it still has a hub, with that hub (from a pthread key destructor).
void cgreenlet_set_thread_exit_hook(void (*hook)(void *hub));

/// The calling thread's Linux thread id.
int cgreenlet_thread_id(void);

/// Copies at most sizeof(name)-1 bytes of `name` into `g->name`.
void cgreenlet_set_name(cgreenlet_t *g, const char *name);

/// Sets `g->name` to "spawned at FILE:LINE" without allocating: the name every unnamed greenlet gets when it
/// starts. A path too long for the name keeps its end ("spawned at ...Module/File.swift:12"). `file` need
/// not be NUL-terminated.
void cgreenlet_set_spawn_site_name(cgreenlet_t *g, const uint8_t *file, size_t file_length, unsigned long line);

// MARK: - Stacks and the overflow handler

/// The page size, and `n` rounded up to whole pages.
size_t cgreenlet_page_size(void);
size_t cgreenlet_round_to_pages(size_t n);

/// Sets the size the per-thread pools keep stacks of (the process default, GEVENT_STACK_SIZE).
void cgreenlet_set_default_stack_size(size_t bytes);
size_t cgreenlet_default_stack_size(void);

/// How guard regions below stacks are made (GEVENT_STACK_GUARD).
typedef enum cgreenlet_stack_guard {
    /// MADV_GUARD_INSTALL where the kernel has it (Linux 6.13), else mprotect.
    CGREENLET_STACK_GUARD_AUTO = 0,
    /// MADV_GUARD_INSTALL only: a stack cannot be had (EINVAL) on a kernel without it.
    CGREENLET_STACK_GUARD_MADVISE = 1,
    /// A PROT_NONE range per stack, which splits the slab: two mappings per stack (vm.max_map_count).
    CGREENLET_STACK_GUARD_MPROTECT = 2,
} cgreenlet_stack_guard_t;

/// Chooses how the guard regions of stacks carved from now on are made. Any thread.
void cgreenlet_set_stack_guard(cgreenlet_stack_guard_t guard);

/// Bytes of guard region below a stack of `usable` bytes: half of it, within 64 KiB and 1 MiB.
size_t cgreenlet_stack_guard_size(size_t usable);

/// 1 when stacks are mapped PROT_EXEC: the program's PT_GNU_STACK asks for an executable stack (or it has
/// none), as glibc decides for thread stacks.
int cgreenlet_stacks_are_executable(void);

/// Installs (once per process) the SIGSEGV handler that reports guard-page hits, and (once per thread)
/// an alternate signal stack for it. Returns 0 or an errno value.
int cgreenlet_install_overflow_handler(void);

/// For the shim's sigaction: once the overflow reporter holds SIGSEGV, the program's own SIGSEGV action lives
/// here (reported to queries, chained to for faults that are not greenlet-stack overflows) and the kernel
/// keeps the reporter. Swaps in `act` (if not NULL) and returns the previous action in `old` (if not NULL);
/// returns -1, touching nothing, while the reporter is not installed. Any thread; async-signal-safe.
int cgreenlet_overflow_segv_action(const struct sigaction *act, struct sigaction *old);

/// Whether `stack` is the alternate signal stack the reporter mapped for the calling thread (not one the
/// thread had already): the shim reports no alternate stack to the program in its place.
bool cgreenlet_overflow_altstack_is_ours(const void *stack);

/// Returns every warm stack of the calling thread to its slab. Returns how many there were.
size_t cgreenlet_drain_stack_pool(void);

/// Number of warm stacks the calling thread keeps.
size_t cgreenlet_pooled_stacks(void);

/// Test hook: turns the exclusivity access-set swap off (false) or on (true). Off is unsafe: only tests
/// that demonstrate the trap it prevents may use it.
void cgreenlet_set_exclusivity_swap(bool enabled);

#ifdef __cplusplus
}
#endif

#endif
