/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * vcpu-affinity and emulator-affinity: where QEMU's threads may run, read
 * back from /proc/PID/task/TID/status (Cpus_allowed_list) of every vCPU
 * thread (ids from query-cpus-fast) and every other thread of QEMU.
 *
 * The tests use the host CPUs this process may run on: C0 and C1 are the
 * first two.  A case that needs two and finds one is skipped with a
 * message.  The guest never runs (-S): placement happens before any guest
 * code, when vCPU threads are created.
 */

#include "qemu/osdep.h"
#include "libqtest.h"
#include "qobject/qdict.h"
#include "qobject/qlist.h"
#include "qobject/qnum.h"

#define MACHINE "-machine q35 -accel tcg -nodefaults "

/* Guest node 0 with 256 MiB and the vCPUs @cpus */
#define NODE0(cpus) \
    " -m 256M -object memory-backend-ram,id=m0,size=256M" \
    " -numa node,nodeid=0,cpus=" cpus ",memdev=m0"

#include "affinity-threads.c.inc"
#include "qemu-stderr.c.inc"

static bool need_two_cpus(void)
{
    if (host_cpu[1] < 0) {
        g_test_skip("needs two host CPUs this process may run on");
        return false;
    }
    return true;
}

/*
 * Check every other thread of QEMU (@emulator) and @n vCPU threads, whose
 * expected lists follow (NULL: no thread).
 */
static void check_threads(QTestState *qts, const char *emulator, int n, ...)
{
    const char *vcpus[8];
    int tids[8], pid, i;
    va_list ap;
    g_autofree char *task = NULL;
    const char *name;
    GDir *dir;

    g_assert_cmpint(n, <=, ARRAY_SIZE(vcpus));
    va_start(ap, n);
    for (i = 0; i < n; i++) {
        vcpus[i] = va_arg(ap, const char *);
    }
    va_end(ap);
    pid = vcpu_threads(qts, tids, ARRAY_SIZE(tids));
    for (i = 0; i < n; i++) {
        g_autofree char *got = NULL;

        if (!vcpus[i]) {
            g_assert_cmpint(tids[i], ==, -1);
            continue;
        }
        g_assert_cmpint(tids[i], >, 0);
        got = allowed_list(pid, tids[i]);
        if (strcmp(got, vcpus[i])) {
            fprintf(stderr, "vCPU %d: thread %d on %s, expected %s\n", i,
                    tids[i], got, vcpus[i]);
        }
        g_assert_cmpstr(got, ==, vcpus[i]);
    }
    task = g_strdup_printf("/proc/%d/task", pid);
    dir = g_dir_open(task, 0, NULL);
    g_assert_nonnull(dir);
    while ((name = g_dir_read_name(dir))) {
        int tid = atoi(name);
        g_autofree char *got = NULL;

        for (i = 0; i < ARRAY_SIZE(tids) && tids[i] != tid; i++) {
            ;
        }
        if (i < ARRAY_SIZE(tids)) {
            continue;
        }
        got = allowed_list_or_gone(pid, tid);
        if (!got) {
            continue;       /* it has exited since the listing */
        }
        if (strcmp(got, emulator)) {
            fprintf(stderr, "emulator thread %d on %s, expected %s\n", tid,
                    got, emulator);
        }
        g_assert_cmpstr(got, ==, emulator);
    }
    g_dir_close(dir);
}

#define HOST_CPU(n) (g_strdup_printf("%d", host_cpu[n]))

static void test_vcpus(void)
{
    g_autofree char *c0 = HOST_CPU(0), *c1 = NULL;
    QTestState *qts;

    if (!need_two_cpus()) {
        return;
    }
    c1 = HOST_CPU(1);
    qts = qtest_initf(MACHINE "-S -smp 3"
                      " -object vcpu-affinity,id=p0,vcpus=0,host-cpus=%s"
                      " -object vcpu-affinity,id=p1,vcpus=1-2,host-cpus=%s",
                      c0, c1);
    check_threads(qts, allowed, 3, c0, c1, c1);
    qtest_quit(qts);

    /* single-threaded TCG: the one vCPU thread gets the union */
    qts = qtest_initf("-machine q35 -accel tcg,thread=single -nodefaults"
                      " -S -smp 2"
                      " -object vcpu-affinity,id=p0,vcpus=0,host-cpus=%s"
                      " -object vcpu-affinity,id=p1,vcpus=1,host-cpus=%s",
                      c0, c1);
    {
        g_autofree char *both = g_strdup_printf(
            host_cpu[1] == host_cpu[0] + 1 ? "%d-%d" : "%d,%d",
            host_cpu[0], host_cpu[1]);

        check_threads(qts, allowed, 2, both, both);
    }
    qtest_quit(qts);
}

static void test_precedence(void)
{
    g_autofree char *c0 = HOST_CPU(0), *c1 = NULL;
    QTestState *qts;

    if (!need_two_cpus()) {
        return;
    }
    c1 = HOST_CPU(1);
    /* vcpus > node > default; the emulator threads follow the default */
    qts = qtest_initf(MACHINE "-S -smp 3 -m 256M"
                      " -object memory-backend-ram,id=m0,size=128M"
                      " -object memory-backend-ram,id=m1,size=128M"
                      " -numa node,nodeid=0,cpus=0-1,memdev=m0"
                      " -numa node,nodeid=1,cpus=2,memdev=m1"
                      " -object vcpu-affinity,id=dflt,host-cpus=%s"
                      " -object vcpu-affinity,id=n0,node=0,host-cpus=%s"
                      " -object vcpu-affinity,id=p1,vcpus=1,host-cpus=%s",
                      c0, c1, c0);
    check_threads(qts, c0, 3, c1, c0, c0);
    qtest_quit(qts);

    /* an emulator rule takes the emulator threads from the default */
    qts = qtest_initf(MACHINE "-S -smp 2"
                      " -object vcpu-affinity,id=dflt,host-cpus=%s"
                      " -object emulator-affinity,id=emu,host-cpus=%s",
                      c0, c1);
    check_threads(qts, c1, 2, c0, c0);
    qtest_quit(qts);

    /* an emulator rule alone leaves the vCPUs on the start set */
    qts = qtest_initf(MACHINE "-S -smp 2"
                      " -object '{\"qom-type\":\"emulator-affinity\","
                      "\"id\":\"emu\",\"host-cpus\":[%s]}'", c0);
    check_threads(qts, c0, 2, allowed, allowed);
    qtest_quit(qts);
}

