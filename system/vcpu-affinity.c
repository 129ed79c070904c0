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
#include "qom/object_interfaces.h"
#include "qemu/bitmap.h"
#include "qemu/error-report.h"
#include "qemu/module.h"
#include "qemu/thread-affinity.h"
#include "hw/boards.h"
#include "hw/core/cpu.h"
#include "system/hostmem.h"
#include "system/machine-ready.h"
#include "system/numa.h"
#include "system/vcpu-affinity.h"
#include "vcpu-affinity-internal.h"

AffinityRuleList affinity_rules = QTAILQ_HEAD_INITIALIZER(affinity_rules);
unsigned long *affinity_start_set;
unsigned long affinity_host_nbits;

/* Learn QEMU's start set, once */
static void affinity_init_host(void)
{
    if (!affinity_start_set) {
        qemu_thread_id_get_affinity(0, &affinity_start_set,
                                    &affinity_host_nbits, NULL);
    }
}

/* Changing affinity is allowed (-sandbox resourcecontrol=deny forbids it) */
static bool affinity_permitted(AffinityRule *r, Error **errp)
{
    ERRP_GUARD();

    if (!affinity_start_set) {
        error_setg(errp, "%s '%s': cannot read the host CPUs QEMU may run on",
                   rule_type(r), rule_id(r));
        return false;
    }
    if (!qemu_thread_affinity_permitted(errp)) {
        error_prepend(errp, "%s '%s': ", rule_type(r), rule_id(r));
        return false;
    }
    return true;
}

/* Rules: host sets --------------------------------------------------------- */

/* Add the host CPUs of @cpus to @map, if QEMU may run on every one */
static bool add_host_cpus(const unsigned long *cpus, long nbits,
                          unsigned long *map, Error **errp)
{
    long i;

    for (i = find_first_bit(cpus, nbits); i < nbits;
         i = find_next_bit(cpus, nbits, i + 1)) {
        if (i >= affinity_host_nbits || !test_bit(i, affinity_start_set)) {
            g_autofree char *allowed =
                qemu_host_cpus_to_str(affinity_start_set, affinity_host_nbits);

            error_setg(errp, "host CPU %ld is not one QEMU may run on (%s)",
                       i, allowed);
            return false;
        }
        set_bit(i, map);
    }
    return true;
}

/* Add the CPUs of host nodes @nodes that QEMU may run on to @map */
static bool add_host_nodes(const unsigned long *nodes, long nbits,
                           unsigned long *map, Error **errp)
{
    g_autofree unsigned long *cpus = bitmap_new(affinity_host_nbits);
    long n;

    for (n = find_first_bit(nodes, nbits); n < nbits;
         n = find_next_bit(nodes, nbits, n + 1)) {
        bitmap_zero(cpus, affinity_host_nbits);
        if (!qemu_host_node_cpus(n, cpus, affinity_host_nbits, errp)) {
            return false;
        }
        if (!bitmap_and(cpus, cpus, affinity_start_set, affinity_host_nbits)) {
            error_setg(errp, "host node %ld has no CPU that QEMU may run on",
                       n);
            return false;
        }
        bitmap_or(map, map, cpus, affinity_host_nbits);
    }
    return true;
}

/* Automatic placement: the host nodes that guest node @node's memdev binds */
static bool add_auto_nodes(uint32_t node, unsigned long *map, Error **errp)
{
    MachineState *ms = current_machine;
    HostMemoryBackend *memdev;

    if (!ms->numa_state || node >= ms->numa_state->num_nodes ||
        !ms->numa_state->nodes[node].present) {
        error_setg(errp, "guest node %u is not defined with -numa node", node);
        return false;
    }
    memdev = ms->numa_state->nodes[node].node_memdev;
    if (!memdev || memdev->policy != HOST_MEM_POLICY_BIND ||
        bitmap_empty(memdev->host_nodes, MAX_NODES)) {
        error_setg(errp, "automatic placement needs guest node %u's memdev "
                   "bound to host nodes (policy=bind,host-nodes=...); or give "
                   "host-cpus or host-nodes", node);
        return false;
    }
    return add_host_nodes(memdev->host_nodes, MAX_NODES, map, errp);
}

/*
 * Resolve the host CPUs of rule @r into r->host_set: when the rule is
 * checked, or for automatic placement, which needs the machine's NUMA
 * configuration, when its first vCPU is created.  Applying uses the
 * result, as long as the rule does not change.
 */
