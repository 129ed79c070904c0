/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * cache-monitor: last-level cache occupancy and memory bandwidth of
 * QEMU's threads through Linux resctrl monitoring groups (Intel RDT CMT
 * and MBM, AMD PQoS), reported by query-stats (provider "resctrl").
 *
 * The object makes its groups under ROOT/mon_groups when it is completed:
 * one for the vCPU threads and one for the emulator threads, or with
 * per-vcpu=on one per possible vCPU and one for the emulator threads.  A
 * vCPU thread joins its group when it is created (hot-plugged ones too);
 * the emulator threads join theirs once the machine is ready, and new
 * threads inherit the group of the thread that creates them.  The groups
 * are removed by object-del and at exit; groups that a QEMU which has
 * gone left behind are removed, and named, when an object is created.
 *
 * Group names: qemu-PID-ID-vcpus, qemu-PID-ID-emulator, qemu-PID-ID-vcpuN.
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qapi/qapi-types-stats.h"
#include "qemu/error-report.h"
#include "qemu/notify.h"
#include "qemu/resctrl.h"
#include "qemu/thread-registry.h"
#include "qom/object_interfaces.h"
#include "hw/boards.h"
#include "hw/core/cpu.h"
#include "system/stats.h"
#include "system/cache-monitor.h"
#include "system/machine-ready.h"
#include "system/system.h"
#include "trace.h"

#define TYPE_CACHE_MONITOR "cache-monitor"
OBJECT_DECLARE_SIMPLE_TYPE(CacheMonitor, CACHE_MONITOR)

#define RESCTRL_DEFAULT_ROOT "/sys/fs/resctrl"

struct CacheMonitor {
    Object parent_obj;

    /* properties */
    char *root;
    bool per_vcpu;

    /* completed: the groups exist */
    char *prefix;                   /* qemu-PID-ID */
    unsigned features;              /* bit F: ResctrlFeature F is there */
    GPtrArray *groups;              /* names of the groups made */
};

/* One object per VM: the groups would count the same threads twice */
static CacheMonitor *the_monitor;

static const char *cm_id(CacheMonitor *cm)
{
    return object_get_canonical_path_component(OBJECT(cm)) ?: "<unnamed>";
}

static char *group_name(CacheMonitor *cm, CPUState *cpu)
{
    if (!cpu) {
        return g_strdup_printf("%s-emulator", cm->prefix);
    }
    if (cm->per_vcpu) {
        return g_strdup_printf("%s-vcpu%d", cm->prefix, cpu->cpu_index);
    }
    return g_strdup_printf("%s-vcpus", cm->prefix);
}

static bool cm_make_group(CacheMonitor *cm, const char *name, Error **errp)
{
    guint i;

    for (i = 0; i < cm->groups->len; i++) {
        if (!strcmp(g_ptr_array_index(cm->groups, i), name)) {
            return true;
        }
    }
    if (!qemu_resctrl_group_create(cm->root, name, errp)) {
        return false;
    }
    g_ptr_array_add(cm->groups, g_strdup(name));
    trace_cache_monitor_group_create(cm->root, name);
    return true;
}

static void cm_remove_groups(CacheMonitor *cm)
{
    Error *err = NULL;

    while (cm->groups && cm->groups->len) {
        const char *name = g_ptr_array_index(cm->groups,
                                             cm->groups->len - 1);

        trace_cache_monitor_group_remove(cm->root, name);
        if (!qemu_resctrl_group_remove(cm->root, name, &err)) {
            warn_report_err(err);
            err = NULL;
        }
        g_ptr_array_remove_index(cm->groups, cm->groups->len - 1);
    }
}

/* Put vCPU @cpu's thread in its group */
static bool cm_add_vcpu(CacheMonitor *cm, CPUState *cpu, Error **errp)
{
    g_autofree char *name = group_name(cm, cpu);

    if (cpu->thread_id <= 0) {
        return true;
    }
    if (!cm_make_group(cm, name, errp) ||
        !qemu_resctrl_group_add_thread(cm->root, name, cpu->thread_id,
                                       errp)) {
        error_prepend(errp, "cache-monitor '%s': ", cm_id(cm));
        return false;
    }
    return true;
}

/*
 * Every thread in its group: the vCPUs', then the emulator threads (the
 * thread registry's threads but the vCPUs', IOThreads and thread
 * contexts, which are in no group of ours)
 */
static bool cm_add_threads(CacheMonitor *cm, Error **errp)
{
    g_autoptr(GArray) threads = NULL;
    g_autofree char *emulator = group_name(cm, NULL);
    CPUState *cpu;
    guint i;

    CPU_FOREACH(cpu) {
        if (!cm_add_vcpu(cm, cpu, errp)) {
            return false;
        }
    }
    threads = qemu_thread_registry_list(true);
    for (i = 0; i < threads->len; i++) {
        QemuThreadEntry *t = &g_array_index(threads, QemuThreadEntry, i);

        if (!qemu_resctrl_group_add_thread(cm->root, emulator, t->tid,
                                           errp)) {
            error_prepend(errp, "cache-monitor '%s': ", cm_id(cm));
            return false;
        }
    }
    return true;
}

