/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * vcpu-affinity and emulator-affinity objects: QEMU places its own threads
 * on host CPUs from the machine configuration, with the semantics of
 * libvirt's <vcpu cpuset>, <vcpupin>, <emulatorpin> and automatic
 * placement:
 *
 *   vcpu-affinity,vcpus=LIST,host-cpus=...   those vCPUs           (vcpupin)
 *   vcpu-affinity,node=N,host-...            vCPUs of guest node N
 *   vcpu-affinity,node=N                     the same, host CPUs of the
 *                                            host nodes N's memdev binds
 *   vcpu-affinity,host-...                   the default set   (vcpu cpuset)
 *   emulator-affinity,host-...               non-vCPU threads  (emulatorpin)
 *
 * A vCPU takes the first rule that matches in that order (vcpus, node,
 * default), else the CPUs QEMU was allowed at start.  Emulator threads take
 * the emulator rule, else the default one, else the start set; the threads
 * of IOThreads and thread contexts have their own objects and are left
 * alone.  Rules are applied when a vCPU thread is created (before it can
 * run guest code: vCPUs are created stopped), when the machine is ready,
 * and at once when a rule is added, changed or deleted at runtime; a
 * change that cannot be applied to every thread is undone.
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qapi/visitor.h"
#include "qapi/qapi-builtin-visit.h"
#include "qapi/qapi-commands-vcpu-affinity.h"
#include "qom/object_interfaces.h"
#include "qemu/bitmap.h"
#include "qemu/error-report.h"
#include "qemu/module.h"
#include "qemu/queue.h"
#include "qemu/thread-context.h"
#include "hw/boards.h"
#include "hw/core/cpu.h"
#include "sysemu/hostmem.h"
#include "sysemu/iothread.h"
#include "sysemu/numa.h"
#include "sysemu/vcpu-affinity.h"
#include "monitor/hmp.h"
#include "monitor/monitor.h"
#include "trace.h"
#ifdef CONFIG_NUMA
#include <numa.h>
#endif

#define TYPE_AFFINITY_RULE "affinity-rule"
OBJECT_DECLARE_SIMPLE_TYPE(AffinityRule, AFFINITY_RULE)

typedef enum AffinityLevel {
    LEVEL_VCPUS,            /* vcpu-affinity,vcpus= */
    LEVEL_NODE,             /* vcpu-affinity,node= */
    LEVEL_DEFAULT,          /* vcpu-affinity without vcpus and node */
    LEVEL_EMULATOR,         /* emulator-affinity */
} AffinityLevel;

struct AffinityRule {
    Object parent_obj;

    bool emulator;
    unsigned long *vcpus;           /* NULL: no vcpus property */
    long vcpus_nbits;
    bool has_node;
    uint32_t node;
    unsigned long *host_cpus;       /* NULL: no host-cpus property */
    long host_cpus_nbits;
    unsigned long *host_nodes;      /* NULL: no host-nodes property */
    long host_nodes_nbits;

    bool listed;                    /* completed, in the rule list */
    bool deleting;                  /* being deleted: ignore it */
    QTAILQ_ENTRY(AffinityRule) next;
};

static QTAILQ_HEAD(, AffinityRule) rules = QTAILQ_HEAD_INITIALIZER(rules);

/* The CPUs QEMU was allowed to run on at start, and the bitmap size */
static unsigned long *start_set;
static long host_nbits;
static bool machine_ready;

static const char *rule_id(AffinityRule *r)
{
    return object_get_canonical_path_component(OBJECT(r)) ?: "?";
}

static const char *rule_type(AffinityRule *r)
{
    return object_get_typename(OBJECT(r));
}

static AffinityLevel rule_level(AffinityRule *r)
{
    if (r->emulator) {
        return LEVEL_EMULATOR;
    }
    if (r->vcpus) {
        return LEVEL_VCPUS;
    }
    return r->has_node ? LEVEL_NODE : LEVEL_DEFAULT;
}

/* "0-3,8" for a bitmap, for messages and traces */
static char *bitmap_to_list(const unsigned long *map, long nbits)
{
    GString *s = g_string_new(NULL);
    long i = find_first_bit(map, nbits), j;

    while (i < nbits) {
        j = find_next_zero_bit(map, nbits, i);
        g_string_append_printf(s, "%s%ld", s->len ? "," : "", i);
        if (j - 1 > i) {
            g_string_append_printf(s, "-%ld", j - 1);
        }
        i = find_next_bit(map, nbits, j);
    }
    return g_string_free(s, false);
}

static unsigned long *bitmap_dup(const unsigned long *map, long nbits)
{
    unsigned long *copy = bitmap_new(nbits);

    bitmap_copy(copy, map, nbits);
    return copy;
}

/* Host thread affinity, any number of CPUs -------------------------------- */

static int thread_get_affinity(pid_t tid, unsigned long *map)
{
    size_t size = CPU_ALLOC_SIZE(host_nbits);
    cpu_set_t *set = CPU_ALLOC(host_nbits);
    long i;
    int ret = 0;

    if (sched_getaffinity(tid, size, set)) {
        ret = -errno;
    } else {
        bitmap_zero(map, host_nbits);
        for (i = 0; i < host_nbits; i++) {
            if (CPU_ISSET_S(i, size, set)) {
                set_bit(i, map);
            }
        }
    }
    CPU_FREE(set);
    return ret;
}

