/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The registry of QEMU's threads and their roles, by host thread id: see
 * include/qemu/thread-registry.h.
 *
 * Threads start and end concurrently, from any thread, so the registry
 * has a lock of its own; it takes no other lock while holding it, and
 * readers copy the entries out (qemu_thread_registry_list()) rather than
 * run code under it.
 */

#include "qemu/osdep.h"
#include "qemu/thread.h"
#include "qemu/thread-registry.h"

static QemuMutex registry_lock;
/*
 * thread id -> QemuThreadEntry, the emulator threads apart, so that
 * listing them costs nothing per vCPU
 */
static GHashTable *emulator_threads, *other_threads;

static const char *const role_names[QEMU_THREAD_ROLE__MAX] = {
    [QEMU_THREAD_ROLE_OTHER] = "other",
    [QEMU_THREAD_ROLE_MAIN_LOOP] = "main-loop",
    [QEMU_THREAD_ROLE_VCPU] = "vcpu",
    [QEMU_THREAD_ROLE_RCU] = "rcu",
    [QEMU_THREAD_ROLE_WORKER] = "worker",
    [QEMU_THREAD_ROLE_IOTHREAD] = "iothread",
    [QEMU_THREAD_ROLE_MONITOR] = "monitor",
    [QEMU_THREAD_ROLE_THREAD_CONTEXT] = "thread-context",
    [QEMU_THREAD_ROLE_MIGRATION] = "migration",
    [QEMU_THREAD_ROLE_MEMORY_PREALLOC] = "memory-prealloc",
};

/*
 * The names QEMU gives qemu_thread_create(), whole or as a prefix (the
 * rest being an id or a number), and the roles they mean; the first
 * match wins
 */
static const struct {
    const char *name;
    bool prefix;
    QemuThreadRole role;
} role_of_name[] = {
    { "CPU ", true, QEMU_THREAD_ROLE_VCPU },        /* accel/, target/ */
    { "ALL CPUs", true, QEMU_THREAD_ROLE_VCPU },    /* TCG round robin */
    /* iothread.c; monitor/monitor.c marks its own IOThread afterwards */
    { "IO ", true, QEMU_THREAD_ROLE_IOTHREAD },
    { "TC ", true, QEMU_THREAD_ROLE_THREAD_CONTEXT },
    { "call_rcu", false, QEMU_THREAD_ROLE_RCU },
    { "worker", false, QEMU_THREAD_ROLE_WORKER },   /* thread-pool.c */
    { "touch_pages", false, QEMU_THREAD_ROLE_MEMORY_PREALLOC },
    /* migration/: QEMU 9.0 and later name every thread "mig/..." */
    { "mig/", true, QEMU_THREAD_ROLE_MIGRATION },
    { "live_migration", false, QEMU_THREAD_ROLE_MIGRATION },
    { "bg_snapshot", false, QEMU_THREAD_ROLE_MIGRATION },
    { "return path", false, QEMU_THREAD_ROLE_MIGRATION },
    { "COLO incoming", false, QEMU_THREAD_ROLE_MIGRATION },
    { "compress", false, QEMU_THREAD_ROLE_MIGRATION },
    { "decompress", false, QEMU_THREAD_ROLE_MIGRATION },
    { "multifd", true, QEMU_THREAD_ROLE_MIGRATION },
    { "postcopy", true, QEMU_THREAD_ROLE_MIGRATION },
    { "fault-default", false, QEMU_THREAD_ROLE_MIGRATION },
    { "fault-fast", false, QEMU_THREAD_ROLE_MIGRATION },
};

static QemuThreadRole role_from_name(const char *name)
{
    size_t i;

    for (i = 0; name && i < ARRAY_SIZE(role_of_name); i++) {
        if (role_of_name[i].prefix
            ? g_str_has_prefix(name, role_of_name[i].name)
            : !strcmp(name, role_of_name[i].name)) {
            return role_of_name[i].role;
        }
    }
    return QEMU_THREAD_ROLE_OTHER;
}

static GHashTable *table_of(QemuThreadRole role)
{
    return qemu_thread_role_is_emulator(role) ? emulator_threads
                                              : other_threads;
}

/* The entry of thread @tid, or NULL; call with registry_lock held */
static QemuThreadEntry *registry_find(int tid)
{
    return g_hash_table_lookup(emulator_threads, GINT_TO_POINTER(tid)) ?:
        g_hash_table_lookup(other_threads, GINT_TO_POINTER(tid));
}

/* Forget thread @tid; call with registry_lock held */
static void registry_remove(int tid)
{
    if (!g_hash_table_remove(emulator_threads, GINT_TO_POINTER(tid))) {
        g_hash_table_remove(other_threads, GINT_TO_POINTER(tid));
    }
}

/* Give @e role @role, in the table of that role; with registry_lock */
static void registry_set_role(QemuThreadEntry *e, QemuThreadRole role)
{
    GHashTable *from = table_of(e->role), *to = table_of(role);

    if (from != to) {
        g_hash_table_steal(from, GINT_TO_POINTER(e->tid));
        g_hash_table_insert(to, GINT_TO_POINTER(e->tid), e);
    }
    e->role = role;
}