static void test_host_nodes(void)
{
    g_autofree char *cpus = NULL;
    QTestState *qts;
    int node = host_node(&cpus);

    if (node < 0) {
        g_test_skip("no host NUMA node with the CPUs this process may use");
        return;
    }
    qts = qtest_initf(MACHINE "-S -smp 2 -m 256M"
                      " -object vcpu-affinity,id=p,vcpus=1,host-nodes=%d",
                      node);
    check_threads(qts, allowed, 2, allowed, cpus);
    qtest_quit(qts);

    /* automatic: from the host nodes guest node 1's memdev binds */
    qts = qtest_initf(MACHINE "-S -smp 2 -m 256M"
                      " -object memory-backend-ram,id=m0,size=128M"
                      " -object memory-backend-ram,id=m1,size=128M,"
                      "host-nodes=%d,policy=bind"
                      " -numa node,nodeid=0,cpus=0,memdev=m0"
                      " -numa node,nodeid=1,cpus=1,memdev=m1"
                      " -object vcpu-affinity,id=auto1,node=1", node);
    check_threads(qts, allowed, 2, allowed, cpus);
    qtest_quit(qts);
}

static const char *query_rule(QTestState *qts, int index, QDict **rsp)
{
    QListEntry *e;

    *rsp = qtest_qmp(qts, "{ 'execute': 'query-vcpu-affinity' }");
    QLIST_FOREACH_ENTRY(qdict_get_qlist(qdict_get_qdict(*rsp, "return"),
                                        "vcpus"), e) {
        QDict *v = qobject_to(QDict, qlist_entry_obj(e));

        if (qdict_get_int(v, "cpu-index") == index) {
            return qdict_haskey(v, "rule") ? qdict_get_str(v, "rule") : "";
        }
    }
    return NULL;
}

static void assert_rule(QTestState *qts, int index, const char *rule)
{
    QDict *rsp;

    g_assert_cmpstr(query_rule(qts, index, &rsp), ==, rule);
    qobject_unref(rsp);
}

static void assert_qmp_error(QTestState *qts, const char *msg, QDict *rsp)
{
    const char *desc;

    g_assert_true(qdict_haskey(rsp, "error"));
    desc = qdict_get_str(qdict_get_qdict(rsp, "error"), "desc");
    if (!strstr(desc, msg)) {
        fprintf(stderr, "expected '%s' in '%s'\n", msg, desc);
    }
    g_assert_nonnull(strstr(desc, msg));
    qobject_unref(rsp);
}

static void test_runtime(void)
{
    g_autofree char *c0 = HOST_CPU(0), *c1 = NULL;
    QTestState *qts;
    QDict *rsp;

    if (!need_two_cpus()) {
        return;
    }
    c1 = HOST_CPU(1);
    qts = qtest_initf(MACHINE "-smp 2"
                      " -object vcpu-affinity,id=dflt,host-cpus=%s"
                      " -object vcpu-affinity,id=p1,vcpus=1,host-cpus=%s",
                      c0, c1);
    check_threads(qts, c0, 2, c0, c1);
    assert_rule(qts, 1, "p1");

    /* qom-set of the host set re-applies at once */
    qtest_qmp_assert_success(qts, "{ 'execute': 'qom-set', 'arguments':"
                             " { 'path': '/objects/p1', 'property':"
                             " 'host-cpus', 'value': [%d] } }", host_cpu[0]);
    check_threads(qts, c0, 2, c0, c0);
    qtest_qmp_assert_success(qts, "{ 'execute': 'qom-set', 'arguments':"
                             " { 'path': '/objects/dflt', 'property':"
                             " 'host-cpus', 'value': [%d] } }", host_cpu[1]);
    check_threads(qts, c1, 2, c1, c0);

    /* a rejected qom-set changes nothing */
    rsp = qtest_qmp(qts, "{ 'execute': 'qom-set', 'arguments':"
                    " { 'path': '/objects/p1', 'property': 'host-cpus',"
                    " 'value': [4095] } }");
    assert_qmp_error(qts, "host CPU 4095 is not one QEMU may run on", rsp);
    check_threads(qts, c1, 2, c1, c0);

    /* object-add: an emulator rule applies at once */
    qtest_qmp_assert_success(qts, "{ 'execute': 'object-add', 'arguments':"
                             " { 'qom-type': 'emulator-affinity', 'id': 'emu',"
                             " 'host-cpus': [%d] } }", host_cpu[0]);
    check_threads(qts, c0, 2, c1, c0);

    /* object-del falls back to the next rule, then to the start set */
    qtest_qmp_assert_success(qts, "{ 'execute': 'object-del', 'arguments':"
                             " { 'id': 'p1' } }");
    check_threads(qts, c0, 2, c1, c1);
    assert_rule(qts, 1, "dflt");
    qtest_qmp_assert_success(qts, "{ 'execute': 'object-del', 'arguments':"
                             " { 'id': 'emu' } }");
    check_threads(qts, c1, 2, c1, c1);
    qtest_qmp_assert_success(qts, "{ 'execute': 'object-del', 'arguments':"
                             " { 'id': 'dflt' } }");
    check_threads(qts, allowed, 2, allowed, allowed);
    assert_rule(qts, 1, "");
    qtest_quit(qts);
}

