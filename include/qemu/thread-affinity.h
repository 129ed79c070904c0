/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Host CPU affinity of threads for any number of host CPUs, by thread id,
 * and the host CPUs of host NUMA nodes.
 *
 * A set of host CPUs is a bitmap (qemu/bitmap.h) of @nbits bits, bit N
 * for host CPU N, as for qemu_thread_set_affinity().  These functions know
 * nothing of their callers' configuration: their errors say what failed,
 * and callers prepend what it was for.
 */
#ifndef QEMU_THREAD_AFFINITY_H
#define QEMU_THREAD_AFFINITY_H

/* "0-3,8": the host CPUs of @host_cpus, for messages and traces */
char *qemu_host_cpus_to_str(const unsigned long *host_cpus,
                            unsigned long nbits);

/*
 * qemu_host_node_cpus:
 * Add the CPUs of host NUMA node @node, those below @nbits, to
 * @host_cpus.  Fails if QEMU has no libnuma, the host no NUMA
 * information, or the node does not exist.
 */
bool qemu_host_node_cpus(unsigned int node, unsigned long *host_cpus,
                         unsigned long nbits, Error **errp);

#ifdef CONFIG_PTHREAD_AFFINITY_NP
#include <sched.h>

/*
 * The kernel's cpu_set_t, sized for the host.  A QemuCpuSetGetFunc fills
 * @set of @setsize bytes and returns 0 or an errno value, EINVAL when
 * @set is too small for the host.
 */
typedef int (*QemuCpuSetGetFunc)(void *opaque, size_t setsize,
                                 cpu_set_t *set);

/*
 * qemu_cpu_set_new:
 * A new cpu_set_t holding the host CPUs of @host_cpus, and its size in
 * bytes in @setsize.  Free it with CPU_FREE().
 */
cpu_set_t *qemu_cpu_set_new(const unsigned long *host_cpus,
                            unsigned long nbits, size_t *setsize);

/*
 * qemu_cpu_set_get:
 * Read a cpu_set_t with @get, as large as the host needs, into a new
 * bitmap @host_cpus of @nbits bits.  Returns 0 or @get's errno value.
 */
int qemu_cpu_set_get(QemuCpuSetGetFunc get, void *opaque,
                     unsigned long **host_cpus, unsigned long *nbits);

#ifdef CONFIG_LINUX
/*
 * qemu_thread_id_get_affinity:
 * The host CPUs that thread @tid of this process may run on, as a new
 * bitmap @host_cpus of @nbits bits.  @tid 0 is the calling thread: read
 * before anyone has pinned it, the host CPUs QEMU may run on (taskset,
 * cpuset cgroup).  Returns 0 or a negative errno value, -ESRCH if the
 * thread has exited.
 */
int qemu_thread_id_get_affinity(pid_t tid, unsigned long **host_cpus,
                                unsigned long *nbits, Error **errp);

/*
 * qemu_thread_id_set_affinity:
 * Let thread @tid run on the host CPUs of @host_cpus only.  Returns 0 or
 * a negative errno value, -ESRCH if the thread has exited.
 */
int qemu_thread_id_set_affinity(pid_t tid, const unsigned long *host_cpus,
                                unsigned long nbits, Error **errp);

/*
 * qemu_thread_affinity_permitted:
 * Whether QEMU may change the affinity of its threads: -sandbox
 * resourcecontrol=deny forbids it.
 */
bool qemu_thread_affinity_permitted(Error **errp);
#endif /* CONFIG_LINUX */
#endif /* CONFIG_PTHREAD_AFFINITY_NP */

#endif