/* Add or replace thread @tid; call with registry_lock held */
static QemuThreadEntry *registry_put(int tid, QemuThreadRole role)
{
    QemuThreadEntry *e = g_new(QemuThreadEntry, 1);

    registry_remove(tid);
    e->tid = tid;
    e->role = role;
    e->vcpu_index = -1;
    g_hash_table_insert(table_of(role), GINT_TO_POINTER(tid), e);
    return e;
}

#ifdef CONFIG_POSIX
/*
 * fork(): the child has only the thread that forked, under a new id.
 * The lock is held across fork(), so that threads started by other
 * fork handlers in the child (call_rcu's) register after the reset.
 */
static int forking_tid;

static void registry_fork_prepare(void)
{
    qemu_mutex_lock(&registry_lock);
    forking_tid = qemu_get_thread_id();
}

static void registry_fork_parent(void)
{
    qemu_mutex_unlock(&registry_lock);
}

static void registry_fork_child(void)
{
    QemuThreadEntry *e = registry_find(forking_tid);
    QemuThreadRole role = e ? e->role : QEMU_THREAD_ROLE_OTHER;

    g_hash_table_remove_all(emulator_threads);
    g_hash_table_remove_all(other_threads);
    registry_put(qemu_get_thread_id(), role);
    qemu_mutex_unlock(&registry_lock);
}
#endif

/*
 * The registry, with the main thread in it, is made before main() and
 * before the constructors that start threads: util/rcu.c's rcu_init()
 * (default priority) starts call_rcu, which registers itself at once.
 * Made on first use instead, from that thread, it could be half made when
 * -daemonize forks: the child, without the thread that was making it,
 * hung in g_once_init_enter() (libvirt probes QEMU with -daemonize; 1 run
 * in 300 hung on a loaded 2-CPU machine).
 */
static void __attribute__((constructor(101))) registry_init(void)
{
    qemu_mutex_init(&registry_lock);
    emulator_threads = g_hash_table_new_full(NULL, NULL, NULL, g_free);
    other_threads = g_hash_table_new_full(NULL, NULL, NULL, g_free);
    /* on Linux, the main thread's id is the process id */
    registry_put(getpid(), QEMU_THREAD_ROLE_MAIN_LOOP);
#ifdef CONFIG_POSIX
    pthread_atfork(registry_fork_prepare, registry_fork_parent,
                   registry_fork_child);
#endif
}

void qemu_thread_registry_add_self(const char *name)
{
    int tid = qemu_get_thread_id();

    qemu_mutex_lock(&registry_lock);
    registry_put(tid, role_from_name(name));
    qemu_mutex_unlock(&registry_lock);
}

void qemu_thread_registry_remove_self(void)
{
    int tid = qemu_get_thread_id();

    qemu_mutex_lock(&registry_lock);
    registry_remove(tid);
    qemu_mutex_unlock(&registry_lock);
}

void qemu_thread_registry_set_vcpu(int tid, int vcpu_index)
{
    QemuThreadEntry *e;

    if (tid <= 0) {
        return;
    }
    qemu_mutex_lock(&registry_lock);
    e = registry_find(tid) ?: registry_put(tid, QEMU_THREAD_ROLE_VCPU);
    registry_set_role(e, QEMU_THREAD_ROLE_VCPU);
    if (e->vcpu_index < 0 || vcpu_index < e->vcpu_index) {
        e->vcpu_index = vcpu_index;
    }
    qemu_mutex_unlock(&registry_lock);
}

void qemu_thread_registry_set_role(int tid, QemuThreadRole role)
{
    QemuThreadEntry *e;

    assert(role < QEMU_THREAD_ROLE__MAX && role != QEMU_THREAD_ROLE_VCPU);
    qemu_mutex_lock(&registry_lock);
    e = registry_find(tid);
    if (e) {
        registry_set_role(e, role);
    }
    qemu_mutex_unlock(&registry_lock);
}

static gint entry_cmp(gconstpointer a, gconstpointer b)
{
    const QemuThreadEntry *x = a, *y = b;

    return (x->tid > y->tid) - (x->tid < y->tid);
}

static void append_entries(GArray *list, GHashTable *table)
{
    GHashTableIter it;
    gpointer e;

    g_hash_table_iter_init(&it, table);
    while (g_hash_table_iter_next(&it, NULL, &e)) {
        g_array_append_vals(list, e, 1);
    }
}

GArray *qemu_thread_registry_list(bool emulator_only)
{
    GArray *list;

    qemu_mutex_lock(&registry_lock);
    list = g_array_sized_new(false, false, sizeof(QemuThreadEntry),
                             g_hash_table_size(emulator_threads) +
                             (emulator_only ? 0 :
                              g_hash_table_size(other_threads)));
    append_entries(list, emulator_threads);
    if (!emulator_only) {
        append_entries(list, other_threads);
    }
    qemu_mutex_unlock(&registry_lock);
    g_array_sort(list, entry_cmp);
    return list;
}

bool qemu_thread_role_is_emulator(QemuThreadRole role)
{
    return role != QEMU_THREAD_ROLE_VCPU &&
           role != QEMU_THREAD_ROLE_IOTHREAD &&
           role != QEMU_THREAD_ROLE_THREAD_CONTEXT;
}

const char *qemu_thread_role_name(QemuThreadRole role)
{
    assert(role < QEMU_THREAD_ROLE__MAX);
    return role_names[role];
}