static void test_hotplug(void)
{
    g_autofree char *c0 = HOST_CPU(0);
    QTestState *qts;

    qts = qtest_initf(MACHINE "-smp 1,maxcpus=2,sockets=2,cores=1,threads=1"
                      " -object vcpu-affinity,id=p1,vcpus=1,host-cpus=%s",
                      c0);
    check_threads(qts, allowed, 2, allowed, NULL);
    qtest_qmp_assert_success(qts, "{ 'execute': 'device_add', 'arguments':"
                             " { 'driver': 'qemu64-x86_64-cpu', 'id': 'c1',"
                             " 'socket-id': 1, 'core-id': 0,"
                             " 'thread-id': 0 } }");
    check_threads(qts, allowed, 2, allowed, c0);
    assert_rule(qts, 1, "p1");
    qtest_quit(qts);
}

static void test_info(void)
{
    g_autofree char *c0 = HOST_CPU(0);
    g_autofree char *out = NULL;
    QTestState *qts;
    QDict *rsp, *v;

    qts = qtest_initf(MACHINE "-S -smp 1,maxcpus=2"
                      " -object vcpu-affinity,id=p0,vcpus=0,host-cpus=%s",
                      c0);
    rsp = qtest_qmp(qts, "{ 'execute': 'query-vcpu-affinity' }");
    v = qobject_to(QDict, qlist_peek(qdict_get_qlist(
        qdict_get_qdict(rsp, "return"), "vcpus")));
    g_assert_cmpint(qdict_get_int(v, "cpu-index"), ==, 0);
    g_assert_cmpstr(qdict_get_str(v, "rule"), ==, "p0");
    g_assert_true(qdict_haskey(v, "thread-id"));
    g_assert_true(qdict_haskey(v, "cpu-time-ns"));
    g_assert_true(qdict_haskey(v, "last-host-cpu"));
    g_assert_cmpint(qlist_size(qdict_get_qlist(v, "affinity")), ==, 1);
    qobject_unref(rsp);
    out = qtest_hmp(qts, "info vcpu-affinity");
    g_assert_nonnull(strstr(out, "p0"));
    g_assert_nonnull(strstr(out, "offline"));
    g_assert_nonnull(strstr(out, "emulator threads"));
    qtest_quit(qts);
}

/* Arm virt: the same placement, and the query (virt has no CPU hot-plug) */
static void test_virt(void)
{
    g_autofree char *c0 = HOST_CPU(0);
    QTestState *qts;
    QDict *rsp;
    QListEntry *e;
    int n = 0;

    qts = qtest_initf("-machine virt -cpu cortex-a57 -accel tcg -nodefaults"
                      " -S -smp 2"
                      " -object vcpu-affinity,id=p1,vcpus=1,host-cpus=%s",
                      c0);
    check_threads(qts, allowed, 2, allowed, c0);
    rsp = qtest_qmp(qts, "{ 'execute': 'query-vcpu-affinity' }");
    QLIST_FOREACH_ENTRY(qdict_get_qlist(qdict_get_qdict(rsp, "return"),
                                        "vcpus"), e) {
        QDict *v = qobject_to(QDict, qlist_entry_obj(e));

        g_assert_cmpstr(qdict_get_str(v, "state"), !=, "offline");
        g_assert_true(qdict_haskey(v, "thread-id"));
        n++;
    }
    g_assert_cmpint(n, ==, 2);
    qobject_unref(rsp);
    assert_rule(qts, 1, "p1");
    qtest_quit(qts);
}

/* ---- the thread registry ------------------------------------------------ */

/*
 * The thread names (comm) QEMU gives each role of emulator thread with
 * -name debug-threads=on, whole or as a prefix; main-loop is QEMU's pid
 */
static const struct {
    const char *role;
    const char *comm;
    bool prefix;
} role_comms[] = {
    { "rcu", "call_rcu" },
    { "worker", "worker" },
    { "monitor", "IO mon_iothread" },
    { "memory-prealloc", "touch_pages" },
    { "migration", "live_migration" },
    { "migration", "bg_snapshot" },
    { "migration", "return path" },
    { "migration", "COLO incoming" },
    { "migration", "compress" },
    { "migration", "decompress" },
    { "migration", "multifd", true },
    { "migration", "postcopy", true },
    { "migration", "fault-default" },
    { "migration", "fault-fast" },
};

/* Is @comm the thread name @name (the kernel keeps 15 characters)? */
static bool comm_is(const char *comm, const char *name)
{
    return !strncmp(comm, name, 15) && strlen(comm) == MIN(strlen(name), 15);
}

/* Is @comm the name of a vCPU, IOThread or thread context thread? */
static bool comm_is_not_emulator(const char *comm)
{
    return g_str_has_prefix(comm, "CPU ") ||
        g_str_has_prefix(comm, "ALL CPUs") ||
        (g_str_has_prefix(comm, "IO ") && !comm_is(comm, "IO mon_iothread")) ||
        g_str_has_prefix(comm, "TC ");
}

/* The comm of thread @tid of @pid (NULL: it has gone) */
static char *thread_comm(int pid, int tid)
{
    g_autofree char *path = g_strdup_printf("/proc/%d/task/%d/comm", pid,
                                            tid);
    char *text = NULL;

    if (!g_file_get_contents(path, &text, NULL, NULL)) {
        return NULL;
    }
    return g_strchomp(text);
}

/* query-vcpu-affinity's emulator threads: thread id -> role */
static GHashTable *emulator_threads(QTestState *qts)
{
    GHashTable *roles = g_hash_table_new_full(NULL, NULL, NULL, g_free);
    QDict *rsp = qtest_qmp(qts, "{ 'execute': 'query-vcpu-affinity' }");
    QDict *emu = qdict_get_qdict(qdict_get_qdict(rsp, "return"),
                                 "emulator");
    QListEntry *e;

    QLIST_FOREACH_ENTRY(qdict_get_qlist(emu, "threads"), e) {
        QDict *t = qobject_to(QDict, qlist_entry_obj(e));

        g_hash_table_insert(roles,
                            GINT_TO_POINTER(qdict_get_int(t, "thread-id")),
                            g_strdup(qdict_get_str(t, "role")));
    }
    qobject_unref(rsp);
    return roles;
}