static int thread_set_affinity(pid_t tid, const unsigned long *map)
{
    size_t size = CPU_ALLOC_SIZE(host_nbits);
    cpu_set_t *set = CPU_ALLOC(host_nbits);
    long i;
    int ret = 0;

    CPU_ZERO_S(size, set);
    for (i = find_first_bit(map, host_nbits); i < host_nbits;
         i = find_next_bit(map, host_nbits, i + 1)) {
        CPU_SET_S(i, size, set);
    }
    if (sched_setaffinity(tid, size, set)) {
        ret = -errno;
    }
    CPU_FREE(set);
    return ret;
}

/* Learn the host's CPU count and QEMU's start set, once */
static void affinity_init_host(void)
{
    size_t size;
    cpu_set_t *set;

    if (start_set) {
        return;
    }
    /* grow the mask until the kernel accepts its size */
    for (host_nbits = 1024; ; host_nbits *= 2) {
        size = CPU_ALLOC_SIZE(host_nbits);
        set = CPU_ALLOC(host_nbits);
        if (!sched_getaffinity(0, size, set)) {
            CPU_FREE(set);
            break;
        }
        CPU_FREE(set);
        if (errno != EINVAL || host_nbits >= (1L << 20)) {
            host_nbits = 0;
            return;
        }
    }
#ifdef CONFIG_NUMA
    if (numa_available() >= 0) {
        host_nbits = MAX(host_nbits, numa_num_possible_cpus());
    }
#endif
    start_set = bitmap_new(host_nbits);
    if (thread_get_affinity(0, start_set)) {
        bitmap_fill(start_set, host_nbits);
    }
}

/* Changing affinity is allowed (-sandbox resourcecontrol=deny forbids it) */
static bool affinity_permitted(AffinityRule *r, Error **errp)
{
    unsigned long *map;
    int ret;

    if (!start_set) {
        error_setg(errp, "%s '%s': cannot read the host CPUs QEMU may run on",
                   rule_type(r), rule_id(r));
        return false;
    }
    map = bitmap_new(host_nbits);
    ret = thread_get_affinity(0, map);
    if (!ret) {
        ret = thread_set_affinity(0, map);
    }
    g_free(map);
    if (ret) {
        error_setg_errno(errp, -ret, "%s '%s': cannot set thread affinity%s",
                         rule_type(r), rule_id(r),
                         ret == -EPERM ? " (is -sandbox resourcecontrol=deny "
                         "in effect?)" : "");
        return false;
    }
    return true;
}

/* Rules: host sets --------------------------------------------------------- */

/* Add the CPUs of host node @node that QEMU may use to @map */
static bool add_host_node(AffinityRule *r, unsigned int node,
                          unsigned long *map, Error **errp)
{
#ifdef CONFIG_NUMA
    struct bitmask *cpus;
    bool any = false;
    long i;

    if (numa_available() < 0) {
        error_setg(errp, "%s '%s': the host has no NUMA information for "
                   "host node %u", rule_type(r), rule_id(r), node);
        return false;
    }
    if (node > numa_max_node() ||
        !numa_bitmask_isbitset(numa_all_nodes_ptr, node)) {
        error_setg(errp, "%s '%s': host node %u does not exist (host nodes: "
                   "0-%d)", rule_type(r), rule_id(r), node, numa_max_node());
        return false;
    }
    cpus = numa_allocate_cpumask();
    if (numa_node_to_cpus(node, cpus)) {
        numa_free_cpumask(cpus);
        error_setg(errp, "%s '%s': cannot read the CPUs of host node %u",
                   rule_type(r), rule_id(r), node);
        return false;
    }
    for (i = 0; i < MIN((long)cpus->size, host_nbits); i++) {
        if (numa_bitmask_isbitset(cpus, i) && test_bit(i, start_set)) {
            set_bit(i, map);
            any = true;
        }
    }
    numa_free_cpumask(cpus);
    if (!any) {
        error_setg(errp, "%s '%s': host node %u has no CPU that QEMU may run "
                   "on", rule_type(r), rule_id(r), node);
        return false;
    }
    return true;
#else
    error_setg(errp, "%s '%s': host nodes need QEMU built with libnuma",
               rule_type(r), rule_id(r));
    return false;
#endif
}

static bool add_host_nodes(AffinityRule *r, const unsigned long *nodes,
                           long nbits, unsigned long *map, Error **errp)
{
    long n;

    for (n = find_first_bit(nodes, nbits); n < nbits;
         n = find_next_bit(nodes, nbits, n + 1)) {
        if (!add_host_node(r, n, map, errp)) {
            return false;
        }
    }
    return true;
}

/* Automatic placement: the host nodes that guest node @node's memdev binds */
static bool add_auto_nodes(AffinityRule *r, unsigned long *map, Error **errp)
{
    MachineState *ms = current_machine;
    HostMemoryBackend *memdev;

    if (!ms->numa_state || r->node >= ms->numa_state->num_nodes ||
        !ms->numa_state->nodes[r->node].present) {
        error_setg(errp, "%s '%s': guest node %u is not defined with -numa "
                   "node", rule_type(r), rule_id(r), r->node);
        return false;
    }
    memdev = ms->numa_state->nodes[r->node].node_memdev;
    if (!memdev || memdev->policy != HOST_MEM_POLICY_BIND ||
        bitmap_empty(memdev->host_nodes, MAX_NODES)) {
        error_setg(errp, "%s '%s': automatic placement needs guest node %u's "
                   "memdev bound to host nodes (policy=bind,host-nodes=...); "
                   "or give host-cpus or host-nodes", rule_type(r),
                   rule_id(r), r->node);
        return false;
    }
    return add_host_nodes(r, memdev->host_nodes, MAX_NODES, map, errp);
}

