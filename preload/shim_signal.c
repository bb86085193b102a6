// swift-gevent: signal handlers that interrupt cooperative waits, as signal(7) says they interrupt blocking
// calls. A greenlet that waits in an interposed call is parked in the hub, so the kernel never interrupts
// anything of its: the hub's thread sleeps in epoll_wait, which libev restarts. So every handler the program
// installs runs through a trampoline: it calls the program's handler (with the program's flags and mask, which
// stay in the kernel) and then tells the hub of the thread it ran on, through the hub's ev_async (libev
// documents ev_async_send as async-signal-safe), that a handler ran and whether it had SA_RESTART. The hub then
// ends every cooperative wait of its thread that began before the handler ran with GEVENT_SHIM_INTERRUPTED
// (Sources/Gevent/Monkey/ShimSignals.swift), and the interposers end the call as libc would: EINTR, or a
// restart for the calls the kernel restarts under SA_RESTART (shim_signal_outcome).
//
// Every wait of the hub, not only the main greenlet's: on a plain thread a handler interrupts the one call the
// thread is blocked in, and a greenlet-per-connection server has as many "threads" as greenlets, one of them
// in accept. Interrupting only the main greenlet's wait would leave a server whose accept loop runs in a
// greenlet deaf to SIGTERM; code that installs a handler without SA_RESTART must expect EINTR from every
// blocking call anyway, and with SA_RESTART the reads and writes of the other greenlets restart unseen.
//
// The program sees only what it installed: queries report its handler and flags (never the trampoline), and
// where no hub runs the trampoline only calls the handler. Left alone: SIGKILL and SIGSTOP (cannot be caught),
// the fault signals SIGSEGV, SIGBUS, SIGILL and SIGFPE (they interrupt the faulting code, never a wait; SIGSEGV
// is shared with the greenlet stack-overflow reporter, see below) and libev's own handlers (a hub's signal
// watchers, or a program's own libev: event-loop plumbing, not a program's handler).
#include "shim.h"

#include <pthread.h>

// A sanitizer runtime calls sigaltstack and sigaction while it initialises, before it can trace anything:
// instrumented interposers crash there (ThreadSanitizer's function-entry hook). Nothing in this file
// touches memory another thread races on without its own atomics or the slot lock.
#pragma clang attribute push(__attribute__((disable_sanitizer_instrumentation)), apply_to = function)

#include "CLibev.h"

#include <dlfcn.h>
#include <string.h>

static int real_sigaction(int sig, const struct sigaction *act, struct sigaction *old) {
    int (*real)(int, const struct sigaction *, struct sigaction *) = shim_real.sigaction;
    if (real == NULL) {
        // A hook run from another library's constructor before ours: there is no syscall equivalent (the
        // kernel needs libc's restorer), so resolve it now.
        real = (int (*)(int, const struct sigaction *, struct sigaction *))shim_resolve_late("sigaction");
    }
    return real(sig, act, old);
}

// MARK: - The thread's hub, as the trampoline sees it

struct shim_signal_thread {
    struct ev_loop *loop; ///< the hub's loop and ev_async, valid while `attached`
    ev_async *async;
    volatile sig_atomic_t attached;
    volatile sig_atomic_t pending; ///< a handler ran since the hub last looked
    _Atomic uint64_t handlers;     ///< handlers run on this thread
    _Atomic uint64_t last_without_restart;
};

static SHIM_TLS struct shim_signal_thread signal_thread;

SHIM_EXPORT void gevent_shim_signal_attach(void *loop, void *async) {
    signal_thread.loop = loop;
    signal_thread.async = async;
    atomic_signal_fence(memory_order_seq_cst);
    signal_thread.attached = 1;
}

SHIM_EXPORT void gevent_shim_signal_detach(void) {
    signal_thread.attached = 0;
    atomic_signal_fence(memory_order_seq_cst);
    signal_thread.pending = 0;
}

