/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * query-vcpu-affinity and info vcpu-affinity: for each vCPU its thread,
 * state, CPU time and last host CPU (from /proc), the host CPUs it may run
 * on and the vcpu-affinity rule that placed it; then the emulator threads'
 * host CPUs and rule, and (QMP only) each one's thread id and role.
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qapi/qapi-commands-vcpu-affinity.h"
#include "qemu/bitmap.h"
#include "qemu/thread-affinity.h"
#include "qemu/thread-registry.h"
#include "hw/boards.h"
#include "hw/core/cpu.h"
#include "monitor/hmp.h"
#include "monitor/monitor.h"
#include "system/vcpu-affinity.h"

/*
 * QAPI from QEMU 8.0 on takes an optional string as present when it is
 * not NULL; before (the 7.2 base) it has a has_FOO flag to set as well.
 */
#if QEMU_VERSION_MAJOR < 8
#define QAPI_HAS_OPTIONAL_STR(obj, member) ((obj)->has_##member = true)
#else
#define QAPI_HAS_OPTIONAL_STR(obj, member) ((void)0)
#endif

/* The host CPUs thread @tid may run on, as a list */
static bool thread_affinity(pid_t tid, uint16List **list)
{
    uint16List **tail = list;
    unsigned long *map, nbits, i;

    if (qemu_thread_id_get_affinity(tid, &map, &nbits, NULL)) {
        return false;
    }
    for (i = find_first_bit(map, nbits); i < nbits;
         i = find_next_bit(map, nbits, i + 1)) {
        QAPI_LIST_APPEND(tail, i);
    }
    g_free(map);
    return true;
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

static EmulatorThreadRole emulator_thread_role(QemuThreadRole role)
{
    switch (role) {
    case QEMU_THREAD_ROLE_MAIN_LOOP:
        return EMULATOR_THREAD_ROLE_MAIN_LOOP;
    case QEMU_THREAD_ROLE_RCU:
        return EMULATOR_THREAD_ROLE_RCU;
    case QEMU_THREAD_ROLE_WORKER:
        return EMULATOR_THREAD_ROLE_WORKER;
    case QEMU_THREAD_ROLE_MONITOR:
        return EMULATOR_THREAD_ROLE_MONITOR;
    case QEMU_THREAD_ROLE_MIGRATION:
        return EMULATOR_THREAD_ROLE_MIGRATION;
    case QEMU_THREAD_ROLE_MEMORY_PREALLOC:
        return EMULATOR_THREAD_ROLE_MEMORY_PREALLOC;
    default:
        return EMULATOR_THREAD_ROLE_OTHER;
    }
}

/* The emulator threads, from the thread registry */
static EmulatorThreadInfoList *emulator_threads(void)
{
    g_autoptr(GArray) threads = qemu_thread_registry_list(true);
    EmulatorThreadInfoList *list = NULL, **tail = &list;
    guint i;

    for (i = 0; i < threads->len; i++) {
        QemuThreadEntry *t = &g_array_index(threads, QemuThreadEntry, i);
        EmulatorThreadInfo *info = g_new0(EmulatorThreadInfo, 1);

        info->thread_id = t->tid;
        info->role = emulator_thread_role(t->role);
        QAPI_LIST_APPEND(tail, info);
    }
    return list;
}

VcpuAffinity *qmp_query_vcpu_affinity(Error **errp)
{
    MachineState *ms = current_machine;
    const CPUArchIdList *possible;
    VcpuAffinity *ret = g_new0(VcpuAffinity, 1);
    VcpuAffinityInfoList **tail = &ret->vcpus;
    g_autofree const char **rules = NULL;
    int i, n;

    ret->emulator = g_new0(EmulatorAffinityInfo, 1);
    if (!thread_affinity(0, &ret->emulator->affinity)) {
        error_setg(errp, "cannot read host thread affinity");
        qapi_free_VcpuAffinity(ret);
        return NULL;
    }
    ret->emulator->has_affinity = true;
    ret->emulator->threads = emulator_threads();

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
    rules = vcpu_affinity_vcpu_rules(n);
    if (rules[n]) {
        QAPI_HAS_OPTIONAL_STR(ret->emulator, rule);
        ret->emulator->rule = g_strdup(rules[n]);
    }
    for (i = 0; i < n; i++) {
        VcpuAffinityInfo *info = g_new0(VcpuAffinityInfo, 1);
        /*
         * machines without CPU hot-plug leave .cpu unset; it is an
         * Object * before QEMU 9.0 and a CPUState * since, so CPU() it
         */
        CPUState *cpu = possible && possible->cpus[i].cpu ?
                        CPU(possible->cpus[i].cpu) : qemu_get_cpu(i);

        info->cpu_index = i;
        if (rules[i]) {
            QAPI_HAS_OPTIONAL_STR(info, rule);
            info->rule = g_strdup(rules[i]);
        }
        if (!cpu || cpu->thread_id <= 0) {
            info->state = VCPU_AFFINITY_STATE_OFFLINE;
        } else {
            info->state = cpu->halted ? VCPU_AFFINITY_STATE_HALTED
                                      : VCPU_AFFINITY_STATE_RUNNING;
            info->has_thread_id = true;
            info->thread_id = cpu->thread_id;
            info->has_affinity = thread_affinity(cpu->thread_id,
                                                 &info->affinity);
            thread_stats(cpu->thread_id, info);
        }
        QAPI_LIST_APPEND(tail, info);
    }
    return ret;
}

/* "0-3,8" for a list of host CPUs */
static char *u16list_to_str(uint16List *list)
{
    g_autofree unsigned long *map = NULL;
    uint16List *l;
    long n = 1;

    for (l = list; l; l = l->next) {
        n = MAX(n, l->value + 1);
    }
    map = bitmap_new(n);
    for (l = list; l; l = l->next) {
        set_bit(l->value, map);
    }
    return qemu_host_cpus_to_str(map, n);
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
