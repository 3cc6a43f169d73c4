/* LD_PRELOAD shim: every fsync/fdatasync takes SLOW_FSYNC_MS (default 7) ms longer.
 *
 * For bench_slow_disk.py only: it simulates a slow disk (a network share, a busy SAN)
 * under the journal's synchronous=FULL commits. Built by the benchmark with the
 * machine's cc; never part of the package. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <time.h>

static void pause_ms(void) {
    const char *env = getenv("SLOW_FSYNC_MS");
    long ms = env ? atol(env) : 7;
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

int fsync(int fd) {
    static int (*real)(int) = NULL;
    if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
    pause_ms();
    return real(fd);
}

int fdatasync(int fd) {
    static int (*real)(int) = NULL;
    if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
    pause_ms();
    return real(fd);
}