SHIM_EXPORT bool gevent_shim_signal_take_pending(void) {
    if (SHIM_LIKELY(!signal_thread.pending)) {
        return false;
    }
    signal_thread.pending = 0;
    return true;
}

SHIM_EXPORT uint64_t gevent_shim_signal_count(void) {
    return atomic_load_explicit(&signal_thread.handlers, memory_order_relaxed);
}

SHIM_HIDDEN uint64_t shim_signal_mark(void) {
    return atomic_load_explicit(&signal_thread.handlers, memory_order_relaxed);
}

SHIM_HIDDEN int shim_signal_outcome(int code, uint64_t mark) {
    if (code != GEVENT_SHIM_INTERRUPTED) {
        return code;
    }
    // Restartable only if no handler without SA_RESTART ran since the wait began: the first such handler
    // would have ended the call with EINTR.
    return atomic_load_explicit(&signal_thread.last_without_restart, memory_order_relaxed) <= mark
               ? SHIM_WAIT_RESTART
               : GEVENT_SHIM_INTERRUPTED;
}

/// In the trampoline, after the program's handler: count it and wake the hub. Async-signal-safe.
static void note_handler_ran(bool restart) {
    uint64_t count = atomic_fetch_add_explicit(&signal_thread.handlers, 1, memory_order_relaxed) + 1;
    if (!restart) {
        atomic_store_explicit(&signal_thread.last_without_restart, count, memory_order_relaxed);
    }
    if (signal_thread.attached) {
        signal_thread.pending = 1;
        gevent_ev_async_send(signal_thread.loop, signal_thread.async);
    }
}

// MARK: - What the program installed

/// The program's handler for one signal while the kernel has the trampoline: a seqlock, written with every
/// signal blocked on the writing thread (so a trampoline never waits for its own thread) and read by the
/// trampoline without a lock.
struct program_handler {
    _Atomic unsigned sequence; ///< odd while being written
    _Atomic bool writing;      ///< the writers' spinlock
    void *handler;             ///< sa_handler or sa_sigaction
    int flags;                 ///< the program's sa_flags (SA_SIGINFO, SA_RESTART...)
};

static struct program_handler handlers[_NSIG];

static void read_program_handler(int sig, void **handler, int *flags) {
    struct program_handler *slot = &handlers[sig];
    for (;;) {
        unsigned before = atomic_load_explicit(&slot->sequence, memory_order_acquire);
        if (before & 1) {
            continue;
        }
        void *h = slot->handler;
        int f = slot->flags;
        atomic_thread_fence(memory_order_acquire);
        if (atomic_load_explicit(&slot->sequence, memory_order_relaxed) == before) {
            *handler = h;
            *flags = f;
            return;
        }
    }
}

static void trampoline(int sig, siginfo_t *info, void *context) {
    void *handler;
    int flags;
    read_program_handler(sig, &handler, &flags);
    if (flags & SA_SIGINFO) {
        ((void (*)(int, siginfo_t *, void *))handler)(sig, info, context);
    } else if (handler != (void *)SIG_DFL && handler != (void *)SIG_IGN) {
        ((void (*)(int))handler)(sig);
    }
    // What the program's handler left in errno is what the interrupted code sees, as without us.
    int after = errno;
    note_handler_ran(flags & SA_RESTART);
    errno = after;
}

static bool is_trampoline(const struct sigaction *action) {
    return (action->sa_flags & SA_SIGINFO) && action->sa_sigaction == trampoline;
}

/// Signals whose handlers go through the trampoline.
static bool interrupting_signal(int sig) {
    if (sig < 1 || sig >= _NSIG || sig == SIGKILL || sig == SIGSTOP || sig == SIGSEGV || sig == SIGBUS ||
        sig == SIGILL || sig == SIGFPE) {
        return false;
    }
    // glibc's own signals (SIGCANCEL, SIGSETXID) lie between 31 and SIGRTMIN: its sigaction refuses them.
    return sig < 32 || sig >= SIGRTMIN;
}

