/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * vcpu-affinity internals, shared by system/vcpu-affinity.c (the rule
 * objects, their checks and their host CPUs) and
 * system/vcpu-affinity-apply.c (which rule places which thread, and
 * placing the threads).
 */
#ifndef SOFTMMU_VCPU_AFFINITY_INTERNAL_H
#define SOFTMMU_VCPU_AFFINITY_INTERNAL_H

#include "qemu/queue.h"
#include "qom/object.h"

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

    /* the host CPUs for its threads (affinity_host_nbits), once resolved */
    unsigned long *host_set;
    bool listed;                    /* completed, in affinity_rules */
    bool deleting;                  /* being deleted: ignore it */
    QTAILQ_ENTRY(AffinityRule) next;
};

/* The completed rules, oldest first */
typedef QTAILQ_HEAD(, AffinityRule) AffinityRuleList;
extern AffinityRuleList affinity_rules;

/*
 * The host CPUs QEMU was allowed to run on at start (NULL: unknown), and
 * the size of every bitmap of host CPUs here
 */
extern unsigned long *affinity_start_set;
extern unsigned long affinity_host_nbits;

static inline const char *rule_id(AffinityRule *r)
{
    return object_get_canonical_path_component(OBJECT(r)) ?: "?";
}

static inline const char *rule_type(AffinityRule *r)
{
    return object_get_typename(OBJECT(r));
}

static inline AffinityLevel rule_level(AffinityRule *r)
{
    if (r->emulator) {
        return LEVEL_EMULATOR;
    }
    if (r->vcpus) {
        return LEVEL_VCPUS;
    }
    return r->has_node ? LEVEL_NODE : LEVEL_DEFAULT;
}

/*
 * Resolve rule @r's host CPUs into r->host_set.  Automatic placement
 * needs the machine's NUMA configuration.
 */
bool affinity_rule_resolve(AffinityRule *r, Error **errp);

/*
 * Give every vCPU thread (@only: just that vCPU's) and, unless @only,
 * every emulator thread the host CPUs of its rule; with @placed_by, only
 * the threads that rule places (after a change of that rule alone).  On
 * failure, the threads already changed get their previous affinity back.
 */
bool affinity_apply(CPUState *only, AffinityRule *placed_by, Error **errp);

#endif