/*
 * The threads of the IOThreads and of thread context tc0: thread id ->
 * the name QEMU gives it ("IO ID", "TC tc0")
 */
static GHashTable *own_threads(QTestState *qts)
{
    GHashTable *names = g_hash_table_new_full(NULL, NULL, NULL, g_free);
    QDict *rsp = qtest_qmp(qts, "{ 'execute': 'query-iothreads' }");
    QListEntry *e;

    QLIST_FOREACH_ENTRY(qdict_get_qlist(rsp, "return"), e) {
        QDict *t = qobject_to(QDict, qlist_entry_obj(e));

        g_hash_table_insert(names,
                            GINT_TO_POINTER(qdict_get_int(t, "thread-id")),
                            g_strdup_printf("IO %s", qdict_get_str(t, "id")));
    }
    qobject_unref(rsp);
    rsp = qtest_qmp(qts, "{ 'execute': 'qom-get', 'arguments':"
                    " { 'path': '/objects/tc0', 'property': 'thread-id' } }");
    g_hash_table_insert(names,
                        GINT_TO_POINTER(qdict_get_int(rsp, "return")),
                        g_strdup("TC tc0"));
    qobject_unref(rsp);
    return names;
}

/*
 * Emulator thread @tid, named @comm, has role @role.  The RCU thread
 * starts in a constructor, before -name is parsed, and keeps the name of
 * the process (@main_comm).
 */
static void check_role(int pid, const char *main_comm, int tid,
                       const char *comm, const char *role)
{
    bool known = false, match = false;
    int i;

    if (!strcmp(role, "main-loop")) {
        match = tid == pid;
    } else if (!strcmp(role, "rcu") && !strcmp(comm, main_comm)) {
        match = true;
    } else {
        for (i = 0; i < ARRAY_SIZE(role_comms); i++) {
            if (role_comms[i].prefix
                ? g_str_has_prefix(comm, role_comms[i].comm)
                : comm_is(comm, role_comms[i].comm)) {
                known = true;
                match |= !strcmp(role, role_comms[i].role);
            }
        }
        /* other: none of the names above, and no vCPU, IOThread or TC */
        if (!strcmp(role, "other")) {
            match = !known && tid != pid && !comm_is_not_emulator(comm);
        }
    }
    if (!match) {
        fprintf(stderr, "thread %d '%s' has the role %s\n", tid, comm, role);
    }
    g_assert_true(match);
}

/*
 * QEMU's threads as query-vcpu-affinity tells them, against /proc: every
 * registered thread exists with the name of its role, and every thread in
 * /proc is registered.  Threads come and go (the thread pool's workers):
 * the registry is read before and after /proc, and a thread must be in
 * one of the two readings to be named, and in both to be checked.
 */
static void check_registry(QTestState *qts, const char *machine)
{
    g_autoptr(GHashTable) before = NULL, after = NULL, own = NULL;
    g_autoptr(GHashTable) in_proc = g_hash_table_new_full(NULL, NULL, NULL,
                                                          g_free);
    int tids[8], pid, i, n_vcpus = 0;
    g_autofree char *task = NULL;
    GHashTableIter it;
    gpointer key, value;
    const char *name;
    GDir *dir;

    before = emulator_threads(qts);
    pid = vcpu_threads(qts, tids, ARRAY_SIZE(tids));
    own = own_threads(qts);
    task = g_strdup_printf("/proc/%d/task", pid);
    dir = g_dir_open(task, 0, NULL);
    g_assert_nonnull(dir);
    while ((name = g_dir_read_name(dir))) {
        char *comm = thread_comm(pid, atoi(name));

        if (comm) {
            g_hash_table_insert(in_proc, GINT_TO_POINTER(atoi(name)), comm);
        }
    }
    g_dir_close(dir);
    after = emulator_threads(qts);

    /* the vCPUs', the IOThread and the thread context are not emulator's */
    for (i = 0; i < ARRAY_SIZE(tids) && tids[i] > 0; i++) {
        const char *comm = g_hash_table_lookup(in_proc,
                                               GINT_TO_POINTER(tids[i]));

        g_assert_nonnull(comm);
        g_assert_true(g_str_has_prefix(comm, "CPU ") ||
                      g_str_has_prefix(comm, "ALL CPUs"));
        g_assert_false(g_hash_table_contains(before,
                                             GINT_TO_POINTER(tids[i])));
        n_vcpus++;
    }
    g_assert_cmpint(n_vcpus, ==, 2);
    g_hash_table_iter_init(&it, own);
    while (g_hash_table_iter_next(&it, &key, &value)) {
        g_assert_cmpstr(g_hash_table_lookup(in_proc, key), ==, value);
        g_assert_false(g_hash_table_contains(before, key));
        g_assert_false(g_hash_table_contains(after, key));
    }

    /* every emulator thread there both times exists, with its role's name */
    g_hash_table_iter_init(&it, before);
    while (g_hash_table_iter_next(&it, &key, &value)) {
        const char *comm = g_hash_table_lookup(in_proc, key);
        const char *again = g_hash_table_lookup(after, key);

        if (!again) {
            continue;       /* it ended meanwhile */
        }
        g_assert_cmpstr(value, ==, again);
        if (!comm) {
            fprintf(stderr, "%s: registered thread %d (%s) is not in /proc\n",
                    machine, GPOINTER_TO_INT(key), (char *)value);
        }
        g_assert_nonnull(comm);
        check_role(pid, g_hash_table_lookup(in_proc, GINT_TO_POINTER(pid)),
                   GPOINTER_TO_INT(key), comm, value);
    }
    g_assert_cmpstr(g_hash_table_lookup(before, GINT_TO_POINTER(pid)), ==,
                    "main-loop");

    /* every thread in /proc is registered */
    g_hash_table_iter_init(&it, in_proc);
    while (g_hash_table_iter_next(&it, &key, &value)) {
        int tid = GPOINTER_TO_INT(key);
        bool known = g_hash_table_contains(own, key) ||
            g_hash_table_contains(before, key) ||
            g_hash_table_contains(after, key);

        for (i = 0; !known && i < ARRAY_SIZE(tids); i++) {
            known = tids[i] == tid;
        }
        if (!known) {
            fprintf(stderr, "%s: thread %d '%s' is not registered\n",
                    machine, tid, (char *)value);
        }
        g_assert_true(known);
    }
}