/// A handler that lives in libev (the hub's signal watchers, or the program's own libev, which is the same
/// library when both load libev.so.4).
static bool libev_handler(void *handler) {
    void *libev = (void *)gevent_libev.async_send;
    if (libev == NULL) {
        return false;
    }
    Dl_info handler_info, libev_info;
    return dladdr(handler, &handler_info) != 0 && dladdr(libev, &libev_info) != 0 &&
           handler_info.dli_fbase == libev_info.dli_fbase;
}

/// Blocks every signal on this thread (the raw syscall: pthread_sigmask would refuse glibc's own) and
/// takes the slot's lock.
static void lock_slot(int sig, sigset_t *saved_mask) {
    sigset_t all;
    sigfillset(&all);
    syscall(SYS_rt_sigprocmask, SIG_SETMASK, &all, saved_mask, _NSIG / 8);
    bool expected = false;
    while (!atomic_compare_exchange_weak_explicit(&handlers[sig].writing, &expected, true, memory_order_acquire,
                                                  memory_order_relaxed)) {
        expected = false;
    }
}

static void unlock_slot(int sig, const sigset_t *saved_mask) {
    atomic_store_explicit(&handlers[sig].writing, false, memory_order_release);
    syscall(SYS_rt_sigprocmask, SIG_SETMASK, saved_mask, NULL, _NSIG / 8);
}

static void write_slot(int sig, void *handler, int flags) {
    struct program_handler *slot = &handlers[sig];
    atomic_fetch_add_explicit(&slot->sequence, 1, memory_order_relaxed);
    atomic_thread_fence(memory_order_release);
    slot->handler = handler;
    slot->flags = flags;
    atomic_fetch_add_explicit(&slot->sequence, 1, memory_order_release);
}

/// Turns what the kernel reports into what the program installed: the kernel's mask and flags (as libc
/// would report them, SA_RESTORER included), the program's handler and its SA_SIGINFO.
static void report_program_handler(struct sigaction *kernel, void *handler, int flags) {
    kernel->sa_flags = (kernel->sa_flags & ~SA_SIGINFO) | (flags & SA_SIGINFO);
    if (flags & SA_SIGINFO) {
        kernel->sa_sigaction = (void (*)(int, siginfo_t *, void *))handler;
    } else {
        kernel->sa_handler = (void (*)(int))handler;
    }
}

/// What the kernel reports, as the program would see it: the program's handler in place of the trampoline,
/// and, after SA_RESETHAND reset a handler that ran through the trampoline, without the SA_SIGINFO we added.
static void as_program_sees_it(struct sigaction *kernel, void *handler, int flags) {
    if (is_trampoline(kernel)) {
        report_program_handler(kernel, handler, flags);
    } else if (kernel->sa_handler == SIG_DFL && (kernel->sa_flags & SA_RESETHAND) && (flags & SA_RESETHAND) &&
               handler != (void *)SIG_DFL && handler != (void *)SIG_IGN && !(flags & SA_SIGINFO)) {
        kernel->sa_flags &= ~SA_SIGINFO;
    }
}

/// The process whose memory holds the table of program handlers. A vfork child (posix_spawn, Python's
/// subprocess, every vfork+exec) shares that memory but has a handler table of its own in the kernel, and
/// it typically resets every handler to SIG_DFL before it execs: written into our table, that would be the
/// parent's handlers gone. Such a child changes only its kernel table.
static _Atomic pid_t table_owner;

static void table_owner_after_fork(void) {
    atomic_store(&table_owner, (pid_t)syscall(SYS_getpid)); // fork copies memory: the table is the child's
}

__attribute__((constructor(102))) static void shim_signal_init(void) {
    table_owner_after_fork();
    pthread_atfork(NULL, NULL, table_owner_after_fork);
}

static bool shares_the_table_owners_memory(void) {
    pid_t owner = atomic_load(&table_owner);
    return owner != 0 && owner != (pid_t)syscall(SYS_getpid);
}

