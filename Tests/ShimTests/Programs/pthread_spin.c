// A thread that spins on an atomic flag another thread would set: with threads as greenlets the setter
// never runs, and nothing the shim sees can end the spin. The monitor thread must name the spinning
// thread's start routine (built with -rdynamic, so that dladdr finds it). Plain, it ends at once.
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <unistd.h>

static atomic_int flag;

void *spin_until_the_flag_is_set(void *argument) {
    (void)argument;
    while (!atomic_load(&flag)) {
    }
    return NULL;
}

void *set_the_flag(void *argument) {
    (void)argument;
    atomic_store(&flag, 1);
    return NULL;
}

int main(void) {
    pthread_t spinner, setter;
    pthread_create(&spinner, NULL, spin_until_the_flag_is_set, NULL);
    pthread_create(&setter, NULL, set_the_flag, NULL);
    pthread_join(spinner, NULL);
    pthread_join(setter, NULL);
    printf("the flag was set\n");
    return 0;
}