/*
 * The host CPUs of rule @r, a new bitmap of host_nbits.  Automatic
 * placement needs the machine's NUMA configuration.
 */
static unsigned long *rule_host_set(AffinityRule *r, Error **errp)
{
    unsigned long *map = bitmap_new(host_nbits);
    long i;

    if (r->host_cpus) {
        for (i = find_first_bit(r->host_cpus, r->host_cpus_nbits);
             i < r->host_cpus_nbits;
             i = find_next_bit(r->host_cpus, r->host_cpus_nbits, i + 1)) {
            if (i >= host_nbits || !test_bit(i, start_set)) {
                g_autofree char *allowed = bitmap_to_list(start_set,
                                                          host_nbits);
                error_setg(errp, "%s '%s': host CPU %ld is not one QEMU may "
                           "run on (%s)", rule_type(r), rule_id(r), i,
                           allowed);
                goto fail;
            }
            set_bit(i, map);
        }
    } else if (r->host_nodes) {
        if (!add_host_nodes(r, r->host_nodes, r->host_nodes_nbits, map,
                            errp)) {
            goto fail;
        }
    } else if (!add_auto_nodes(r, map, errp)) {
        goto fail;
    }
    return map;
fail:
    g_free(map);
    return NULL;
}

/* Checks of a rule on its own, when it is completed */
static bool rule_check_self(AffinityRule *r, Error **errp)
{
    if (r->host_cpus && r->host_nodes) {
        error_setg(errp, "%s '%s': give host-cpus or host-nodes, not both",
                   rule_type(r), rule_id(r));
        return false;
    }
    if (r->vcpus && r->has_node) {
        error_setg(errp, "%s '%s': give vcpus or node, not both",
                   rule_type(r), rule_id(r));
        return false;
    }
    if (!r->host_cpus && !r->host_nodes && !r->has_node) {
        error_setg(errp, "%s '%s': give host-cpus or host-nodes%s",
                   rule_type(r), rule_id(r),
                   r->emulator ? "" : " (or node, for automatic placement)");
        return false;
    }
    if (r->host_cpus && bitmap_empty(r->host_cpus, r->host_cpus_nbits)) {
        error_setg(errp, "%s '%s': host-cpus is empty", rule_type(r),
                   rule_id(r));
        return false;
    }
    if (r->host_nodes && bitmap_empty(r->host_nodes, r->host_nodes_nbits)) {
        error_setg(errp, "%s '%s': host-nodes is empty", rule_type(r),
                   rule_id(r));
        return false;
    }
    if (r->vcpus && bitmap_empty(r->vcpus, r->vcpus_nbits)) {
        error_setg(errp, "%s '%s': vcpus is empty", rule_type(r), rule_id(r));
        return false;
    }
    if (!affinity_permitted(r, errp)) {
        return false;
    }
    /* host CPUs and host nodes need no machine: check them now */
    if (r->host_cpus || r->host_nodes) {
        unsigned long *map = rule_host_set(r, errp);

        g_free(map);
        return map != NULL;
    }
    return true;
}

/* Does guest node @node have a vCPU? */
static bool node_has_vcpus(MachineState *ms, uint32_t node)
{
    const CPUArchIdList *cpus = MACHINE_GET_CLASS(ms)->possible_cpu_arch_ids ?
        MACHINE_GET_CLASS(ms)->possible_cpu_arch_ids(ms) : NULL;
    int i;

    for (i = 0; cpus && i < cpus->len; i++) {
        if (cpus->cpus[i].props.has_node_id &&
            cpus->cpus[i].props.node_id == node) {
            return true;
        }
    }
    return false;
}

/* Checks of a rule against the machine and the other rules */
static bool rule_check_machine(AffinityRule *r, Error **errp)
{
    MachineState *ms = current_machine;
    AffinityRule *o;
    unsigned long *map;
    long last;

    if (r->vcpus) {
        last = find_last_bit(r->vcpus, r->vcpus_nbits);
        if (last >= ms->smp.max_cpus) {
            error_setg(errp, "%s '%s': vCPU %ld does not exist (maxcpus=%u)",
                       rule_type(r), rule_id(r), last, ms->smp.max_cpus);
            return false;
        }
    }
    if (r->has_node) {
        if (!ms->numa_state || !ms->numa_state->num_nodes) {
            error_setg(errp, "%s '%s': node=%u, but the machine has no NUMA "
                       "nodes", rule_type(r), rule_id(r), r->node);
            return false;
        }
        if (r->node >= ms->numa_state->num_nodes ||
            !ms->numa_state->nodes[r->node].present) {
            error_setg(errp, "%s '%s': guest node %u is not defined with "
                       "-numa node", rule_type(r), rule_id(r), r->node);
            return false;
        }
        if (!node_has_vcpus(ms, r->node)) {
            error_setg(errp, "%s '%s': guest node %u has no vCPUs",
                       rule_type(r), rule_id(r), r->node);
            return false;
        }
    }
    map = rule_host_set(r, errp);
    if (!map) {
        return false;
    }
    g_free(map);

    /* against the rules created before this one, so the later is blamed */
    QTAILQ_FOREACH(o, &rules, next) {
        if (o == r) {
            break;
        }
        if (o->deleting || rule_level(o) != rule_level(r)) {
            continue;
        }
        switch (rule_level(r)) {
        case LEVEL_VCPUS: {
            long i, n = MIN(r->vcpus_nbits, o->vcpus_nbits);

            for (i = 0; i < n; i++) {
                if (test_bit(i, r->vcpus) && test_bit(i, o->vcpus)) {
                    error_setg(errp, "%s '%s': vCPU %ld is already placed "
                               "by '%s'", rule_type(r), rule_id(r), i,
                               rule_id(o));
                    return false;
                }
            }
            break;
        }
        case LEVEL_NODE:
            if (o->node == r->node) {
                error_setg(errp, "%s '%s': guest node %u is already placed "
                           "by '%s'", rule_type(r), rule_id(r), r->node,
                           rule_id(o));
                return false;
            }
            break;
        case LEVEL_DEFAULT:
            error_setg(errp, "%s '%s': '%s' already gives the default host "
                       "CPUs", rule_type(r), rule_id(r), rule_id(o));
            return false;
        case LEVEL_EMULATOR:
            error_setg(errp, "%s '%s': '%s' already places the emulator "
                       "threads", rule_type(r), rule_id(r), rule_id(o));
            return false;
        }
    }
    return true;
}