static int interposed_sigaction(int sig, const struct sigaction *act, struct sigaction *old) {
    // Once the stack-overflow reporter holds SIGSEGV, the program's SIGSEGV action is kept beside it.
    if (sig == SIGSEGV && cgreenlet_overflow_segv_action(act, old) == 0) {
        return 0;
    }
    if (!interrupting_signal(sig)) {
        return real_sigaction(sig, act, old);
    }
    if (act != NULL && shares_the_table_owners_memory()) {
        // A vfork child: the kernel's table only, and no lock another thread of the parent may hold.
        struct sigaction kernel;
        if (real_sigaction(sig, act, &kernel) != 0) {
            return -1;
        }
        if (old != NULL) {
            void *handler = handlers[sig].handler;
            int flags = handlers[sig].flags;
            as_program_sees_it(&kernel, handler, flags);
            *old = kernel;
        }
        return 0;
    }
    if (act == NULL) {
        struct sigaction kernel;
        if (real_sigaction(sig, NULL, &kernel) != 0) {
            return -1;
        }
        void *handler;
        int flags;
        read_program_handler(sig, &handler, &flags);
        as_program_sees_it(&kernel, handler, flags);
        if (old != NULL) {
            *old = kernel;
        }
        return 0;
    }
    void *handler = (act->sa_flags & SA_SIGINFO) ? (void *)act->sa_sigaction : (void *)act->sa_handler;
    bool wrap = handler != (void *)SIG_DFL && handler != (void *)SIG_IGN && !libev_handler(handler);
    struct sigaction install = *act;
    if (wrap) {
        install.sa_sigaction = trampoline;
        install.sa_flags |= SA_SIGINFO;
    }
    sigset_t saved_mask;
    lock_slot(sig, &saved_mask);
    void *previous_handler = handlers[sig].handler;
    int previous_flags = handlers[sig].flags;
    // Recorded whether wrapped or not: a later query must know what the program last installed.
    write_slot(sig, handler, act->sa_flags);
    struct sigaction kernel;
    int result = real_sigaction(sig, &install, &kernel);
    int error = errno;
    if (result != 0) {
        write_slot(sig, previous_handler, previous_flags);
    }
    unlock_slot(sig, &saved_mask);
    if (result != 0) {
        errno = error;
        return -1;
    }
    if (old != NULL) {
        as_program_sees_it(&kernel, previous_handler, previous_flags);
        *old = kernel;
    }
    return 0;
}

SHIM_EXPORT int sigaction(int sig, const struct sigaction *act, struct sigaction *old) {
    return interposed_sigaction(sig, act, old);
}

SHIM_EXPORT int __sigaction(int sig, const struct sigaction *act, struct sigaction *old) {
    return interposed_sigaction(sig, act, old);
}

// MARK: - The alternate signal stack

/// The alternate stack the overflow reporter mapped for a thread is ours, not the program's: it reports as
/// none, a program that disables it keeps it (seeing it disabled), and one that installs its own replaces it.
SHIM_EXPORT int sigaltstack(const stack_t *stack, stack_t *old) {
    stack_t current;
    if (syscall(SYS_sigaltstack, NULL, &current) != 0) {
        return -1;
    }
    bool ours = !(current.ss_flags & SS_DISABLE) && cgreenlet_overflow_altstack_is_ours(current.ss_sp);
    if (stack != NULL && !(ours && (stack->ss_flags & SS_DISABLE))) {
        if (syscall(SYS_sigaltstack, stack, NULL) != 0) {
            return -1;
        }
    }
    if (old != NULL) {
        *old = current;
        if (ours) {
            *old = (stack_t){.ss_sp = NULL, .ss_size = 0, .ss_flags = SS_DISABLE};
        }
    }
    return 0;
}

// MARK: - The older interfaces, as glibc builds them on sigaction (its own calls bypass ours)

/// The signals siginterrupt(sig, 1) made interrupting: signal() installs them without SA_RESTART.
static _Atomic uint64_t interrupting_set[(_NSIG + 63) / 64];

static bool interrupts(int sig) {
    return atomic_load(&interrupting_set[sig / 64]) & (1ull << (sig % 64));
}

