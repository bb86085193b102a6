// swift-gevent: an empty program, to time process start with and without LD_PRELOAD (run-startup.sh).
int main(void) {
    return 0;
}
