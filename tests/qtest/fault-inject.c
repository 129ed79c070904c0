/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A library that qtests preload into QEMU (LD_PRELOAD) to make one host
 * call fail, at a moment the test chooses: the calls QEMU makes to place
 * its threads (sched_setaffinity, sched_getaffinity) and to read host
 * nodes (libnuma's numa_available, numa_node_to_cpus).
 *
 * QEMU_FAULT_INJECT names a file; while it exists, its one line arms one
 * fault:
 *
 *     FUNCTION SKIP ERRNO [TID]
 *
 * The next SKIP calls of FUNCTION (on thread id TID only, if given and not
 * 0) go through; the one after fails with ERRNO, and the file is removed,
 * so that a test knows the fault happened.  Each call that goes through
 * writes SKIP - 1 back.  The calls that the tests arm are made under
 * QEMU's big lock, one at a time.
 *
 * It is loaded into processes that know nothing of QEMU (the shell that
 * qtest starts QEMU with, too), so it uses the C library only, not
 * qemu/osdep.h.
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE         /* RTLD_NEXT, cpu_set_t */
#endif
#include <dlfcn.h>
#include <errno.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Whether this call of @func on @tid fails, and with which errno */
static bool fault_now(const char *func, pid_t tid, int *err)
{
    const char *path = getenv("QEMU_FAULT_INJECT");
    char name[64];
    unsigned int skip;
    int e, t = 0, n;
    FILE *f;

    if (!path) {
        return false;
    }
    f = fopen(path, "r");
    if (!f) {
        return false;
    }
    n = fscanf(f, "%63s %u %d %d", name, &skip, &e, &t);
    fclose(f);
    if (n < 3 || strcmp(name, func) || (t && t != tid)) {
        return false;
    }
    if (skip) {
        f = fopen(path, "w");
        if (f) {
            fprintf(f, "%s %u %d %d\n", name, skip - 1, e, t);
            fclose(f);
        }
        return false;
    }
    unlink(path);
    *err = e;
    return true;
}

static void *next(const char *func)
{
    void *p = dlsym(RTLD_NEXT, func);

    if (!p) {
        fprintf(stderr, "fault-inject: no %s\n", func);
        abort();
    }
    return p;
}

int sched_setaffinity(pid_t tid, size_t size, const cpu_set_t *set)
{
    int (*real)(pid_t, size_t, const cpu_set_t *) = next(__func__);
    int err;

    if (fault_now(__func__, tid, &err)) {
        errno = err;
        return -1;
    }
    return real(tid, size, set);
}

int sched_getaffinity(pid_t tid, size_t size, cpu_set_t *set)
{
    int (*real)(pid_t, size_t, cpu_set_t *) = next(__func__);
    int err;

    if (fault_now(__func__, tid, &err)) {
        errno = err;
        return -1;
    }
    return real(tid, size, set);
}

/* libnuma's, with its struct bitmask left opaque */
int numa_available(void)
{
    int (*real)(void) = next(__func__);
    int err;

    if (fault_now(__func__, 0, &err)) {
        return -1;
    }
    return real();
}

int numa_node_to_cpus(int node, void *mask)
{
    int (*real)(int, void *) = next(__func__);
    int err;

    if (fault_now(__func__, 0, &err)) {
        errno = err;
        return -1;
    }
    return real(node, mask);
}