/*
 * Remove the groups of QEMU processes that have gone (qemu-PID-...), and
 * say which
 */
static void cm_remove_stale(CacheMonitor *cm)
{
    g_autofree char *groups = g_build_filename(cm->root, "mon_groups", NULL);
    g_autoptr(GPtrArray) stale = g_ptr_array_new_with_free_func(g_free);
    GDir *dir = g_dir_open(groups, 0, NULL);
    const char *name;
    guint i;

    while (dir && (name = g_dir_read_name(dir))) {
        long pid = 0;

        if (sscanf(name, "qemu-%ld-", &pid) == 1 && pid > 0 &&
            pid != getpid() && kill(pid, 0) && errno == ESRCH) {
            g_ptr_array_add(stale, g_strdup(name));
        }
    }
    if (dir) {
        g_dir_close(dir);
    }
    for (i = 0; i < stale->len; i++) {
        Error *err = NULL;
        const char *g = g_ptr_array_index(stale, i);

        if (qemu_resctrl_group_remove(cm->root, g, &err)) {
            warn_report("cache-monitor '%s': removed the resctrl monitoring "
                        "group %s/mon_groups/%s of a QEMU that has exited",
                        cm_id(cm), cm->root, g);
        } else {
            warn_report_err(err);
        }
    }
}

/* Exit ----------------------------------------------------------------- */

static void cm_exit(Notifier *n, void *data)
{
    if (the_monitor) {
        cm_remove_groups(the_monitor);
    }
}

static Notifier cm_exit_notifier = { .notify = cm_exit };

/* query-stats ----------------------------------------------------------- */

static const char *const stat_names[RESCTRL_FEATURE__MAX] = {
    [RESCTRL_LLC_OCCUPANCY] = "llc-occupancy",
    [RESCTRL_MBM_TOTAL] = "mbm-total",
    [RESCTRL_MBM_LOCAL] = "mbm-local",
};

static Stats *stat_new(const char *name, uint64_t value)
{
    Stats *s = g_new0(Stats, 1);

    s->name = g_strdup(name);
    s->value = g_new0(StatsValue, 1);
    s->value->type = QTYPE_QNUM;
    s->value->u.scalar = value;
    return s;
}

/*
 * The stats of groups @names summed: each feature, and each feature per
 * L3 domain (NAME-l3-N)
 */
static bool cm_group_stats(CacheMonitor *cm, const char *const *names,
                           strList *filter, StatsList ***tail, Error **errp)
{
    ResctrlFeature f;

    for (f = 0; f < RESCTRL_FEATURE__MAX; f++) {
        g_autofree uint64_t *total = NULL;
        unsigned ndom = 0, d, g;
        uint64_t sum = 0;

        if (!(cm->features & (1u << f))) {
            continue;
        }
        for (g = 0; names[g]; g++) {
            g_autofree uint64_t *values = NULL;
            unsigned n;
            uint64_t s;

            if (!qemu_resctrl_group_read(cm->root, names[g], f, &values,
                                         &n, &s, errp)) {
                error_prepend(errp, "cache-monitor '%s': ", cm_id(cm));
                return false;
            }
            if (!total) {
                total = g_new0(uint64_t, n);
                ndom = n;
            }
            for (d = 0; d < MIN(n, ndom); d++) {
                total[d] += values[d];
            }
            sum += s;
        }
        if (apply_str_list_filter(stat_names[f], filter)) {
            QAPI_LIST_APPEND(*tail, stat_new(stat_names[f], sum));
        }
        for (d = 0; d < ndom; d++) {
            g_autofree char *dn = g_strdup_printf("%s-l3-%u", stat_names[f],
                                                  d);

            if (apply_str_list_filter(dn, filter)) {
                QAPI_LIST_APPEND(*tail, stat_new(dn, total[d]));
            }
        }
    }
    return true;
}