/*
 * The thread registry's roles against /proc: QEMU names its threads by
 * role with debug-threads=on; a vCPU, an IOThread and a thread context
 * must not count as emulator threads, every other thread must.
 */
static void test_registry(void)
{
    const char *machine = strcmp(qtest_get_arch(), "aarch64") ?
        MACHINE : "-machine virt -cpu cortex-a57 -accel tcg -nodefaults ";
    QTestState *qts;

    qts = qtest_initf("%s -S -smp 2 -name debug-threads=on"
                      " -object iothread,id=io0 -object thread-context,id=tc0",
                      machine);
    check_registry(qts, qtest_get_arch());
    /* an IOThread added at run time is no emulator thread either */
    qtest_qmp_assert_success(qts, "{ 'execute': 'object-add', 'arguments':"
                             " { 'qom-type': 'iothread', 'id': 'io1' } }");
    check_registry(qts, qtest_get_arch());
    qtest_qmp_assert_success(qts, "{ 'execute': 'object-del', 'arguments':"
                             " { 'id': 'io1' } }");
    check_registry(qts, qtest_get_arch());
    qtest_quit(qts);
}

/* ---- errors -------------------------------------------------------------- */

typedef struct ErrorCase {
    const char *name;
    const char *args;       /* %1$s: host CPU C0 */
    const char *msg;
} ErrorCase;

static const ErrorCase error_cases[] = {
    { "host-cpu-not-allowed", "-smp 2 -object vcpu-affinity,id=p,vcpus=0,"
      "host-cpus=4095", "vcpu-affinity 'p': host CPU 4095 is not one QEMU "
      "may run on" },
    { "unknown-host-node", "-smp 2 -object vcpu-affinity,id=p,vcpus=0,"
      "host-nodes=1000", "vcpu-affinity 'p': host node 1000 does not exist" },
    { "vcpu-beyond-maxcpus", "-smp 2,maxcpus=3 -object vcpu-affinity,id=p,"
      "vcpus=3,host-cpus=%1$s",
      "vcpu-affinity 'p': vCPU 3 does not exist (maxcpus=3)" },
    { "node-without-vcpus", "-smp 2" NODE0("0-1")
      " -numa node,nodeid=1 -object vcpu-affinity,id=p,node=1,"
      "host-cpus=%1$s", "vcpu-affinity 'p': guest node 1 has no vCPUs" },
    { "undefined-node", "-smp 2" NODE0("0-1")
      " -object vcpu-affinity,id=p,node=3,host-cpus=%1$s",
      "vcpu-affinity 'p': guest node 3 is not defined with -numa node" },
    { "no-numa", "-smp 2 -object vcpu-affinity,id=p,node=0,host-cpus=%1$s",
      "vcpu-affinity 'p': node=0, but the machine has no NUMA nodes" },
    { "overlapping-vcpus", "-smp 4 -object vcpu-affinity,id=a,vcpus=0-2,"
      "host-cpus=%1$s -object vcpu-affinity,id=b,vcpus=2-3,host-cpus=%1$s",
      "vcpu-affinity 'b': vCPU 2 is already placed by 'a'" },
    { "two-defaults", "-smp 2 -object vcpu-affinity,id=a,host-cpus=%1$s"
      " -object vcpu-affinity,id=b,host-cpus=%1$s",
      "vcpu-affinity 'b': 'a' already gives the default host CPUs" },
    { "two-emulator-rules", "-smp 2 -object emulator-affinity,id=a,"
      "host-cpus=%1$s -object emulator-affinity,id=b,host-cpus=%1$s",
      "emulator-affinity 'b': 'a' already places the emulator threads" },
    { "same-node-twice", "-smp 2" NODE0("0-1")
      " -object vcpu-affinity,id=a,node=0,host-cpus=%1$s"
      " -object vcpu-affinity,id=b,node=0,host-cpus=%1$s",
      "vcpu-affinity 'b': guest node 0 is already placed by 'a'" },
    { "auto-without-bind", "-smp 2 -m 256M"
      " -object memory-backend-ram,id=m0,size=256M"
      " -numa node,nodeid=0,cpus=0-1,memdev=m0"
      " -object vcpu-affinity,id=p,node=0",
      "vcpu-affinity 'p': automatic placement needs guest node 0's memdev "
      "bound to host nodes" },
    { "cpus-and-nodes", "-smp 2 -object vcpu-affinity,id=p,host-cpus=%1$s,"
      "host-nodes=0", "vcpu-affinity 'p': give host-cpus or host-nodes, "
      "not both" },
    { "no-host-set", "-smp 2 -object vcpu-affinity,id=p,vcpus=0",
      "vcpu-affinity 'p': give host-cpus or host-nodes" },
    { "vcpus-and-node", "-smp 2" NODE0("0-1")
      " -object vcpu-affinity,id=p,vcpus=0,node=0,host-cpus=%1$s",
      "vcpu-affinity 'p': give vcpus or node, not both" },
    { "sandbox", "-smp 2 -sandbox on,resourcecontrol=deny"
      " -object vcpu-affinity,id=p,host-cpus=%1$s",
      "vcpu-affinity 'p': cannot set thread affinity (is -sandbox "
      "resourcecontrol=deny in effect?): Operation not permitted" },
};

