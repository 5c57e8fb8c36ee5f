// LD_PRELOAD shim for measurements: every fsync() and fdatasync() of the process takes
// SLOW_FSYNC_FACTOR (default 40) times as long as the real call, by sleeping the difference after
// it. It models a disk whose syncs are that much slower; writes to the page cache are untouched.
// Used by scripts/measure/slow-follower-outage.sh; not part of any server.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <time.h>

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void stretch(double took_s) {
    const char* factor_text = getenv("SLOW_FSYNC_FACTOR");
    const double factor = factor_text ? atof(factor_text) : 40.0;
    const double extra = took_s * (factor - 1.0);
    if (extra <= 0) return;
    struct timespec pause = {(time_t)extra, (long)((extra - (double)(time_t)extra) * 1e9)};
    nanosleep(&pause, NULL);
}

int fsync(int fd) {
    static int (*real)(int);
    if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
    const double start = now_s();
    const int result = real(fd);
    stretch(now_s() - start);
    return result;
}

int fdatasync(int fd) {
    static int (*real)(int);
    if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
    const double start = now_s();
    const int result = real(fd);
    stretch(now_s() - start);
    return result;
}