/* Resolution -------------------------------------------------------------- */

/* The guest node of vCPU @index, or -1 */
static int vcpu_node(MachineState *ms, int index)
{
    const CPUArchIdList *cpus;

    if (!MACHINE_GET_CLASS(ms)->possible_cpu_arch_ids) {
        return -1;
    }
    cpus = MACHINE_GET_CLASS(ms)->possible_cpu_arch_ids(ms);
    if (index < cpus->len && cpus->cpus[index].props.has_node_id) {
        return cpus->cpus[index].props.node_id;
    }
    return -1;
}

/* The rule of vCPU @index (NULL: the start set) */
static AffinityRule *vcpu_rule(int index)
{
    int node = vcpu_node(current_machine, index);
    AffinityRule *r, *by_node = NULL, *by_default = NULL;

    QTAILQ_FOREACH(r, &rules, next) {
        if (!r->listed || r->deleting) {
            continue;
        }
        switch (rule_level(r)) {
        case LEVEL_VCPUS:
            if (index < r->vcpus_nbits && test_bit(index, r->vcpus)) {
                return r;
            }
            break;
        case LEVEL_NODE:
            if (node >= 0 && r->node == node) {
                by_node = r;
            }
            break;
        case LEVEL_DEFAULT:
            by_default = r;
            break;
        default:
            break;
        }
    }
    return by_node ?: by_default;
}

static AffinityRule *emulator_rule(void)
{
    AffinityRule *r, *by_default = NULL;

    QTAILQ_FOREACH(r, &rules, next) {
        if (!r->listed || r->deleting) {
            continue;
        }
        if (rule_level(r) == LEVEL_EMULATOR) {
            return r;
        }
        if (rule_level(r) == LEVEL_DEFAULT) {
            by_default = r;
        }
    }
    return by_default;
}

/* The host CPUs for rule @r, or the start set for none */
static unsigned long *rule_or_start_set(AffinityRule *r, Error **errp)
{
    return r ? rule_host_set(r, errp) : bitmap_dup(start_set,
                                                        host_nbits);
}

/* The vCPU index of @cpu: its place among the machine's possible CPUs */
static int vcpu_index(CPUState *cpu)
{
    MachineState *ms = current_machine;
    const CPUArchIdList *cpus;
    int i;

    if (ms && MACHINE_GET_CLASS(ms)->possible_cpu_arch_ids) {
        cpus = MACHINE_GET_CLASS(ms)->possible_cpu_arch_ids(ms);
        for (i = 0; i < cpus->len; i++) {
            if (cpus->cpus[i].cpu == OBJECT(cpu)) {
                return i;
            }
        }
    }
    return cpu->cpu_index;
}

/* Application ------------------------------------------------------------- */

typedef struct ThreadPin {
    pid_t tid;
    unsigned long *want;
    unsigned long *old;
} ThreadPin;

static void thread_pin_free(gpointer p)
{
    ThreadPin *t = p;

    g_free(t->want);
    g_free(t->old);
    g_free(t);
}

static ThreadPin *pins_find(GPtrArray *pins, pid_t tid)
{
    guint i;

    for (i = 0; i < pins->len; i++) {
        ThreadPin *t = g_ptr_array_index(pins, i);

        if (t->tid == tid) {
            return t;
        }
    }
    return NULL;
}

/* Add @want for @tid; a thread shared by several vCPUs gets the union */
static void pins_add(GPtrArray *pins, pid_t tid, const unsigned long *want)
{
    ThreadPin *t = pins_find(pins, tid);

    if (t) {
        bitmap_or(t->want, t->want, want, host_nbits);
        return;
    }
    t = g_new0(ThreadPin, 1);
    t->tid = tid;
    t->want = bitmap_dup(want, host_nbits);
    g_ptr_array_add(pins, t);
}