static void test_startup_error(const void *opaque)
{
    const ErrorCase *c = opaque;
    g_autofree char *c0 = HOST_CPU(0);
    g_autofree char *args = NULL, *cmd = NULL, *out = NULL, *err = NULL;
    g_autofree char *all = NULL;
    g_auto(GStrv) argv = NULL;
    GError *error = NULL;
    int status;

    args = g_strdup_printf(c->args, c0);
    cmd = g_strdup_printf("timeout 60 %s " MACHINE "-display none -S %s",
                          getenv("QTEST_QEMU_BINARY"), args);
    g_assert_true(g_shell_parse_argv(cmd, NULL, &argv, &error));
    g_assert_true(g_spawn_sync(NULL, argv, NULL, G_SPAWN_SEARCH_PATH, NULL,
                               NULL, &out, &all, &status, &error));
    g_assert_no_error(error);
    err = qemu_stderr_messages(all);
    if (strstr(c->name, "sandbox") && strstr(err, "seccomp support")) {
        g_test_skip("QEMU built without seccomp");
        return;
    }
    if (!strstr(err, c->msg) || !WIFEXITED(status) ||
        WEXITSTATUS(status) != 1) {
        fprintf(stderr, "args: %s\nexpected: exit 1, '%s'\ngot: '%s'\n",
                args, c->msg, err);
    }
    g_assert_true(WIFEXITED(status));
    g_assert_cmpint(WEXITSTATUS(status), ==, 1);
    g_assert_nonnull(strstr(err, c->msg));
    g_assert_cmpint(strchr(err, '\n') - err, ==, strlen(err) - 1);
}

/* The same errors over QMP: an error reply, nothing changes, VM runs */
static void test_qmp_errors(void)
{
    g_autofree char *c0 = HOST_CPU(0);
    QTestState *qts;
    QDict *rsp;

    qts = qtest_initf(MACHINE "-smp 2,maxcpus=3" NODE0("0-2")
                      " -numa node,nodeid=1"
                      " -object vcpu-affinity,id=a,vcpus=0,host-cpus=%s"
                      " -object vcpu-affinity,id=dflt,host-cpus=%s", c0, c0);
    check_threads(qts, c0, 2, c0, c0);

    rsp = qtest_qmp(qts, "{ 'execute': 'object-add', 'arguments':"
                    " { 'qom-type': 'vcpu-affinity', 'id': 'x',"
                    " 'vcpus': [1], 'host-cpus': [4095] } }");
    assert_qmp_error(qts, "host CPU 4095 is not one QEMU may run on", rsp);
    rsp = qtest_qmp(qts, "{ 'execute': 'object-add', 'arguments':"
                    " { 'qom-type': 'vcpu-affinity', 'id': 'x',"
                    " 'vcpus': [3], 'host-cpus': [%d] } }", host_cpu[0]);
    assert_qmp_error(qts, "vCPU 3 does not exist (maxcpus=3)", rsp);
    rsp = qtest_qmp(qts, "{ 'execute': 'object-add', 'arguments':"
                    " { 'qom-type': 'vcpu-affinity', 'id': 'x',"
                    " 'vcpus': [0, 1], 'host-cpus': [%d] } }", host_cpu[0]);
    assert_qmp_error(qts, "vCPU 0 is already placed by 'a'", rsp);
    rsp = qtest_qmp(qts, "{ 'execute': 'object-add', 'arguments':"
                    " { 'qom-type': 'vcpu-affinity', 'id': 'x',"
                    " 'node': 1, 'host-cpus': [%d] } }", host_cpu[0]);
    assert_qmp_error(qts, "guest node 1 has no vCPUs", rsp);
    rsp = qtest_qmp(qts, "{ 'execute': 'object-add', 'arguments':"
                    " { 'qom-type': 'vcpu-affinity', 'id': 'x',"
                    " 'host-nodes': [1000] } }");
    assert_qmp_error(qts, "host node 1000 does not exist", rsp);
    rsp = qtest_qmp(qts, "{ 'execute': 'qom-set', 'arguments':"
                    " { 'path': '/objects/a', 'property': 'vcpus',"
                    " 'value': [1] } }");
    assert_qmp_error(qts, "vcpus cannot change", rsp);

    rsp = qtest_qmp(qts, "{ 'execute': 'query-status' }");
    g_assert_cmpstr(qdict_get_str(qdict_get_qdict(rsp, "return"), "status"),
                    ==, "running");
    qobject_unref(rsp);
    check_threads(qts, c0, 2, c0, c0);
    assert_rule(qts, 1, "dflt");
    qtest_quit(qts);
}

/* ---- host faults --------------------------------------------------------- */

/*
 * tests/qtest/fault-inject.c, preloaded into QEMU, fails one host call
 * when the test arms it: a thread that cannot be placed or read half-way
 * through a change, a thread that exits meanwhile, libnuma failing.
 */
static char *fault_lib;         /* beside this program */
static char *fault_file;

static QTestState *start_with_faults(const char *args)
{
    QTestState *qts;

    g_setenv("LD_PRELOAD", fault_lib, true);
    g_setenv("QEMU_FAULT_INJECT", fault_file, true);
    qts = qtest_init(args);
    g_unsetenv("LD_PRELOAD");
    g_unsetenv("QEMU_FAULT_INJECT");
    return qts;
}

/* Fail the next call of @func (on thread @tid, unless 0) with @err */
static void arm_fault(const char *func, int err, int tid)
{
    g_autofree char *line = g_strdup_printf("%s 0 %d %d\n", func, err, tid);

    g_assert_true(g_file_set_contents(fault_file, line, -1, NULL));
}

static void assert_fault_fired(void)
{
    g_assert_false(g_file_test(fault_file, G_FILE_TEST_EXISTS));
}

/*
 * Where every thread of QEMU runs (tid -> Cpus_allowed_list), and the
 * emulator thread that QEMU places last (the highest thread id: QEMU
 * places the vCPU threads first, then the others in thread id order)
 */