static void cm_query_stats(StatsResultList **result, StatsTarget target,
                           strList *names, strList *targets, Error **errp)
{
    CacheMonitor *cm = the_monitor;
    StatsList *list = NULL, **tail = &list;
    CPUState *cpu;

    if (!cm || !cm->groups) {
        return;
    }
    if (target == STATS_TARGET_VM) {
        g_autoptr(GPtrArray) all = g_ptr_array_new();
        guint i;

        for (i = 0; i < cm->groups->len; i++) {
            g_ptr_array_add(all, g_ptr_array_index(cm->groups, i));
        }
        g_ptr_array_add(all, NULL);
        if (cm_group_stats(cm, (const char *const *)all->pdata, names,
                           &tail, errp) && list) {
            add_stats_entry(result, STATS_PROVIDER_RESCTRL, NULL, list);
        } else {
            qapi_free_StatsList(list);
        }
        return;
    }
    /* per vCPU only where each vCPU has a group of its own */
    if (target != STATS_TARGET_VCPU || !cm->per_vcpu) {
        return;
    }
    CPU_FOREACH(cpu) {
        g_autofree char *g = group_name(cm, cpu);
        const char *one[] = { g, NULL };

        if (cpu->thread_id <= 0 ||
            !apply_str_list_filter(cpu->parent_obj.canonical_path, targets)) {
            continue;
        }
        list = NULL;
        tail = &list;
        if (!cm_group_stats(cm, one, names, &tail, errp)) {
            qapi_free_StatsList(list);
            return;
        }
        if (list) {
            add_stats_entry(result, STATS_PROVIDER_RESCTRL,
                            cpu->parent_obj.canonical_path, list);
        }
    }
}

static StatsSchemaValueList *cm_schema(CacheMonitor *cm)
{
    StatsSchemaValueList *list = NULL, **tail = &list;
    g_autofree char *emulator = group_name(cm, NULL);
    ResctrlFeature f;

    for (f = 0; f < RESCTRL_FEATURE__MAX; f++) {
        g_autofree uint64_t *values = NULL;
        unsigned n = 0, d;
        uint64_t sum;

        if (!(cm->features & (1u << f))) {
            continue;
        }
        /* the L3 domains: as many as the emulator group reports */
        if (!qemu_resctrl_group_read(cm->root, emulator, f, &values, &n,
                                     &sum, NULL)) {
            n = 0;
        }
        for (d = 0; d <= n; d++) {
            StatsSchemaValue *v = g_new0(StatsSchemaValue, 1);

            v->name = d ? g_strdup_printf("%s-l3-%u", stat_names[f], d - 1)
                        : g_strdup(stat_names[f]);
            /* occupancy is a level; the bandwidth counters only grow */
            v->type = f == RESCTRL_LLC_OCCUPANCY ? STATS_TYPE_INSTANT
                                                 : STATS_TYPE_CUMULATIVE;
            v->has_unit = true;
            v->unit = STATS_UNIT_BYTES;
            QAPI_LIST_APPEND(tail, v);
        }
    }
    return list;
}

static void cm_query_schemas(StatsSchemaList **result, Error **errp)
{
    CacheMonitor *cm = the_monitor;

    if (!cm || !cm->groups) {
        return;
    }
    add_stats_schema(result, STATS_PROVIDER_RESCTRL, STATS_TARGET_VM,
                     cm_schema(cm));
    if (cm->per_vcpu) {
        add_stats_schema(result, STATS_PROVIDER_RESCTRL, STATS_TARGET_VCPU,
                         cm_schema(cm));
    }
}

/* Hooks ------------------------------------------------------------------ */

static bool cm_setup(CacheMonitor *cm, Error **errp);

void cache_monitor_vcpu_created(CPUState *cpu)
{
    Error *err = NULL;

    if (the_monitor && the_monitor->groups &&
        !cm_add_vcpu(the_monitor, cpu, &err)) {
        warn_report_err(err);
    }
}

/* The machine and its vCPUs exist: put every thread in its group */
static bool cm_machine_ready(Error **errp)
{
    if (the_monitor && !cm_setup(the_monitor, errp)) {
        the_monitor = NULL;
        return false;
    }
    return true;
}

/* The object ------------------------------------------------------------- */

static char *cm_get_root(Object *obj, Error **errp)
{
    return g_strdup(CACHE_MONITOR(obj)->root);
}

static void cm_set_root(Object *obj, const char *value, Error **errp)
{
    CacheMonitor *cm = CACHE_MONITOR(obj);

    if (cm->groups) {
        error_setg(errp, "cache-monitor '%s': resctrl cannot change once "
                   "the groups exist", cm_id(cm));
        return;
    }
    g_free(cm->root);
    cm->root = g_strdup(value);
}

static bool cm_get_per_vcpu(Object *obj, Error **errp)
{
    return CACHE_MONITOR(obj)->per_vcpu;
}

static void cm_set_per_vcpu(Object *obj, bool value, Error **errp)
{
    CacheMonitor *cm = CACHE_MONITOR(obj);

    if (cm->groups) {
        error_setg(errp, "cache-monitor '%s': per-vcpu cannot change once "
                   "the groups exist", cm_id(cm));
        return;
    }
    cm->per_vcpu = value;
}

/*
 * Make the groups and put the threads in them.  Needs the machine: the
 * number of possible vCPUs, and the threads.
 */
