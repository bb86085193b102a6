// A GCC nested function whose address is taken, called on a greenlet's stack: GCC puts a trampoline on the
// stack and marks the program PT_GNU_STACK RWE, so the stack must be executable for the call to work.
#include "CGreenlet.h"
#include <stdio.h>

static cgreenlet_t main_greenlet, greenlet;

static int apply(int (*function)(int), int x) {
    return function(x);
}

static void entry(void *argument) {
    int base = *(int *)argument;
    int add(int x) {
        return x + base;
    }
    printf("nested function: %d\n", apply(add, 1));
    fflush(stdout);
    cgreenlet_switch_final(&greenlet, &main_greenlet);
}

int main(void) {
    int base = 41;
    cgreenlet_init_main(&main_greenlet);
    cgreenlet_set_current(&main_greenlet);
    if (cgreenlet_init(&greenlet, 64 * 1024, entry, &base) != 0) {
        return 2;
    }
    cgreenlet_switch(&main_greenlet, &greenlet);
    printf("executable stacks: %d\n", cgreenlet_stacks_are_executable());
    return 0;
}