static GHashTable *thread_sets(QTestState *qts, int *last)
{
    GHashTable *sets = g_hash_table_new_full(NULL, NULL, NULL, g_free);
    int tids[8], pid = vcpu_threads(qts, tids, ARRAY_SIZE(tids)), i;
    g_autofree char *task = g_strdup_printf("/proc/%d/task", pid);
    GDir *dir = g_dir_open(task, 0, NULL);
    const char *name;

    g_assert_nonnull(dir);
    *last = -1;
    while ((name = g_dir_read_name(dir))) {
        int tid = atoi(name);
        char *set = allowed_list_or_gone(pid, tid);

        if (!set) {
            continue;
        }
        g_hash_table_insert(sets, GINT_TO_POINTER(tid), set);
        for (i = 0; i < ARRAY_SIZE(tids) && tids[i] != tid; i++) {
            ;
        }
        if (i == ARRAY_SIZE(tids) && tid > *last) {
            *last = tid;
        }
    }
    g_dir_close(dir);
    g_assert_cmpint(*last, >, 0);
    return sets;
}

/* Every thread runs where it did in @before */
static void assert_threads_unchanged(QTestState *qts, GHashTable *before)
{
    g_autoptr(GHashTable) now = NULL;
    GHashTableIter it;
    gpointer tid, set;
    int last;

    now = thread_sets(qts, &last);
    g_hash_table_iter_init(&it, before);
    while (g_hash_table_iter_next(&it, &tid, &set)) {
        const char *got = g_hash_table_lookup(now, tid);

        if (got && strcmp(got, set)) {
            fprintf(stderr, "thread %d runs on %s, expected %s\n",
                    GPOINTER_TO_INT(tid), got, (char *)set);
        }
        g_assert_true(!got || !strcmp(got, set));
    }
}

/* Thread @tid runs on @its, every other thread on @others */
static void assert_all_but(QTestState *qts, int tid, const char *its,
                           const char *others)
{
    g_autoptr(GHashTable) now = NULL;
    GHashTableIter it;
    gpointer t, set;
    int last;

    now = thread_sets(qts, &last);
    g_hash_table_iter_init(&it, now);
    while (g_hash_table_iter_next(&it, &t, &set)) {
        const char *want = GPOINTER_TO_INT(t) == tid ? its : others;

        if (strcmp(set, want)) {
            fprintf(stderr, "thread %d runs on %s, expected %s\n",
                    GPOINTER_TO_INT(t), (char *)set, want);
        }
        g_assert_cmpstr(set, ==, want);
    }
}

static void assert_host_cpus(QTestState *qts, const char *id, int cpu)
{
    QDict *rsp = qtest_qmp(qts, "{ 'execute': 'qom-get', 'arguments':"
                           " { 'path': %s, 'property': 'host-cpus' } }", id);
    QList *l = qdict_get_qlist(rsp, "return");

    g_assert_cmpint(qlist_size(l), ==, 1);
    g_assert_cmpint(qnum_get_int(qobject_to(QNum, qlist_peek(l))), ==, cpu);
    qobject_unref(rsp);
}

/* qom-set of rule @id's @prop (host-cpus or host-nodes) to [@v] */
static QDict *set_host(QTestState *qts, const char *id, const char *prop,
                       int v)
{
    g_autofree char *path = g_strdup_printf("/objects/%s", id);

    return qtest_qmp(qts, "{ 'execute': 'qom-set', 'arguments': { 'path': %s,"
                     " 'property': %s, 'value': [%d] } }", path, prop, v);
}

/* object-add of a default vcpu-affinity rule 'dflt' on host CPU @cpu */
static QDict *add_default(QTestState *qts, int cpu)
{
    return qtest_qmp(qts, "{ 'execute': 'object-add', 'arguments':"
                     " { 'qom-type': 'vcpu-affinity', 'id': 'dflt',"
                     " 'host-cpus': [%d] } }", cpu);
}

static void assert_ok(QDict *rsp)
{
    g_assert_true(qdict_haskey(rsp, "return"));
    qobject_unref(rsp);
}

/* sched_setaffinity fails on the last thread: the others are put back */
static void test_fault_set(void)
{
    g_autofree char *c0 = HOST_CPU(0), *c1 = NULL;
    g_autofree char *args = NULL, *msg = NULL;
    g_autoptr(GHashTable) before = NULL;
    QTestState *qts;
    int last;

    if (!need_two_cpus()) {
        return;
    }
    c1 = HOST_CPU(1);
    args = g_strdup_printf(MACHINE "-S -smp 2"
                           " -object vcpu-affinity,id=dflt,host-cpus=%s"
                           " -object vcpu-affinity,id=p1,vcpus=1,host-cpus=%s",
                           c0, c1);
    qts = start_with_faults(args);
    check_threads(qts, c0, 2, c0, c1);
    before = thread_sets(qts, &last);

    arm_fault("sched_setaffinity", EPERM, last);
    msg = g_strdup_printf("cannot place thread %d on host CPUs %s: "
                          "Operation not permitted", last, c1);
    assert_qmp_error(qts, msg, set_host(qts, "dflt", "host-cpus", host_cpu[1]));
    assert_fault_fired();
    assert_threads_unchanged(qts, before);
    assert_host_cpus(qts, "/objects/dflt", host_cpu[0]);

    /* what QEMU keeps of each thread is right: the change applies now */
    assert_ok(set_host(qts, "dflt", "host-cpus", host_cpu[1]));
    check_threads(qts, c1, 2, c1, c1);
    qtest_quit(qts);
}

/*
 * sched_getaffinity fails on the last thread, which QEMU must read before
 * it first places it: the object is not added, the others are put back
 */
