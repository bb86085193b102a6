// The limit for Subprocess: posix_spawn + waitpid of /bin/true in a loop, and N `sleep 0.2` children at
// once. Prints lines in GeventMicro's key=value format.
//   spawn_wait serial [N] [REPS]     spawn_wait children [N] [REPS]
#define _GNU_SOURCE
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

extern char **environ;

static double now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e9 + t.tv_nsec;
}

static int compare(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void spawn_one(pid_t *pid, char *const argv[]) {
    if (posix_spawn(pid, argv[0], NULL, NULL, argv, environ) != 0) {
        perror("posix_spawn");
        exit(1);
    }
}

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "serial";
    int children = strcmp(mode, "children") == 0;
    int n = argc > 2 ? atoi(argv[2]) : (children ? 100 : 2000);
    int reps = argc > 3 ? atoi(argv[3]) : 3;
    double results[64];
    for (int r = 0; r < reps && r < 64; r++) {
        double start = now_ns();
        if (children) {
            char *sleep_argv[] = {"/bin/sleep", "0.2", NULL};
            pid_t *pids = calloc(n, sizeof(pid_t));
            for (int i = 0; i < n; i++)
                spawn_one(&pids[i], sleep_argv);
            for (int i = 0; i < n; i++)
                waitpid(pids[i], NULL, 0);
            free(pids);
            results[r] = (now_ns() - start) / 1e6;
        } else {
            char *true_argv[] = {"/bin/true", NULL};
            for (int i = 0; i < n; i++) {
                pid_t pid;
                spawn_one(&pid, true_argv);
                waitpid(pid, NULL, 0);
            }
            results[r] = (now_ns() - start) / n;
        }
    }
    qsort(results, reps, sizeof(double), compare);
    if (children) {
        printf("bench=children_sleep_0.2 impl=c.posix_spawn n=%d reps=%d wall_ms=%.1f wall_ms_min=%.1f\n", n, reps,
               results[reps / 2], results[0]);
    } else {
        printf("bench=spawn_wait_true impl=c.posix_spawn n=%d reps=%d ns_per_spawn=%.0f ns_per_spawn_min=%.0f\n", n,
               reps, results[reps / 2], results[0]);
    }
    return 0;
}
