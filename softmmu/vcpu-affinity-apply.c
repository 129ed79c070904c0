/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * vcpu-affinity: which rule places which thread, and placing the threads.
 * A vCPU takes the rule that names it (vcpus), else its guest node's, else
 * the default one; the emulator threads take the emulator rule, else the
 * default one; with none, a thread gets the start set.  Applying reads
 * and sets each thread's affinity once, and puts back the threads already
 * changed when one cannot be placed.
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qemu/bitmap.h"
#include "qemu/thread-affinity.h"
#include "qemu/thread-context.h"
#include "hw/boards.h"
#include "hw/core/cpu.h"
#include "sysemu/iothread.h"
#include "sysemu/vcpu-affinity.h"
#include "vcpu-affinity-internal.h"
#include "trace.h"

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

    QTAILQ_FOREACH(r, &affinity_rules, next) {
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

    QTAILQ_FOREACH(r, &affinity_rules, next) {
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

const char *vcpu_affinity_vcpu_rule(int cpu_index)
{
    AffinityRule *r = vcpu_rule(cpu_index);

    return r ? rule_id(r) : NULL;
}

const char *vcpu_affinity_emulator_rule(void)
{
    AffinityRule *r = emulator_rule();

    return r ? rule_id(r) : NULL;
}

/*
 * The host CPUs of rule @r, the start set for none.  Only automatic
 * placement can be unresolved here, when vCPUs are created before the
 * machine is ready.
 */
static const unsigned long *rule_host_set(AffinityRule *r, Error **errp)
{
    if (!r) {
        return affinity_start_set;
    }
    if (!r->host_set && !affinity_rule_resolve(r, errp)) {
        return NULL;
    }
    return r->host_set;
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
    unsigned long *want;            /* affinity_host_nbits */
    unsigned long *old;             /* NULL until read */
    unsigned long old_nbits;
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
        bitmap_or(t->want, t->want, want, affinity_host_nbits);
        return;
    }
    t = g_new0(ThreadPin, 1);
    t->tid = tid;
    t->want = bitmap_new(affinity_host_nbits);
    bitmap_copy(t->want, want, affinity_host_nbits);
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
bool affinity_apply(CPUState *only, Error **errp)
{
    g_autoptr(GPtrArray) list = g_ptr_array_new_with_free_func(
        thread_pin_free);
    const unsigned long *want;
    Error *err = NULL;
    CPUState *cpu;
    guint i, done;
    int ret = 0;

    CPU_FOREACH(cpu) {
        /* with @only, every vCPU on its thread (single-threaded TCG) */
        if (cpu->thread_id <= 0 ||
            (only && cpu->thread_id != only->thread_id)) {
            continue;
        }
        want = rule_host_set(vcpu_rule(vcpu_index(cpu)), errp);
        if (!want) {
            return false;
        }
        pins_add(list, cpu->thread_id, want);
    }
    if (!only) {
        GArray *tids = emulator_threads();

        want = rule_host_set(emulator_rule(), errp);
        if (!want) {
            g_array_free(tids, true);
            return false;
        }
        for (i = 0; i < tids->len; i++) {
            pid_t tid = g_array_index(tids, pid_t, i);

            if (!pins_find(list, tid)) {
                pins_add(list, tid, want);
            }
        }
        g_array_free(tids, true);
    }

    for (done = 0; done < list->len; done++) {
        ThreadPin *t = g_ptr_array_index(list, done);

        ret = qemu_thread_id_get_affinity(t->tid, &t->old, &t->old_nbits,
                                          &err);
        if (!ret) {
            ret = qemu_thread_id_set_affinity(t->tid, t->want,
                                              affinity_host_nbits, &err);
        }
        if (ret == -ESRCH) {
            /* the thread has exited meanwhile */
            error_free(err);
            err = NULL;
            ret = 0;
            continue;
        }
        if (ret) {
            error_propagate(errp, err);
            break;
        }
        if (trace_event_get_state_backends(TRACE_VCPU_AFFINITY_SET)) {
            g_autofree char *cpus = qemu_host_cpus_to_str(t->want,
                                                          affinity_host_nbits);

            trace_vcpu_affinity_set(t->tid, cpus);
        }
    }
    if (!ret) {
        return true;
    }
    /* undo */
    for (i = 0; i < done; i++) {
        ThreadPin *t = g_ptr_array_index(list, i);

        if (t->old) {
            qemu_thread_id_set_affinity(t->tid, t->old, t->old_nbits, NULL);
        }
    }
    return false;
}

