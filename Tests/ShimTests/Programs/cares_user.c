// swift-gevent preload tests: a c-ares program (linked with -lcares), resolving a name from /etc/hosts
// and a numeric one with its own channel and select loop (no DNS server involved). The output must be
// the same with and without gevent-run.
#include <ares.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/select.h>

static void on_host(void *argument, int status, int timeouts, struct hostent *host) {
    (void)timeouts;
    char address[INET6_ADDRSTRLEN] = "-";
    if (status == ARES_SUCCESS && host->h_addr_list[0] != NULL) {
        inet_ntop(host->h_addrtype, host->h_addr_list[0], address, sizeof address);
    }
    printf("%s: %s %s %s\n", (const char *)argument, ares_strerror(status), status == ARES_SUCCESS ? host->h_name : "-",
           address);
}

int main(void) {
    if (ares_library_init(ARES_LIB_INIT_ALL) != ARES_SUCCESS) {
        return 2;
    }
    printf("c-ares %s\n", ares_version(NULL));
    ares_channel channel;
    struct ares_options options;
    memset(&options, 0, sizeof options);
    options.lookups = "f";
    options.timeout = 2000;
    options.tries = 1;
    if (ares_init_options(&channel, &options, ARES_OPT_LOOKUPS | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES) != ARES_SUCCESS) {
        return 3;
    }
    ares_gethostbyname(channel, "localhost", AF_INET, on_host, "localhost");
    ares_gethostbyname(channel, "127.0.0.2", AF_INET, on_host, "127.0.0.2");
    for (;;) {
        fd_set readers, writers;
        FD_ZERO(&readers);
        FD_ZERO(&writers);
        int count = ares_fds(channel, &readers, &writers);
        if (count == 0) {
            break;
        }
        struct timeval wait, *timeout = ares_timeout(channel, NULL, &wait);
        select(count, &readers, &writers, NULL, timeout);
        ares_process(channel, &readers, &writers);
    }
    ares_destroy(channel);
    ares_library_cleanup();
    printf("done\n");
    return 0;
}