static bool cm_setup(CacheMonitor *cm, Error **errp)
{
    g_autofree char *emulator = NULL, *vcpus = NULL;
    unsigned features, free_rmids, needed;

    /* the stale groups removed at completion have freed their IDs */
    if (!qemu_resctrl_probe(cm->root, &features, &free_rmids, errp)) {
        error_prepend(errp, "cache-monitor '%s': ", cm_id(cm));
        return false;
    }
    needed = cm->per_vcpu ? current_machine->smp.max_cpus + 1 : 2;
    if (free_rmids < needed) {
        error_setg(errp, "cache-monitor '%s': resctrl at %s has %u "
                   "monitoring IDs left, and %u groups are needed (%s)",
                   cm_id(cm), cm->root, free_rmids, needed,
                   cm->per_vcpu ? "one per possible vCPU, and the "
                   "emulator's; per-vcpu=off needs 2" : "the vCPUs' and "
                   "the emulator's");
        return false;
    }
    cm->prefix = g_strdup_printf("qemu-%d-%s", getpid(), cm_id(cm));
    cm->groups = g_ptr_array_new_with_free_func(g_free);
    emulator = group_name(cm, NULL);
    vcpus = g_strdup_printf("%s-vcpus", cm->prefix);
    /* with per-vcpu=on, a vCPU's group is made with its thread */
    if (!cm_make_group(cm, emulator, errp) ||
        (!cm->per_vcpu && !cm_make_group(cm, vcpus, errp))) {
        error_prepend(errp, "cache-monitor '%s': ", cm_id(cm));
        goto fail;
    }
    if (!cm_add_threads(cm, errp)) {
        goto fail;
    }
    return true;

fail:
    cm_remove_groups(cm);
    g_ptr_array_free(cm->groups, true);
    cm->groups = NULL;
    return false;
}

static void cm_complete(UserCreatable *uc, Error **errp)
{
    CacheMonitor *cm = CACHE_MONITOR(uc);
    unsigned free_rmids;
    static bool registered;

    if (the_monitor) {
        error_setg(errp, "cache-monitor '%s': '%s' monitors this VM already",
                   cm_id(cm), cm_id(the_monitor));
        return;
    }
    if (!qemu_resctrl_probe(cm->root, &cm->features, &free_rmids, errp)) {
        error_prepend(errp, "cache-monitor '%s': ", cm_id(cm));
        return;
    }
    cm_remove_stale(cm);
    /* object-add: the machine is there; at start-up, cm_machine_ready() */
    if (phase_check(PHASE_MACHINE_READY) && !cm_setup(cm, errp)) {
        return;
    }
    the_monitor = cm;
    if (!registered) {
        add_stats_callbacks(STATS_PROVIDER_RESCTRL, cm_query_stats,
                            cm_query_schemas);
        qemu_add_exit_notifier(&cm_exit_notifier);
        registered = true;
    }
}

static void cm_instance_init(Object *obj)
{
    CACHE_MONITOR(obj)->root = g_strdup(RESCTRL_DEFAULT_ROOT);
}

static void cm_finalize(Object *obj)
{
    CacheMonitor *cm = CACHE_MONITOR(obj);

    if (the_monitor == cm) {
        the_monitor = NULL;
    }
    cm_remove_groups(cm);
    if (cm->groups) {
        g_ptr_array_free(cm->groups, true);
    }
    g_free(cm->prefix);
    g_free(cm->root);
}

static void cm_class_init(ObjectClass *oc, void *data)
{
    UserCreatableClass *ucc = USER_CREATABLE_CLASS(oc);

    ucc->complete = cm_complete;

    object_class_property_add_str(oc, "resctrl", cm_get_root, cm_set_root);
    object_class_property_set_description(oc, "resctrl",
        "where the resctrl filesystem is mounted (default "
        RESCTRL_DEFAULT_ROOT ")");
    object_class_property_add_bool(oc, "per-vcpu", cm_get_per_vcpu,
                                   cm_set_per_vcpu);
    object_class_property_set_description(oc, "per-vcpu",
        "one monitoring group per vCPU (per-vCPU statistics; one "
        "monitoring ID each) instead of one for all vCPUs");
}

static const TypeInfo cm_info = {
    .name = TYPE_CACHE_MONITOR,
    .parent = TYPE_OBJECT,
    .class_init = cm_class_init,
    .instance_size = sizeof(CacheMonitor),
    .instance_init = cm_instance_init,
    .instance_finalize = cm_finalize,
    .interfaces = (InterfaceInfo[]) {
        { TYPE_USER_CREATABLE },
        { }
    },
};

static void cm_register_types(void)
{
    type_register_static(&cm_info);
    machine_ready_add_hook(cm_machine_ready);
}

type_init(cm_register_types);