bool affinity_rule_resolve(AffinityRule *r, Error **errp)
{
    ERRP_GUARD();
    unsigned long *map = bitmap_new(affinity_host_nbits);
    bool ok;

    if (r->host_cpus) {
        ok = add_host_cpus(r->host_cpus, r->host_cpus_nbits, map, errp);
    } else if (r->host_nodes) {
        ok = add_host_nodes(r->host_nodes, r->host_nodes_nbits, map, errp);
    } else {
        ok = add_auto_nodes(r->node, map, errp);
    }
    if (!ok) {
        error_prepend(errp, "%s '%s': ", rule_type(r), rule_id(r));
        g_free(map);
        return false;
    }
    g_free(r->host_set);
    r->host_set = map;
    return true;
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
    /* host CPUs and host nodes need no machine: resolve them now */
    if (r->host_cpus || r->host_nodes) {
        return affinity_rule_resolve(r, errp);
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
    /* automatic placement, unless a vCPU of its node needed it already */
    if (!r->host_set && !affinity_rule_resolve(r, errp)) {
        return false;
    }

    /* against the rules created before this one, so the later is blamed */
    QTAILQ_FOREACH(o, &affinity_rules, next) {
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

void vcpu_affinity_vcpu_created(CPUState *cpu)
{
    Error *err = NULL;

    if (QTAILQ_EMPTY(&affinity_rules) || !affinity_start_set) {
        return;
    }
    /*
     * At start-up, affinity_machine_ready() checks and reports every
     * rule after the board is built; until then a rule that cannot be
     * resolved yet leaves the thread alone.
     */
    if (!affinity_apply(cpu, NULL, &err)) {
        if (phase_check(PHASE_MACHINE_READY)) {
            warn_report_err(err);
        } else {
            error_free(err);
        }
    }
}

/*
 * The machine and its vCPUs exist: check every rule against them and
 * apply all rules.  From here on, rules added, changed or deleted apply
 * at once.
 */
static bool affinity_machine_ready(Error **errp)
{
    AffinityRule *r;

    /* the CPUs QEMU may use, before anyone (libvirt) pins its threads */
    affinity_init_host();
    if (QTAILQ_EMPTY(&affinity_rules)) {
        return true;
    }
    QTAILQ_FOREACH(r, &affinity_rules, next) {
        if (!rule_check_machine(r, errp)) {
            return false;
        }
    }
    return affinity_apply(NULL, NULL, errp);
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
    unsigned long *old = *field, *old_other = *other, *old_set, *map;
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
    old_set = r->host_set;
    r->host_set = NULL;
    if (rule_check_self(r, errp) &&
        (!phase_check(PHASE_MACHINE_READY) ||
         (rule_check_machine(r, errp) && affinity_apply(NULL, r, errp)))) {
        g_free(old);
        g_free(old_other);
        g_free(old_set);
        return;
    }
    g_free(map);
    g_free(r->host_set);
    *field = old;
    *nbits = old_nbits;
    *other = old_other;
    r->host_set = old_set;
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
    if (phase_check(PHASE_MACHINE_READY) && !rule_check_machine(r, errp)) {
        return;
    }
    QTAILQ_INSERT_TAIL(&affinity_rules, r, next);
    r->listed = true;
    /* the threads that the new rule places are the ones that change */
    if (phase_check(PHASE_MACHINE_READY) && !affinity_apply(NULL, r, errp)) {
        /* affinity_apply() has put the threads back */
        QTAILQ_REMOVE(&affinity_rules, r, next);
        r->listed = false;
    }
}

/*
 * Deleting a rule falls back to the next one at once; if that cannot be
 * applied, the rule stays (object-del fails) and nothing changes.
 */
static bool rule_can_be_deleted(UserCreatable *uc, Error **errp)
{
    AffinityRule *r = AFFINITY_RULE(uc);

    if (!r->listed || !phase_check(PHASE_MACHINE_READY)) {
        return true;
    }
    r->deleting = true;
    if (affinity_apply(NULL, NULL, errp)) {
        return true;
    }
    r->deleting = false;
    error_prepend(errp, "%s '%s' can't be deleted: placing its threads by "
                  "the next rule failed: ", rule_type(r), rule_id(r));
    return false;
}

static void rule_finalize(Object *obj)
{
    AffinityRule *r = AFFINITY_RULE(obj);

    if (r->listed) {
        QTAILQ_REMOVE(&affinity_rules, r, next);
    }
    g_free(r->vcpus);
    g_free(r->host_cpus);
    g_free(r->host_nodes);
    g_free(r->host_set);
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

static const TypeInfo affinity_rule_info = {
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
};

static const TypeInfo vcpu_affinity_info = {
    .name = TYPE_VCPU_AFFINITY,
    .parent = TYPE_AFFINITY_RULE,
    .class_init = vcpu_affinity_class_init,
};

static const TypeInfo emulator_affinity_info = {
    .name = TYPE_EMULATOR_AFFINITY,
    .parent = TYPE_AFFINITY_RULE,
};

static void affinity_register_types(void)
{
    type_register_static(&affinity_rule_info);
    type_register_static(&vcpu_affinity_info);
    type_register_static(&emulator_affinity_info);
    machine_ready_add_hook(affinity_machine_ready);
}

type_init(affinity_register_types);

