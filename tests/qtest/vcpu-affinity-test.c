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
#include "qapi/qmp/qdict.h"
#include "qapi/qmp/qlist.h"

#define MACHINE "-machine q35 -accel tcg -nodefaults "

/* Guest node 0 with 256 MiB and the vCPUs @cpus */
#define NODE0(cpus) \
    " -m 256M -object memory-backend-ram,id=m0,size=256M" \
    " -numa node,nodeid=0,cpus=" cpus ",memdev=m0"

static int host_cpu[2] = { -1, -1 };
static char *allowed;           /* this process's CPUs, "0-1" */

/* "0-1,4" for @set */
static char *set_to_list(cpu_set_t *set)
{
    GString *s = g_string_new(NULL);
    int i, start = -1;

    for (i = 0; i <= CPU_SETSIZE; i++) {
        bool in = i < CPU_SETSIZE && CPU_ISSET(i, set);

        if (in && start < 0) {
            start = i;
        } else if (!in && start >= 0) {
            g_string_append_printf(s, "%s%d", s->len ? "," : "", start);
            if (i - 1 > start) {
                g_string_append_printf(s, "-%d", i - 1);
            }
            start = -1;
        }
    }
    return g_string_free(s, false);
}

static cpu_set_t allowed_set;

static void find_host_cpus(void)
{
    int i, n = 0;

    g_assert_cmpint(sched_getaffinity(0, sizeof(allowed_set), &allowed_set),
                    ==, 0);
    for (i = 0; i < CPU_SETSIZE && n < 2; i++) {
        if (CPU_ISSET(i, &allowed_set)) {
            host_cpu[n++] = i;
        }
    }
    allowed = set_to_list(&allowed_set);
}

static bool need_two_cpus(void)
{
    if (host_cpu[1] < 0) {
        g_test_skip("needs two host CPUs this process may run on");
        return false;
    }
    return true;
}

/* Cpus_allowed_list of thread @tid of process @pid */
static char *allowed_list(int pid, int tid)
{
    g_autofree char *path = g_strdup_printf("/proc/%d/task/%d/status",
                                            pid, tid);
    g_autofree char *text = NULL;
    char *p, *end;

    g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
    p = strstr(text, "Cpus_allowed_list:");
    g_assert_nonnull(p);
    p += strlen("Cpus_allowed_list:");
    while (*p == ' ' || *p == '\t') {
        p++;
    }
    end = strchr(p, '\n');
    return g_strndup(p, end ? end - p : strlen(p));
}

/* vCPU thread ids by cpu-index (-1: none), and QEMU's pid */
static int vcpu_threads(QTestState *qts, int *tids, int max)
{
    QDict *rsp = qtest_qmp(qts, "{ 'execute': 'query-cpus-fast' }");
    g_autofree char *path = NULL, *text = NULL;
    QListEntry *e;
    int i, pid = -1;
    char *p;

    for (i = 0; i < max; i++) {
        tids[i] = -1;
    }
    QLIST_FOREACH_ENTRY(qdict_get_qlist(rsp, "return"), e) {
        QDict *cpu = qobject_to(QDict, qlist_entry_obj(e));
        int idx = qdict_get_int(cpu, "cpu-index");

        g_assert_cmpint(idx, <, max);
        tids[idx] = qdict_get_int(cpu, "thread-id");
        pid = tids[idx];
    }
    qobject_unref(rsp);
    /* the thread group of a vCPU thread is QEMU's pid */
    path = g_strdup_printf("/proc/%d/status", pid);
    g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
    p = strstr(text, "Tgid:");
    g_assert_nonnull(p);
    return atoi(p + 5);
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
        got = allowed_list(pid, tid);
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

/*
 * The first host node with a CPU this process may run on, and those of
 * its CPUs (which is what QEMU, started by this process, may use)
 */
static int host_node(char **cpus)
{
    int node;

    for (node = 0; node < 64; node++) {
        g_autofree char *path = g_strdup_printf(
            "/sys/devices/system/node/node%d/cpulist", node);
        g_autofree char *text = NULL;
        g_auto(GStrv) ranges = NULL;
        cpu_set_t set;
        int i, lo, hi, c;

        if (!g_file_get_contents(path, &text, NULL, NULL)) {
            continue;
        }
        CPU_ZERO(&set);
        ranges = g_strsplit(g_strstrip(text), ",", -1);
        for (i = 0; ranges[i]; i++) {
            char *dash = strchr(ranges[i], '-');

            lo = atoi(ranges[i]);
            hi = dash ? atoi(dash + 1) : lo;
            for (c = lo; c <= hi && c < CPU_SETSIZE; c++) {
                if (CPU_ISSET(c, &allowed_set)) {
                    CPU_SET(c, &set);
                }
            }
        }
        if (CPU_COUNT(&set)) {
            *cpus = set_to_list(&set);
            return node;
        }
    }
    return -1;
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
    g_auto(GStrv) argv = NULL;
    GError *error = NULL;
    int status;

    args = g_strdup_printf(c->args, c0);
    cmd = g_strdup_printf("timeout 60 %s " MACHINE "-display none -S %s",
                          getenv("QTEST_QEMU_BINARY"), args);
    g_assert_true(g_shell_parse_argv(cmd, NULL, &argv, &error));
    g_assert_true(g_spawn_sync(NULL, argv, NULL, G_SPAWN_SEARCH_PATH, NULL,
                               NULL, &out, &err, &status, &error));
    g_assert_no_error(error);
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

int main(int argc, char **argv)
{
    int i;

    g_test_init(&argc, &argv, NULL);
    find_host_cpus();
    if (!strcmp(qtest_get_arch(), "aarch64")) {
        /* the placement code is machine-independent; q35 covers the rest */
        qtest_add_func("vcpu-affinity/virt", test_virt);
        return g_test_run();
    }
    qtest_add_func("vcpu-affinity/vcpus", test_vcpus);
    qtest_add_func("vcpu-affinity/precedence", test_precedence);
    qtest_add_func("vcpu-affinity/host-nodes", test_host_nodes);
    qtest_add_func("vcpu-affinity/runtime", test_runtime);
    qtest_add_func("vcpu-affinity/hotplug", test_hotplug);
    qtest_add_func("vcpu-affinity/info", test_info);
    qtest_add_func("vcpu-affinity/qmp-errors", test_qmp_errors);
    for (i = 0; i < ARRAY_SIZE(error_cases); i++) {
        g_autofree char *name = g_strdup_printf(
            "vcpu-affinity/startup-error/%s", error_cases[i].name);

        qtest_add_data_func(name, &error_cases[i], test_startup_error);
    }
    return g_test_run();
}