static int collect_own_threads(Object *obj, void *opaque)
{
    GArray *tids = opaque;
    pid_t tid = 0;

    if (object_dynamic_cast(obj, TYPE_IOTHREAD)) {
        tid = IOTHREAD(obj)->thread_id;
    } else if (object_dynamic_cast(obj, TYPE_THREAD_CONTEXT)) {
        tid = THREAD_CONTEXT(obj)->thread_id;
    }
    if (tid > 0) {
        g_array_append_val(tids, tid);
    }
    return 0;
}

/* The emulator threads: QEMU's threads but vCPUs, IOThreads, contexts */
static GArray *emulator_threads(void)
{
    GArray *tids = g_array_new(false, false, sizeof(pid_t));
    GArray *skip = g_array_new(false, false, sizeof(pid_t));
    const char *name;
    CPUState *cpu;
    GDir *dir;
    guint i;

    CPU_FOREACH(cpu) {
        if (cpu->thread_id > 0) {
            pid_t tid = cpu->thread_id;

            g_array_append_val(skip, tid);
        }
    }
    object_child_foreach_recursive(object_get_objects_root(),
                                   collect_own_threads, skip);
    dir = g_dir_open("/proc/self/task", 0, NULL);
    while (dir && (name = g_dir_read_name(dir))) {
        pid_t tid = atoi(name);

        for (i = 0; i < skip->len; i++) {
            if (g_array_index(skip, pid_t, i) == tid) {
                break;
            }
        }
        if (tid > 0 && i == skip->len) {
            g_array_append_val(tids, tid);
        }
    }
    if (dir) {
        g_dir_close(dir);
    }
    g_array_free(skip, true);
    return tids;
}

/*
 * Give every vCPU thread (@only: just that vCPU's) and, unless @only, every
 * emulator thread the host CPUs of its rule.  On failure, the threads
 * already changed get their previous affinity back.
 */
static bool affinity_apply(CPUState *only, Error **errp)
{
    g_autoptr(GPtrArray) pins = g_ptr_array_new_with_free_func(thread_pin_free);
    unsigned long *want;
    CPUState *cpu;
    guint i, done;
    int ret = 0;

    CPU_FOREACH(cpu) {
        /* with @only, every vCPU on its thread (single-threaded TCG) */
        if (cpu->thread_id <= 0 ||
            (only && cpu->thread_id != only->thread_id)) {
            continue;
        }
        want = rule_or_start_set(vcpu_rule(vcpu_index(cpu)), errp);
        if (!want) {
            return false;
        }
        pins_add(pins, cpu->thread_id, want);
        g_free(want);
    }
    if (!only) {
        GArray *tids = emulator_threads();

        want = rule_or_start_set(emulator_rule(), errp);
        if (!want) {
            g_array_free(tids, true);
            return false;
        }
        for (i = 0; i < tids->len; i++) {
            pid_t tid = g_array_index(tids, pid_t, i);

            if (!pins_find(pins, tid)) {
                pins_add(pins, tid, want);
            }
        }
        g_free(want);
        g_array_free(tids, true);
    }

    for (done = 0; done < pins->len; done++) {
        ThreadPin *t = g_ptr_array_index(pins, done);
        unsigned long *old = bitmap_new(host_nbits);

        ret = thread_get_affinity(t->tid, old);
        if (!ret) {
            t->old = old;
            ret = thread_set_affinity(t->tid, t->want);
        } else {
            g_free(old);
        }
        if (ret == -ESRCH) {
            ret = 0;        /* the thread has exited meanwhile */
            continue;
        }
        if (ret) {
            g_autofree char *list = bitmap_to_list(t->want, host_nbits);

            error_setg_errno(errp, -ret, "cannot place thread %d on host "
                             "CPUs %s", t->tid, list);
            break;
        }
        if (trace_event_get_state_backends(TRACE_VCPU_AFFINITY_SET)) {
            g_autofree char *list = bitmap_to_list(t->want, host_nbits);

            trace_vcpu_affinity_set(t->tid, list);
        }
    }
    if (!ret) {
        return true;
    }
    /* undo */
    for (i = 0; i < done; i++) {
        ThreadPin *t = g_ptr_array_index(pins, i);

        if (t->old) {
            thread_set_affinity(t->tid, t->old);
        }
    }
    return false;
}

void vcpu_affinity_vcpu_created(CPUState *cpu)
{
    Error *err = NULL;

    if (QTAILQ_EMPTY(&rules) || !start_set) {
        return;
    }
    /*
     * At start-up, vcpu_affinity_machine_ready() checks and reports every
     * rule after the board is built; until then a rule that cannot be
     * resolved yet leaves the thread alone.
     */
    if (!affinity_apply(cpu, &err)) {
        if (machine_ready) {
            warn_report_err(err);
        } else {
            error_free(err);
        }
    }
}

void vcpu_affinity_machine_ready(Error **errp)
{
    AffinityRule *r;

    /* the CPUs QEMU may use, before anyone (libvirt) pins its threads */
    affinity_init_host();
    machine_ready = true;
    if (QTAILQ_EMPTY(&rules)) {
        return;
    }
    QTAILQ_FOREACH(r, &rules, next) {
        if (!rule_check_machine(r, errp)) {
            return;
        }
    }
    affinity_apply(NULL, errp);
}

/* The objects ------------------------------------------------------------- */

