/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Host CPU affinity of threads for any number of host CPUs, by thread id,
 * and the host CPUs of host NUMA nodes.
 *
 * The conversion between bitmaps and the kernel's cpu_set_t, sized for
 * the host, is here once: qemu_thread_get_affinity() and
 * qemu_thread_set_affinity() (util/qemu-thread-posix.c) use it for
 * QemuThreads, the functions below for thread ids, by which the thread
 * registry (util/thread-registry.c) knows every thread.  Host node to CPUs
 * is here once too, for the thread-context object and vcpu-affinity.
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qemu/bitmap.h"
#include "qemu/thread-affinity.h"
#ifdef CONFIG_NUMA
#include <numa.h>
#endif

char *qemu_host_cpus_to_str(const unsigned long *host_cpus,
                            unsigned long nbits)
{
    GString *s = g_string_new(NULL);
    unsigned long i = find_first_bit(host_cpus, nbits), j;

    while (i < nbits) {
        j = find_next_zero_bit(host_cpus, nbits, i);
        g_string_append_printf(s, "%s%lu", s->len ? "," : "", i);
        if (j - 1 > i) {
            g_string_append_printf(s, "-%lu", j - 1);
        }
        i = find_next_bit(host_cpus, nbits, j);
    }
    return g_string_free(s, false);
}

bool qemu_host_node_cpus(unsigned int node, unsigned long *host_cpus,
                         unsigned long nbits, Error **errp)
{
#ifdef CONFIG_NUMA
    struct bitmask *cpus;
    unsigned long i;

    if (numa_available() < 0) {
        error_setg(errp, "the host has no NUMA information for host node %u",
                   node);
        return false;
    }
    if (node > numa_max_node() ||
        !numa_bitmask_isbitset(numa_nodes_ptr, node)) {
        error_setg(errp, "host node %u does not exist (host nodes: 0-%d)",
                   node, numa_max_node());
        return false;
    }
    cpus = numa_allocate_cpumask();
    if (numa_node_to_cpus(node, cpus)) {
        numa_free_cpumask(cpus);
        error_setg(errp, "cannot read the CPUs of host node %u", node);
        return false;
    }
    for (i = 0; i < MIN(cpus->size, nbits); i++) {
        if (numa_bitmask_isbitset(cpus, i)) {
            set_bit(i, host_cpus);
        }
    }
    numa_free_cpumask(cpus);
    return true;
#else
    error_setg(errp, "host nodes need QEMU built with libnuma");
    return false;
#endif
}

#ifdef CONFIG_PTHREAD_AFFINITY_NP

/* The kernel wants masks of at least its CPU count: grow up to this */
#define CPU_SET_MAX_BITS (1UL << 20)

cpu_set_t *qemu_cpu_set_new(const unsigned long *host_cpus,
                            unsigned long nbits, size_t *setsize)
{
    cpu_set_t *set = CPU_ALLOC(nbits);
    unsigned long i;

    g_assert(set);
    *setsize = CPU_ALLOC_SIZE(nbits);
    CPU_ZERO_S(*setsize, set);
    for (i = find_first_bit(host_cpus, nbits); i < nbits;
         i = find_next_bit(host_cpus, nbits, i + 1)) {
        CPU_SET_S(i, *setsize, set);
    }
    return set;
}

int qemu_cpu_set_get(QemuCpuSetGetFunc get, void *opaque,
                     unsigned long **host_cpus, unsigned long *nbits)
{
    unsigned long n, i;
    size_t setsize;
    cpu_set_t *set;
    int err, count;

    /* grow the set until the kernel accepts its size */
    for (n = CPU_SETSIZE; ; n *= 2) {
        setsize = CPU_ALLOC_SIZE(n);
        set = CPU_ALLOC(n);
        g_assert(set);
        err = get(opaque, setsize, set);
        if (err != EINVAL || n >= CPU_SET_MAX_BITS) {
            break;
        }
        CPU_FREE(set);
    }
    if (!err) {
        *host_cpus = bitmap_new(n);
        *nbits = n;
        /* stop at the last set bit: the set is sized for any host */
        for (i = 0, count = CPU_COUNT_S(setsize, set); count; i++) {
            if (CPU_ISSET_S(i, setsize, set)) {
                set_bit(i, *host_cpus);
                count--;
            }
        }
    }
    CPU_FREE(set);
    return err;
}

#ifdef CONFIG_LINUX

static int thread_id_get(void *opaque, size_t setsize, cpu_set_t *set)
{
    pid_t tid = *(pid_t *)opaque;

    return sched_getaffinity(tid, setsize, set) ? errno : 0;
}

/*
 * Linux takes the mask as an array of unsigned long, CPU N being bit
 * N % BITS_PER_LONG of word N / BITS_PER_LONG (and zero-fills what is
 * shorter than its own): a bitmap's layout, so it goes as it is.  Placing
 * every thread of a large VM then costs no copy and no allocation.
 */
static int thread_id_set(pid_t tid, const unsigned long *host_cpus,
                         unsigned long nbits)
{
    size_t size = BITS_TO_LONGS(nbits) * sizeof(unsigned long);

    return sched_setaffinity(tid, size, (const cpu_set_t *)host_cpus) ?
        -errno : 0;
}

int qemu_thread_id_get_affinity(pid_t tid, unsigned long **host_cpus,
                                unsigned long *nbits, Error **errp)
{
    int err = qemu_cpu_set_get(thread_id_get, &tid, host_cpus, nbits);

    if (err) {
        error_setg_errno(errp, err, "cannot read the host CPUs of thread %d",
                         tid);
    }
    return -err;
}

int qemu_thread_id_set_affinity(pid_t tid, const unsigned long *host_cpus,
                                unsigned long nbits, Error **errp)
{
    int ret = thread_id_set(tid, host_cpus, nbits);

    if (ret) {
        g_autofree char *list = qemu_host_cpus_to_str(host_cpus, nbits);

        error_setg_errno(errp, -ret, "cannot place thread %d on host CPUs %s",
                         tid, list);
    }
    return ret;
}

bool qemu_thread_affinity_permitted(Error **errp)
{
    unsigned long *host_cpus, nbits;
    pid_t self = 0;
    int ret = -qemu_cpu_set_get(thread_id_get, &self, &host_cpus, &nbits);

    /* setting the CPUs the calling thread has changes nothing */
    if (!ret) {
        ret = thread_id_set(self, host_cpus, nbits);
        g_free(host_cpus);
    }
    if (ret) {
        error_setg_errno(errp, -ret, "cannot set thread affinity%s",
                         ret == -EPERM ? " (is -sandbox resourcecontrol=deny "
                         "in effect?)" : "");
        return false;
    }
    return true;
}

#endif /* CONFIG_LINUX */
#endif /* CONFIG_PTHREAD_AFFINITY_NP */
