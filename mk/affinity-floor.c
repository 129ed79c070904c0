/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * make bench, figure 4's floor: what the host charges for placing N
 * threads, with no QEMU around it.  N threads sleep on a condition
 * variable, as the vCPU threads of a stopped VM do; the main thread gives
 * them the first and the second host CPU in turn, one sched_setaffinity()
 * each, as vcpu-affinity does.
 *
 *   affinity-floor N ROUNDS free    the calling thread may run anywhere
 *                                   (a rule naming the vCPUs only)
 *   affinity-floor N ROUNDS follow  the calling thread is on the old CPU,
 *                                   and moves itself to the new one last
 *                                   (the default rule, which places the
 *                                   main loop, the thread doing the work)
 *
 * Prints the median and the minimum of the rounds, in milliseconds.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static pid_t *tids;
static int started;

static void *sleeper(void *opaque)
{
    pthread_mutex_lock(&lock);
    tids[(long)opaque] = syscall(SYS_gettid);
    started++;
    pthread_cond_broadcast(&cond);
    for (;;) {
        pthread_cond_wait(&cond, &lock);
    }
    return NULL;
}

static double now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    cpu_set_t host, one[2];
    int n, rounds, follow, cpu, i, r;
    double *ms, t;
    pthread_t thread;

    n = argc == 4 ? atoi(argv[1]) : 0;
    rounds = argc == 4 ? atoi(argv[2]) : 0;
    if (n <= 0 || rounds <= 0 ||
        (strcmp(argv[3], "free") && strcmp(argv[3], "follow"))) {
        fprintf(stderr, "usage: %s THREADS ROUNDS free|follow\n", argv[0]);
        return 2;
    }
    follow = !strcmp(argv[3], "follow");
    if (sched_getaffinity(0, sizeof(host), &host) || CPU_COUNT(&host) < 2) {
        fprintf(stderr, "%s: needs two host CPUs\n", argv[0]);
        return 2;
    }
    CPU_ZERO(&one[0]);
    CPU_ZERO(&one[1]);
    for (cpu = 0, i = 0; i < 2; cpu++) {
        if (CPU_ISSET(cpu, &host)) {
            CPU_SET(cpu, &one[i++]);
        }
    }

    tids = calloc(n, sizeof(*tids));
    ms = calloc(rounds, sizeof(*ms));
    for (i = 0; i < n; i++) {
        if (pthread_create(&thread, NULL, sleeper, (void *)(long)i)) {
            perror("pthread_create");
            return 1;
        }
    }
    pthread_mutex_lock(&lock);
    while (started < n) {
        pthread_cond_wait(&cond, &lock);
    }
    pthread_mutex_unlock(&lock);

    if (follow && sched_setaffinity(0, sizeof(one[0]), &one[0])) {
        perror("sched_setaffinity");
        return 1;
    }
    for (r = 0; r < rounds; r++) {
        const cpu_set_t *want = &one[(r + 1) % 2];

        usleep(2000);
        t = now_ms();
        for (i = 0; i < n; i++) {
            if (sched_setaffinity(tids[i], sizeof(*want), want)) {
                perror("sched_setaffinity");
                return 1;
            }
        }
        if (follow && sched_setaffinity(0, sizeof(*want), want)) {
            perror("sched_setaffinity");
            return 1;
        }
        ms[r] = now_ms() - t;
    }
    qsort(ms, rounds, sizeof(*ms), cmp_double);
    printf("%.3f %.3f\n", ms[rounds / 2], ms[0]);
    return 0;
}