/* Read a list property of small integers into a new bitmap */
static bool visit_bitmap(Visitor *v, const char *name, bool is_u16,
                         unsigned long **map, long *nbits, Error **errp)
{
    uint16List *l16 = NULL, *p16;
    uint32List *l32 = NULL, *p32;
    long n = 0;

    if (is_u16) {
        if (!visit_type_uint16List(v, name, &l16, errp)) {
            return false;
        }
        for (p16 = l16; p16; p16 = p16->next) {
            n = MAX(n, p16->value + 1);
        }
        *map = bitmap_new(MAX(n, 1));
        for (p16 = l16; p16; p16 = p16->next) {
            set_bit(p16->value, *map);
        }
        qapi_free_uint16List(l16);
    } else {
        if (!visit_type_uint32List(v, name, &l32, errp)) {
            return false;
        }
        for (p32 = l32; p32; p32 = p32->next) {
            if (p32->value >= 65536) {
                error_setg(errp, "vCPU %u is out of range", p32->value);
                qapi_free_uint32List(l32);
                return false;
            }
            n = MAX(n, (long)p32->value + 1);
        }
        *map = bitmap_new(MAX(n, 1));
        for (p32 = l32; p32; p32 = p32->next) {
            set_bit(p32->value, *map);
        }
        qapi_free_uint32List(l32);
    }
    *nbits = MAX(n, 1);
    return true;
}

static void visit_bitmap_out(Visitor *v, const char *name, bool is_u16,
                             unsigned long *map, long nbits, Error **errp)
{
    uint16List *l16 = NULL, **t16 = &l16;
    uint32List *l32 = NULL, **t32 = &l32;
    long i;

    for (i = map ? find_first_bit(map, nbits) : nbits; i < nbits;
         i = find_next_bit(map, nbits, i + 1)) {
        if (is_u16) {
            QAPI_LIST_APPEND(t16, i);
        } else {
            QAPI_LIST_APPEND(t32, i);
        }
    }
    if (is_u16) {
        visit_type_uint16List(v, name, &l16, errp);
        qapi_free_uint16List(l16);
    } else {
        visit_type_uint32List(v, name, &l32, errp);
        qapi_free_uint32List(l32);
    }
}

static void rule_get_vcpus(Object *obj, Visitor *v, const char *name,
                           void *opaque, Error **errp)
{
    AffinityRule *r = AFFINITY_RULE(obj);

    visit_bitmap_out(v, name, false, r->vcpus, r->vcpus_nbits, errp);
}

static void rule_set_vcpus(Object *obj, Visitor *v, const char *name,
                           void *opaque, Error **errp)
{
    AffinityRule *r = AFFINITY_RULE(obj);
    unsigned long *map;
    long nbits;

    if (r->listed) {
        error_setg(errp, "%s '%s': vcpus cannot change; add a new rule "
                   "instead", rule_type(r), rule_id(r));
        return;
    }
    if (!visit_bitmap(v, name, false, &map, &nbits, errp)) {
        return;
    }
    g_free(r->vcpus);
    r->vcpus = map;
    r->vcpus_nbits = nbits;
}

static void rule_get_node(Object *obj, Visitor *v, const char *name,
                          void *opaque, Error **errp)
{
    AffinityRule *r = AFFINITY_RULE(obj);
    uint32_t node = r->node;

    visit_type_uint32(v, name, &node, errp);
}

static void rule_set_node(Object *obj, Visitor *v, const char *name,
                          void *opaque, Error **errp)
{
    AffinityRule *r = AFFINITY_RULE(obj);
    uint32_t node;

    if (r->listed) {
        error_setg(errp, "%s '%s': node cannot change; add a new rule "
                   "instead", rule_type(r), rule_id(r));
        return;
    }
    if (!visit_type_uint32(v, name, &node, errp)) {
        return;
    }
    if (node >= MAX_NODES) {
        error_setg(errp, "node=%u, but QEMU supports %d nodes", node,
                   MAX_NODES);
        return;
    }
    r->node = node;
    r->has_node = true;
}

/*
 * host-cpus and host-nodes: once the rule is in place, a new value must
 * check and apply to every thread, or nothing changes.
 */
static void rule_set_host(Object *obj, Visitor *v, const char *name,
                          void *opaque, Error **errp)
{
    AffinityRule *r = AFFINITY_RULE(obj);
    bool cpus = !strcmp(name, "host-cpus");
    unsigned long **field = cpus ? &r->host_cpus : &r->host_nodes;
    long *nbits = cpus ? &r->host_cpus_nbits : &r->host_nodes_nbits;
    unsigned long **other = cpus ? &r->host_nodes : &r->host_cpus;
    unsigned long *old = *field, *old_other = *other, *map;
    long old_nbits = *nbits, n;

    if (!visit_bitmap(v, name, true, &map, &n, errp)) {
        return;
    }
    *field = map;
    *nbits = n;
    if (!r->listed) {
        g_free(old);
        return;
    }
    /* a completed rule: the new value replaces the other host property */
    *other = NULL;
    if (rule_check_self(r, errp) &&
        (!machine_ready || (rule_check_machine(r, errp) &&
                            affinity_apply(NULL, errp)))) {
        g_free(old);
        g_free(old_other);
        return;
    }
    g_free(map);
    *field = old;
    *nbits = old_nbits;
    *other = old_other;
}

static void rule_get_host(Object *obj, Visitor *v, const char *name,
                          void *opaque, Error **errp)
{
    AffinityRule *r = AFFINITY_RULE(obj);

    if (!strcmp(name, "host-cpus")) {
        visit_bitmap_out(v, name, true, r->host_cpus, r->host_cpus_nbits,
                         errp);
    } else {
        visit_bitmap_out(v, name, true, r->host_nodes, r->host_nodes_nbits,
                         errp);
    }
}