/// BSD semantics, glibc's signal(): the signal blocked while its handler runs, SA_RESTART unless
/// siginterrupt said otherwise.
static sighandler_t bsd_signal_impl(int sig, sighandler_t handler) {
    if (handler == SIG_ERR || sig < 1 || sig >= _NSIG) {
        errno = EINVAL;
        return SIG_ERR;
    }
    struct sigaction act, old;
    memset(&act, 0, sizeof(act));
    act.sa_handler = handler;
    sigemptyset(&act.sa_mask);
    sigaddset(&act.sa_mask, sig);
    act.sa_flags = interrupts(sig) ? 0 : SA_RESTART;
    if (interposed_sigaction(sig, &act, &old) < 0) {
        return SIG_ERR;
    }
    return old.sa_handler;
}

SHIM_EXPORT sighandler_t signal(int sig, sighandler_t handler) {
    return bsd_signal_impl(sig, handler);
}

SHIM_EXPORT sighandler_t bsd_signal(int sig, sighandler_t handler) {
    return bsd_signal_impl(sig, handler);
}

SHIM_EXPORT sighandler_t ssignal(int sig, sighandler_t handler) {
    return bsd_signal_impl(sig, handler);
}

/// System V semantics: one shot, not blocked while it runs, never restarting.
static sighandler_t sysv_signal_impl(int sig, sighandler_t handler) {
    if (handler == SIG_ERR || sig < 1 || sig >= _NSIG) {
        errno = EINVAL;
        return SIG_ERR;
    }
    struct sigaction act, old;
    memset(&act, 0, sizeof(act));
    act.sa_handler = handler;
    sigemptyset(&act.sa_mask);
    act.sa_flags = SA_RESETHAND | SA_NODEFER;
    if (interposed_sigaction(sig, &act, &old) < 0) {
        return SIG_ERR;
    }
    return old.sa_handler;
}

SHIM_EXPORT sighandler_t sysv_signal(int sig, sighandler_t handler) {
    return sysv_signal_impl(sig, handler);
}

SHIM_EXPORT sighandler_t __sysv_signal(int sig, sighandler_t handler) {
    return sysv_signal_impl(sig, handler);
}

SHIM_EXPORT int siginterrupt(int sig, int interrupt) {
    struct sigaction action;
    if (interposed_sigaction(sig, NULL, &action) < 0) {
        return -1;
    }
    uint64_t bit = 1ull << (sig % 64);
    if (interrupt) {
        atomic_fetch_or(&interrupting_set[sig / 64], bit);
        action.sa_flags &= ~SA_RESTART;
    } else {
        atomic_fetch_and(&interrupting_set[sig / 64], ~bit);
        action.sa_flags |= SA_RESTART;
    }
    return interposed_sigaction(sig, &action, NULL) < 0 ? -1 : 0;
}

SHIM_EXPORT sighandler_t sigset(int sig, sighandler_t disposition) {
    sigset_t set, previous_mask;
    sigemptyset(&set);
    if (sigaddset(&set, sig) < 0) {
        return SIG_ERR;
    }
    struct sigaction act, old;
    if (disposition == SIG_HOLD) {
        if (sigprocmask(SIG_BLOCK, &set, &previous_mask) < 0) {
            return SIG_ERR;
        }
        if (sigismember(&previous_mask, sig)) {
            return SIG_HOLD;
        }
        if (interposed_sigaction(sig, NULL, &old) < 0) {
            return SIG_ERR;
        }
        return old.sa_handler;
    }
    memset(&act, 0, sizeof(act));
    act.sa_handler = disposition;
    sigemptyset(&act.sa_mask);
    if (interposed_sigaction(sig, &act, &old) < 0) {
        return SIG_ERR;
    }
    if (sigprocmask(SIG_UNBLOCK, &set, &previous_mask) < 0) {
        return SIG_ERR;
    }
    return sigismember(&previous_mask, sig) ? SIG_HOLD : old.sa_handler;
}

#pragma clang attribute pop
