/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * vcpu-affinity: which rule places which thread, and placing the threads.
 * A vCPU takes the rule that names it (vcpus), else its guest node's, else
 * the default one; the emulator threads (every thread of QEMU's thread
 * registry but the vCPUs', IOThreads and thread contexts) take the
 * emulator rule, else the default one; with none, a thread gets the start
 * set.  Applying sets each thread's affinity once, and puts back the
 * threads already changed when one cannot be placed: QEMU keeps what it
 * last gave each thread, so only threads it has not placed yet are read
 * first.
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qemu/bitmap.h"
#include "qemu/thread-affinity.h"
#include "qemu/thread-registry.h"
#include "hw/boards.h"
#include "hw/core/cpu.h"
#include "system/vcpu-affinity.h"
#include "vcpu-affinity-internal.h"
#include "trace.h"

/*
 * Which rule places which thread, worked out once from the rules: looking
 * a vCPU up is then constant time, and placing n vCPUs linear in n rather
 * than n times the number of rules (libvirt's <vcpupin> gives one rule
 * per vCPU).
 */
typedef struct RuleMap {
    const CPUArchIdList *possible;  /* for the vCPUs' guest nodes */
    AffinityRule **by_vcpu;         /* the oldest vcpus= rule naming it */
    int nb_vcpus;
    AffinityRule *by_node[MAX_NODES];   /* the newest node= rule */
    AffinityRule *by_default;           /* the newest default rule */
    AffinityRule *emulator;             /* the oldest emulator rule */
} RuleMap;

static void rule_map_init(RuleMap *m)
{
    MachineState *ms = current_machine;
    MachineClass *mc = MACHINE_GET_CLASS(ms);
    AffinityRule *r;
    long bit;

    m->possible = mc->possible_cpu_arch_ids ?
        mc->possible_cpu_arch_ids(ms) : NULL;
    m->nb_vcpus = ms->smp.max_cpus;
    m->by_vcpu = g_new0(AffinityRule *, m->nb_vcpus);

    QTAILQ_FOREACH(r, &affinity_rules, next) {
        if (!r->listed || r->deleting) {
            continue;
        }
        switch (rule_level(r)) {
        case LEVEL_VCPUS:
            for (bit = find_first_bit(r->vcpus, r->vcpus_nbits);
                 bit < MIN(r->vcpus_nbits, m->nb_vcpus);
                 bit = find_next_bit(r->vcpus, r->vcpus_nbits, bit + 1)) {
                if (!m->by_vcpu[bit]) {
                    m->by_vcpu[bit] = r;
                }
            }
            break;
        case LEVEL_NODE:
            if (r->node < MAX_NODES) {
                m->by_node[r->node] = r;
            }
            break;
        case LEVEL_DEFAULT:
            m->by_default = r;
            break;
        case LEVEL_EMULATOR:
            if (!m->emulator) {
                m->emulator = r;
            }
            break;
        }
    }
}

static void rule_map_destroy(RuleMap *m)
{
    g_free(m->by_vcpu);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(RuleMap, rule_map_destroy)

/* The rule of vCPU @index (NULL: the start set) */
static AffinityRule *vcpu_rule(RuleMap *m, int index)
{
    const CPUArchIdList *cpus = m->possible;
    AffinityRule *r = NULL;

    if (index < m->nb_vcpus) {
        r = m->by_vcpu[index];
    }
    /* the boards give each vCPU the possible-CPU slot of its index */
    if (!r && cpus && index < cpus->len &&
        cpus->cpus[index].props.has_node_id &&
        cpus->cpus[index].props.node_id < MAX_NODES) {
        r = m->by_node[cpus->cpus[index].props.node_id];
    }
    return r ?: m->by_default;
}

/* The rule of the emulator threads (NULL: the start set) */
static AffinityRule *emulator_rule(RuleMap *m)
{
    return m->emulator ?: m->by_default;
}

const char **vcpu_affinity_vcpu_rules(int nb_vcpus)
{
    g_auto(RuleMap) m = {};
    const char **ids = g_new0(const char *, nb_vcpus + 1);
    AffinityRule *r;
    int i;

    rule_map_init(&m);
    for (i = 0; i < nb_vcpus; i++) {
        r = vcpu_rule(&m, i);
        ids[i] = r ? rule_id(r) : NULL;
    }
    r = emulator_rule(&m);
    ids[nb_vcpus] = r ? rule_id(r) : NULL;
    return ids;
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

/* Application ------------------------------------------------------------- */

typedef struct ThreadPin {
    pid_t tid;
    /* with a placing rule: whether it places one of the thread's vCPUs */
    bool placed;
    /* affinity_host_nbits: a rule's host set, or @shared */
    const unsigned long *want;
    /* the union of the sets of the vCPUs sharing the thread, if several */
    unsigned long *shared;
    /* what the thread had: what QEMU last gave it, else read (@old) */
    struct AppliedSet *old_applied;
    unsigned long *old;
    unsigned long old_nbits;
} ThreadPin;

/*
 * The host CPUs that QEMU last gave each thread (thread id -> AppliedSet),
 * so that a change need not read every thread's affinity back from the
 * kernel to be able to undo itself: a failed change puts these back.  A
 * thread that QEMU has not placed yet is read.  The threads given a set
 * in one change share one copy of it: a change costs an allocation per
 * distinct set, not per thread.  Used under the BQL only.
 */
typedef struct AppliedSet {
    unsigned int refs;
    unsigned long bits[];
} AppliedSet;

static GHashTable *applied_sets;

static AppliedSet *applied_set_new(const unsigned long *bits)
{
    size_t size = BITS_TO_LONGS(affinity_host_nbits) * sizeof(unsigned long);
    AppliedSet *set = g_malloc(sizeof(*set) + size);

    set->refs = 1;
    memcpy(set->bits, bits, size);
    return set;
}

static AppliedSet *applied_set_ref(AppliedSet *set)
{
    set->refs++;
    return set;
}

static void applied_set_unref(gpointer p)
{
    AppliedSet *set = p;

    if (set && !--set->refs) {
        g_free(set);
    }
}

/* Record that QEMU gave thread @tid @set (taking a reference) */
static void applied_put(pid_t tid, AppliedSet *set)
{
    if (!applied_sets) {
        applied_sets = g_hash_table_new_full(NULL, NULL, NULL,
                                             applied_set_unref);
    }
    g_hash_table_insert(applied_sets, GINT_TO_POINTER(tid),
                        applied_set_ref(set));
}

static void applied_forget(pid_t tid)
{
    if (applied_sets) {
        g_hash_table_remove(applied_sets, GINT_TO_POINTER(tid));
    }
}

static gboolean applied_gone(gpointer tid, gpointer set, gpointer placed)
{
    return !g_hash_table_contains(placed, tid);
}

static void thread_pin_clear(gpointer p)
{
    ThreadPin *t = p;

    g_free(t->shared);
    g_free(t->old);
    applied_set_unref(t->old_applied);
}

/*
 * Add @want for @tid to @pins; a thread shared by several vCPUs gets the
 * union, and is @placed if one of them is.  The vCPUs sharing a thread
 * (TCG's single thread, without MTTCG) come one after the other in
 * CPU_FOREACH, and no emulator thread is a vCPU thread: only the last pin
 * can be the same thread, and no lookup is needed.
 */
static void pins_add(GArray *pins, pid_t tid, const unsigned long *want,
                     bool placed)
{
    ThreadPin *t, new = { .tid = tid, .want = want, .placed = placed };

    if (pins->len) {
        t = &g_array_index(pins, ThreadPin, pins->len - 1);
        if (t->tid == tid) {
            t->placed |= placed;
            if (t->want == want) {
                return;
            }
            if (!t->shared) {
                t->shared = bitmap_new(affinity_host_nbits);
                bitmap_copy(t->shared, t->want, affinity_host_nbits);
                t->want = t->shared;
            }
            bitmap_or(t->shared, t->shared, want, affinity_host_nbits);
            return;
        }
    }
    g_array_append_val(pins, new);
}

/*
 * Add @want for the emulator threads: QEMU's threads but the vCPUs',
 * IOThreads and thread contexts, from the thread registry, in thread id
 * order
 */
static void pins_add_emulator(GArray *pins, const unsigned long *want)
{
    g_autoptr(GArray) threads = qemu_thread_registry_list(true);
    guint i;

    for (i = 0; i < threads->len; i++) {
        pins_add(pins, g_array_index(threads, QemuThreadEntry, i).tid, want,
                 true);
    }
}

/* Forget what QEMU gave threads that are not in @pins: they have gone */
static void applied_prune(GArray *pins)
{
    g_autoptr(GHashTable) placed = g_hash_table_new(NULL, NULL);
    guint i;

    for (i = 0; i < pins->len; i++) {
        g_hash_table_add(placed, GINT_TO_POINTER(
                             g_array_index(pins, ThreadPin, i).tid));
    }
    g_hash_table_foreach_remove(applied_sets, applied_gone, placed);
}

/* What thread @t has now, before it is changed: false if it has exited */
static bool thread_pin_read_old(ThreadPin *t, Error **errp)
{
    AppliedSet *set = applied_sets ?
        g_hash_table_lookup(applied_sets, GINT_TO_POINTER(t->tid)) : NULL;

    if (set) {
        t->old_applied = applied_set_ref(set);
        return true;
    }
    return qemu_thread_id_get_affinity(t->tid, &t->old, &t->old_nbits,
                                       errp) != -ESRCH;
}

/*
 * Give every vCPU thread (@only: just that vCPU's) and, unless @only, every
 * emulator thread the host CPUs of its rule; with @placed_by, only the
 * threads that rule places.  On failure, the threads already changed get
 * their previous affinity back.
 */
bool affinity_apply(CPUState *only, AffinityRule *placed_by,
                    Error **errp)
{
    g_autoptr(GArray) list = NULL;
    g_auto(RuleMap) map = {};
    AffinityRule *rule;
    const unsigned long *want, *last_want = NULL;
    AppliedSet *set = NULL;
    Error *err = NULL;
    CPUState *cpu;
    guint i, done;
    bool skip_vcpus;
    int ret = 0;

    rule_map_init(&map);
    /* a pin per vCPU at most, and a few emulator threads */
    list = g_array_sized_new(false, false, sizeof(ThreadPin),
                             map.nb_vcpus + 16);
    g_array_set_clear_func(list, thread_pin_clear);
    /* an emulator rule places no vCPU */
    skip_vcpus = placed_by && rule_level(placed_by) == LEVEL_EMULATOR;
    CPU_FOREACH(cpu) {
        /* with @only, every vCPU on its thread (single-threaded TCG) */
        if (skip_vcpus || cpu->thread_id <= 0 ||
            (only && cpu->thread_id != only->thread_id)) {
            continue;
        }
        rule = vcpu_rule(&map, cpu->cpu_index);
        want = rule_host_set(rule, errp);
        if (!want) {
            return false;
        }
        /* with @placed_by, the threads of its vCPUs, with all their vCPUs */
        pins_add(list, cpu->thread_id, want, !placed_by || rule == placed_by);
    }
    rule = emulator_rule(&map);
    if (!only && (!placed_by || rule == placed_by)) {
        want = rule_host_set(rule, errp);
        if (!want) {
            return false;
        }
        pins_add_emulator(list, want);
    }

    for (done = 0; done < list->len; done++) {
        ThreadPin *t = &g_array_index(list, ThreadPin, done);

        if (!t->placed) {
            continue;
        }
        if (!thread_pin_read_old(t, &err)) {
            /* the thread has exited meanwhile */
            error_free(err);
            err = NULL;
            continue;
        }
        if (!err) {
            ret = qemu_thread_id_set_affinity(t->tid, t->want,
                                              affinity_host_nbits, &err);
        }
        if (ret == -ESRCH) {
            /* nothing to put back either */
            error_free(err);
            err = NULL;
            ret = 0;
            applied_forget(t->tid);
            applied_set_unref(t->old_applied);
            t->old_applied = NULL;
            g_clear_pointer(&t->old, g_free);
            continue;
        }
        if (err) {
            ret = -EIO;
            error_propagate(errp, err);
            break;
        }
        if (t->want != last_want) {
            applied_set_unref(set);
            set = applied_set_new(t->want);
            last_want = t->want;
        }
        applied_put(t->tid, set);
        if (trace_event_get_state_backends(TRACE_VCPU_AFFINITY_SET)) {
            g_autofree char *cpus = qemu_host_cpus_to_str(t->want,
                                                          affinity_host_nbits);

            trace_vcpu_affinity_set(t->tid, cpus);
        }
    }
    applied_set_unref(set);
    if (!ret) {
        if (!only && !placed_by && applied_sets) {
            /* every thread was placed: forget those that have gone */
            applied_prune(list);
        }
        return true;
    }
    /* undo, up to the thread that failed, which is unchanged */
    for (i = 0; i < done; i++) {
        ThreadPin *t = &g_array_index(list, ThreadPin, i);

        if (!t->placed) {
            continue;
        }
        if (t->old_applied) {
            qemu_thread_id_set_affinity(t->tid, t->old_applied->bits,
                                        affinity_host_nbits, NULL);
            applied_put(t->tid, t->old_applied);
        } else if (t->old) {
            qemu_thread_id_set_affinity(t->tid, t->old, t->old_nbits, NULL);
            applied_forget(t->tid);
        }
    }
    return false;
}