static void rule_complete(UserCreatable *uc, Error **errp)
{
    AffinityRule *r = AFFINITY_RULE(uc);

    affinity_init_host();
    if (!rule_check_self(r, errp)) {
        return;
    }
    if (machine_ready && !rule_check_machine(r, errp)) {
        return;
    }
    QTAILQ_INSERT_TAIL(&rules, r, next);
    r->listed = true;
    if (machine_ready && !affinity_apply(NULL, errp)) {
        /* affinity_apply() has put the threads back */
        QTAILQ_REMOVE(&rules, r, next);
        r->listed = false;
    }
}

/*
 * Deleting a rule falls back to the next one at once; if that cannot be
 * applied, the rule stays (object-del fails) and nothing changes.
 */
static bool rule_can_be_deleted(UserCreatable *uc)
{
    AffinityRule *r = AFFINITY_RULE(uc);
    Error *err = NULL;

    if (!r->listed || !machine_ready) {
        return true;
    }
    r->deleting = true;
    if (affinity_apply(NULL, &err)) {
        return true;
    }
    r->deleting = false;
    error_report_err(err);
    return false;
}

static void rule_finalize(Object *obj)
{
    AffinityRule *r = AFFINITY_RULE(obj);

    if (r->listed) {
        QTAILQ_REMOVE(&rules, r, next);
    }
    g_free(r->vcpus);
    g_free(r->host_cpus);
    g_free(r->host_nodes);
}

static void rule_instance_init(Object *obj)
{
    AffinityRule *r = AFFINITY_RULE(obj);

    r->emulator = !!object_dynamic_cast(obj, TYPE_EMULATOR_AFFINITY);
}

static void rule_class_init(ObjectClass *oc, void *data)
{
    UserCreatableClass *ucc = USER_CREATABLE_CLASS(oc);

    ucc->complete = rule_complete;
    ucc->can_be_deleted = rule_can_be_deleted;

    object_class_property_add(oc, "host-cpus", "uint16List", rule_get_host,
                              rule_set_host, NULL, NULL);
    object_class_property_set_description(oc, "host-cpus",
        "Host CPUs for the threads, e.g. 4-7");
    object_class_property_add(oc, "host-nodes", "uint16List", rule_get_host,
                              rule_set_host, NULL, NULL);
    object_class_property_set_description(oc, "host-nodes",
        "Host NUMA nodes whose CPUs the threads use");
}

static void vcpu_affinity_class_init(ObjectClass *oc, void *data)
{
    object_class_property_add(oc, "vcpus", "uint32List", rule_get_vcpus,
                              rule_set_vcpus, NULL, NULL);
    object_class_property_set_description(oc, "vcpus",
        "vCPU indexes (cpu-index) the rule places");
    object_class_property_add(oc, "node", "uint32", rule_get_node,
                              rule_set_node, NULL, NULL);
    object_class_property_set_description(oc, "node",
        "Guest NUMA node whose vCPUs the rule places");
}

static const TypeInfo affinity_types[] = {
    {
        .name = TYPE_AFFINITY_RULE,
        .parent = TYPE_OBJECT,
        .abstract = true,
        .instance_size = sizeof(AffinityRule),
        .instance_init = rule_instance_init,
        .instance_finalize = rule_finalize,
        .class_init = rule_class_init,
        .interfaces = (InterfaceInfo[]) {
            { TYPE_USER_CREATABLE },
            { }
        },
    }, {
        .name = TYPE_VCPU_AFFINITY,
        .parent = TYPE_AFFINITY_RULE,
        .class_init = vcpu_affinity_class_init,
    }, {
        .name = TYPE_EMULATOR_AFFINITY,
        .parent = TYPE_AFFINITY_RULE,
    },
};

DEFINE_TYPES(affinity_types)

/* QMP and HMP -------------------------------------------------------------- */

static uint16List *bitmap_to_u16list(const unsigned long *map)
{
    uint16List *l = NULL, **tail = &l;
    long i;

    for (i = find_first_bit(map, host_nbits); i < host_nbits;
         i = find_next_bit(map, host_nbits, i + 1)) {
        QAPI_LIST_APPEND(tail, i);
    }
    return l;
}

/* CPU time (ns) and the CPU last run on, from /proc */
static void thread_stats(pid_t tid, VcpuAffinityInfo *info)
{
    g_autofree char *path = g_strdup_printf("/proc/self/task/%d/stat", tid);
    g_autofree char *sched = g_strdup_printf("/proc/self/task/%d/schedstat",
                                             tid);
    g_autofree char *text = NULL;
    g_auto(GStrv) f = NULL;
    unsigned long long ns;
    char *p;

    if (g_file_get_contents(sched, &text, NULL, NULL) &&
        sscanf(text, "%llu", &ns) == 1) {
        info->has_cpu_time_ns = true;
        info->cpu_time_ns = ns;
    }
    g_free(text);
    text = NULL;
    if (!g_file_get_contents(path, &text, NULL, NULL)) {
        return;
    }
    /* fields after the command name, which ends with the last ')' */
    p = strrchr(text, ')');
    if (!p || p[1] != ' ') {
        return;
    }
    f = g_strsplit(p + 2, " ", -1);
    /* f[0] is field 3 (state); utime 14, stime 15, processor 39 */
    if (g_strv_length(f) > 36) {
        info->has_last_host_cpu = true;
        info->last_host_cpu = atoi(f[36]);
        if (!info->has_cpu_time_ns) {
            info->has_cpu_time_ns = true;
            info->cpu_time_ns = (g_ascii_strtoull(f[11], NULL, 10) +
                                 g_ascii_strtoull(f[12], NULL, 10)) *
                                (NANOSECONDS_PER_SECOND /
                                 sysconf(_SC_CLK_TCK));
        }
    }
}