static void test_fault_get(void)
{
    g_autofree char *c0 = HOST_CPU(0), *msg = NULL;
    g_autoptr(GHashTable) before = NULL;
    QTestState *qts;
    int last;

    qts = start_with_faults(MACHINE "-S -smp 2");
    before = thread_sets(qts, &last);

    arm_fault("sched_getaffinity", EPERM, last);
    msg = g_strdup_printf("cannot read the host CPUs of thread %d: "
                          "Operation not permitted", last);
    assert_qmp_error(qts, msg, add_default(qts, host_cpu[0]));
    assert_fault_fired();
    assert_threads_unchanged(qts, before);
    assert_rule(qts, 0, "");

    assert_ok(add_default(qts, host_cpu[0]));
    check_threads(qts, c0, 2, c0, c0);
    qtest_quit(qts);
}

/*
 * A thread that exits between QEMU listing it and placing it (ESRCH) is
 * passed over; the change applies to the others
 */
static void test_fault_thread_exits(void)
{
    g_autofree char *c0 = HOST_CPU(0), *c1 = NULL;
    g_autoptr(GHashTable) before = NULL;
    QTestState *qts;
    int last;

    if (!need_two_cpus()) {
        return;
    }
    c1 = HOST_CPU(1);
    qts = start_with_faults(MACHINE "-S -smp 2");
    before = thread_sets(qts, &last);

    /* while QEMU reads it, before it first places it */
    arm_fault("sched_getaffinity", ESRCH, last);
    assert_ok(add_default(qts, host_cpu[0]));
    assert_fault_fired();
    assert_all_but(qts, last, allowed, c0);

    /* while QEMU places it */
    arm_fault("sched_setaffinity", ESRCH, last);
    assert_ok(set_host(qts, "dflt", "host-cpus", host_cpu[1]));
    assert_fault_fired();
    assert_all_but(qts, last, allowed, c1);
    qtest_quit(qts);
}

/* libnuma fails: the rule keeps its host CPUs, no thread moves */
static void test_fault_libnuma(void)
{
    g_autofree char *c0 = HOST_CPU(0), *cpus = NULL, *args = NULL;
    g_autofree char *msg = NULL;
    g_autoptr(GHashTable) before = NULL;
    QTestState *qts;
    QDict *rsp;
    int node = host_node(&cpus), last;

    if (node < 0) {
        g_test_skip("no host NUMA node with the CPUs this process may use");
        return;
    }
    args = g_strdup_printf(MACHINE "-S -smp 2"
                           " -object vcpu-affinity,id=dflt,host-cpus=%s", c0);
    qts = start_with_faults(args);
    before = thread_sets(qts, &last);

    arm_fault("numa_node_to_cpus", EIO, 0);
    msg = g_strdup_printf("cannot read the CPUs of host node %d", node);
    assert_qmp_error(qts, msg, set_host(qts, "dflt", "host-nodes", node));
    assert_fault_fired();
    arm_fault("numa_available", 0, 0);
    assert_qmp_error(qts, "the host has no NUMA information",
                     qtest_qmp(qts, "{ 'execute': 'object-add', 'arguments':"
                               " { 'qom-type': 'emulator-affinity',"
                               " 'id': 'emu', 'host-nodes': [%d] } }",
                               node));
    assert_fault_fired();
    assert_threads_unchanged(qts, before);
    assert_host_cpus(qts, "/objects/dflt", host_cpu[0]);
    rsp = qtest_qmp(qts, "{ 'execute': 'qom-get', 'arguments':"
                    " { 'path': '/objects/dflt', 'property': 'host-nodes' } }");
    g_assert_cmpint(qlist_size(qdict_get_qlist(rsp, "return")), ==, 0);
    qobject_unref(rsp);

    assert_ok(set_host(qts, "dflt", "host-nodes", node));
    check_threads(qts, cpus, 2, cpus, cpus);
    qtest_quit(qts);
}

int main(int argc, char **argv)
{
    g_autofree char *dir = NULL, *cwd = g_get_current_dir();
    int i, ret;

    g_test_init(&argc, &argv, NULL);
    find_host_cpus();
    dir = g_path_get_dirname(argv[0]);
    fault_lib = g_path_is_absolute(dir) ?
        g_build_filename(dir, "fault-inject.so", NULL) :
        g_build_filename(cwd, dir, "fault-inject.so", NULL);
    g_assert_true(g_file_test(fault_lib, G_FILE_TEST_EXISTS));
    fault_file = g_strdup_printf("%s/vcpu-affinity-fault-%d",
                                 g_get_tmp_dir(), getpid());
    if (!strcmp(qtest_get_arch(), "aarch64")) {
        /* the placement code is machine-independent; q35 covers the rest */
        qtest_add_func("vcpu-affinity/virt", test_virt);
        qtest_add_func("vcpu-affinity/registry", test_registry);
        return g_test_run();
    }
    qtest_add_func("vcpu-affinity/vcpus", test_vcpus);
    qtest_add_func("vcpu-affinity/precedence", test_precedence);
    qtest_add_func("vcpu-affinity/host-nodes", test_host_nodes);
    qtest_add_func("vcpu-affinity/runtime", test_runtime);
    qtest_add_func("vcpu-affinity/hotplug", test_hotplug);
    qtest_add_func("vcpu-affinity/info", test_info);
    qtest_add_func("vcpu-affinity/qmp-errors", test_qmp_errors);
    qtest_add_func("vcpu-affinity/registry", test_registry);
    qtest_add_func("vcpu-affinity/fault/set", test_fault_set);
    qtest_add_func("vcpu-affinity/fault/get", test_fault_get);
    qtest_add_func("vcpu-affinity/fault/thread-exits",
                   test_fault_thread_exits);
    qtest_add_func("vcpu-affinity/fault/libnuma", test_fault_libnuma);
    for (i = 0; i < ARRAY_SIZE(error_cases); i++) {
        g_autofree char *name = g_strdup_printf(
            "vcpu-affinity/startup-error/%s", error_cases[i].name);

        qtest_add_data_func(name, &error_cases[i], test_startup_error);
    }
    ret = g_test_run();
    unlink(fault_file);
    return ret;
}
