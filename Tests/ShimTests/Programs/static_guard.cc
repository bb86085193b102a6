// C++ static locals whose constructor sleeps (a switch, under gevent-run) while other threads reach the
// same static, and one whose first constructor throws, so that the next caller constructs it again. The
// language promises one construction that every caller waits for. stdout does not depend on scheduling.
#include <atomic>
#include <cstdio>
#include <pthread.h>
#include <stdexcept>
#include <unistd.h>

static std::atomic<int> constructions{0};
static std::atomic<int> attempts{0};

struct Slow {
    int value;
    Slow() : value(42) {
        constructions++;
        usleep(50 * 1000);
    }
};

struct Flaky {
    int value;
    Flaky() : value(7) {
        // The first attempt throws after a sleep: its caller's guard is aborted, and a waiter takes over.
        if (attempts++ == 0) {
            usleep(20 * 1000);
            throw std::runtime_error("first construction fails");
        }
        usleep(20 * 1000);
    }
};

static int slow_value() {
    static Slow slow;
    return slow.value;
}

static int flaky_value() {
    try {
        static Flaky flaky;
        return flaky.value;
    } catch (const std::runtime_error &) {
        return -1;
    }
}

enum { THREADS = 8 };
static std::atomic<int> saw_slow{0}, saw_flaky{0}, threw{0};

static void *reach_statics(void *) {
    if (slow_value() == 42) {
        saw_slow++;
    }
    int flaky = flaky_value();
    if (flaky == 7) {
        saw_flaky++;
    } else if (flaky == -1) {
        threw++;
    }
    return nullptr;
}

int main() {
    pthread_t threads[THREADS];
    for (auto &thread : threads) {
        if (pthread_create(&thread, nullptr, reach_statics, nullptr) != 0) {
            return 1;
        }
    }
    for (auto &thread : threads) {
        pthread_join(thread, nullptr);
    }
    std::printf("a static whose constructor sleeps: constructed %d time(s), %d of %d callers saw it\n",
                constructions.load(), saw_slow.load(), THREADS);
    std::printf("a static whose first constructor throws: %d attempt(s), %d caller(s) saw the exception, %d the "
                "value\n",
                attempts.load(), threw.load(), saw_flaky.load());
    return 0;
}