VcpuAffinity *qmp_query_vcpu_affinity(Error **errp)
{
    MachineState *ms = current_machine;
    const CPUArchIdList *possible;
    VcpuAffinity *ret = g_new0(VcpuAffinity, 1);
    VcpuAffinityInfoList **tail = &ret->vcpus;
    AffinityRule *r;
    unsigned long *map;
    int i, n;

    affinity_init_host();
    if (!start_set) {
        error_setg(errp, "cannot read host thread affinity");
        qapi_free_VcpuAffinity(ret);
        return NULL;
    }
    map = bitmap_new(host_nbits);
    possible = MACHINE_GET_CLASS(ms)->possible_cpu_arch_ids ?
        MACHINE_GET_CLASS(ms)->possible_cpu_arch_ids(ms) : NULL;
    /* without a possible-CPU list, the vCPUs that exist */
    n = possible ? possible->len : 0;
    if (!possible) {
        CPUState *c;

        CPU_FOREACH(c) {
            n = MAX(n, c->cpu_index + 1);
        }
    }
    for (i = 0; i < n; i++) {
        VcpuAffinityInfo *info = g_new0(VcpuAffinityInfo, 1);
        /* machines without CPU hot-plug leave .cpu unset */
        Object *obj = possible ? possible->cpus[i].cpu : NULL;
        CPUState *cpu = obj ? CPU(obj) : qemu_get_cpu(i);

        info->cpu_index = i;
        r = vcpu_rule(i);
        if (r) {
            info->has_rule = true;
            info->rule = g_strdup(rule_id(r));
        }
        if (!cpu || cpu->thread_id <= 0) {
            info->state = VCPU_AFFINITY_STATE_OFFLINE;
        } else {
            info->state = cpu->halted ? VCPU_AFFINITY_STATE_HALTED
                                      : VCPU_AFFINITY_STATE_RUNNING;
            info->has_thread_id = true;
            info->thread_id = cpu->thread_id;
            if (!thread_get_affinity(cpu->thread_id, map)) {
                info->has_affinity = true;
                info->affinity = bitmap_to_u16list(map);
            }
            thread_stats(cpu->thread_id, info);
        }
        QAPI_LIST_APPEND(tail, info);
    }
    ret->emulator = g_new0(EmulatorAffinityInfo, 1);
    r = emulator_rule();
    if (r) {
        ret->emulator->has_rule = true;
        ret->emulator->rule = g_strdup(rule_id(r));
    }
    if (!thread_get_affinity(0, map)) {
        ret->emulator->has_affinity = true;
        ret->emulator->affinity = bitmap_to_u16list(map);
    }
    g_free(map);
    return ret;
}

static char *u16list_to_str(uint16List *l)
{
    unsigned long *map = bitmap_new(host_nbits);
    char *s;

    for (; l; l = l->next) {
        if (l->value < host_nbits) {
            set_bit(l->value, map);
        }
    }
    s = bitmap_to_list(map, host_nbits);
    g_free(map);
    return s;
}

void hmp_info_vcpu_affinity(Monitor *mon, const QDict *qdict)
{
    Error *err = NULL;
    VcpuAffinity *a = qmp_query_vcpu_affinity(&err);
    VcpuAffinityInfoList *l;
    g_autofree char *emu = NULL;

    if (hmp_handle_error(mon, err)) {
        return;
    }
    monitor_printf(mon, "%-5s %-9s %-8s %-12s %-9s %-16s %s\n", "vCPU",
                   "thread", "state", "cpu-time-ms", "last-cpu", "affinity",
                   "rule");
    for (l = a->vcpus; l; l = l->next) {
        VcpuAffinityInfo *i = l->value;
        g_autofree char *aff = u16list_to_str(i->affinity);
        g_autofree char *tid = i->has_thread_id ?
            g_strdup_printf("%" PRId64, i->thread_id) : g_strdup("-");
        g_autofree char *ms = i->has_cpu_time_ns ?
            g_strdup_printf("%" PRIu64, i->cpu_time_ns / 1000000) :
            g_strdup("-");
        g_autofree char *last = i->has_last_host_cpu ?
            g_strdup_printf("%" PRId64, i->last_host_cpu) : g_strdup("-");

        monitor_printf(mon, "%-5" PRId64 " %-9s %-8s %-12s %-9s %-16s %s\n",
                       i->cpu_index, tid, VcpuAffinityState_str(i->state),
                       ms, last, i->affinity ? aff : "-",
                       i->rule ?: "(start set)");
    }
    emu = u16list_to_str(a->emulator->affinity);
    monitor_printf(mon, "emulator threads: %s, rule %s\n",
                   a->emulator->affinity ? emu : "-",
                   a->emulator->rule ?: "(start set)");
    qapi_free_VcpuAffinity(a);
}
