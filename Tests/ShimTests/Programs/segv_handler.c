// A program that owns SIGSEGV, as JVMs and garbage collectors do: it must see the disposition and the
// alternate stack it set (none, until it sets them), and its handler must get the faults it causes. Under
// gevent-run the checks run in a greenlet, where the greenlet-stack overflow reporter holds the signal.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

typedef struct gevent_greenlet gevent_greenlet_t;
static sigjmp_buf recovery;
static volatile void *fault_address;

static void on_fault(int sig, siginfo_t *info, void *context) {
    (void)sig;
    (void)context;
    fault_address = info->si_addr;
    siglongjmp(recovery, 1);
}

static const char *name(const struct sigaction *a) {
    void *handler = (a->sa_flags & SA_SIGINFO) ? (void *)a->sa_sigaction : (void *)a->sa_handler;
    return handler == (void *)SIG_DFL ? "dfl" : handler == (void *)on_fault ? "on_fault" : "other";
}

static void *checks(void *unused) {
    (void)unused;
    struct sigaction current;
    sigaction(SIGSEGV, NULL, &current);
    printf("segv before: %s\n", name(&current));
    stack_t stack;
    sigaltstack(NULL, &stack);
    printf("altstack before: disabled=%d\n", !!(stack.ss_flags & SS_DISABLE));

    struct sigaction act, old;
    memset(&act, 0, sizeof(act));
    act.sa_sigaction = on_fault;
    act.sa_flags = SA_SIGINFO;
    sigemptyset(&act.sa_mask);
    sigaction(SIGSEGV, &act, &old);
    printf("segv install: old=%s\n", name(&old));
    sigaction(SIGSEGV, NULL, &current);
    printf("segv after: %s\n", name(&current));
    if (sigsetjmp(recovery, 1) == 0) {
        *(volatile int *)16 = 1;
        printf("no fault\n");
    } else {
        printf("fault chained: address=%p\n", (void *)fault_address);
    }
    act.sa_handler = SIG_DFL;
    act.sa_flags = 0;
    sigaction(SIGSEGV, &act, &old);
    printf("segv reset: old=%s\n", name(&old));
    return NULL;
}

int main(void) {
    gevent_greenlet_t *(*spawn)(void *(*)(void *), void *) = dlsym(RTLD_DEFAULT, "gevent_spawn");
    int (*join)(gevent_greenlet_t *, void **) = dlsym(RTLD_DEFAULT, "gevent_join");
    if (spawn != NULL && join != NULL) {
        join(spawn(checks, NULL), NULL);
    } else {
        checks(NULL);
    }
    return 0;
}
