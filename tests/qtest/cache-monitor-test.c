/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * cache-monitor against a resctrl tree built in a temporary directory as
 * the kernel lays resctrl out (info/L3_MON, mon_groups, tasks, mon_data
 * per L3 domain): the groups and the threads in them, hot-plugged vCPUs,
 * query-stats and info stats, object-add and object-del, exit, stale
 * groups, and every error.  Real resctrl needs RDT hardware; see
 * docs/system/cache-monitor.rst.
 */

#include "qemu/osdep.h"
#include "libqtest.h"
#include "qobject/qdict.h"
#include "qobject/qlist.h"
#include "qobject/qnum.h"

#define MACHINE "-machine q35 -accel tcg -nodefaults "

#include "qemu-stderr.c.inc"

typedef struct Tree {
    char *root;
} Tree;

static void put(const char *dir, const char *name, const char *text)
{
    g_autofree char *path = g_build_filename(dir, name, NULL);

    g_assert_true(g_file_set_contents(path, text, -1, NULL));
}

/* A resctrl tree with @rmids monitoring IDs and @features */
static void tree_init(Tree *t, const char *rmids, const char *features)
{
    g_autofree char *mon = NULL, *groups = NULL;

    t->root = g_dir_make_tmp("resctrl-XXXXXX", NULL);
    mon = g_build_filename(t->root, "info", "L3_MON", NULL);
    groups = g_build_filename(t->root, "mon_groups", NULL);
    g_assert_cmpint(g_mkdir_with_parents(mon, 0755), ==, 0);
    g_assert_cmpint(g_mkdir_with_parents(groups, 0755), ==, 0);
    put(mon, "num_rmids", rmids);
    put(mon, "mon_features", features);
    put(t->root, "tasks", "");
}

static void rm_rf(const char *path)
{
    g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", path);

    g_assert_cmpint(system(cmd), ==, 0);
}

static void tree_free(Tree *t)
{
    rm_rf(t->root);
    g_free(t->root);
}

/* QEMU's pid, from the name of its emulator group (one QEMU per tree) */
static int qemu_pid(Tree *t)
{
    g_autofree char *groups = g_build_filename(t->root, "mon_groups", NULL);
    GDir *dir = g_dir_open(groups, 0, NULL);
    const char *name;
    int pid = -1;

    while (dir && (name = g_dir_read_name(dir))) {
        if (g_str_has_suffix(name, "-cm0-emulator")) {
            g_assert_cmpint(sscanf(name, "qemu-%d-", &pid), ==, 1);
        }
    }
    if (dir) {
        g_dir_close(dir);
    }
    return pid;
}

static char *group_dir(Tree *t, QTestState *qts, const char *suffix)
{
    return g_strdup_printf("%s/mon_groups/qemu-%d-cm0-%s", t->root,
                           qemu_pid(t), suffix);
}

/* Does group @suffix list thread @tid in its tasks? */
static bool in_group(Tree *t, QTestState *qts, const char *suffix, int tid)
{
    g_autofree char *dir = group_dir(t, qts, suffix);
    g_autofree char *path = g_build_filename(dir, "tasks", NULL);
    g_autofree char *text = NULL;
    g_auto(GStrv) tids = NULL;
    int i;

    if (!g_file_get_contents(path, &text, NULL, NULL)) {
        return false;
    }
    tids = g_strsplit(text, "\n", -1);
    for (i = 0; tids[i]; i++) {
        if (*tids[i] && atoi(tids[i]) == tid) {
            return true;
        }
    }
    return false;
}

/* The thread ids of the vCPUs, by cpu-index (-1: none) */
static void vcpu_tids(QTestState *qts, int *tids, int max)
{
    QDict *rsp = qtest_qmp(qts, "{ 'execute': 'query-cpus-fast' }");
    QListEntry *e;
    int i;

    for (i = 0; i < max; i++) {
        tids[i] = -1;
    }
    QLIST_FOREACH_ENTRY(qdict_get_qlist(rsp, "return"), e) {
        QDict *c = qobject_to(QDict, qlist_entry_obj(e));
        int idx = qdict_get_int(c, "cpu-index");

        g_assert_cmpint(idx, <, max);
        tids[idx] = qdict_get_int(c, "thread-id");
    }
    qobject_unref(rsp);
}

/* The counters of group @suffix: domain d of feature f is BASE_f + d */
static void set_counters(Tree *t, QTestState *qts, const char *suffix,
                         int domains, const char *features)
{
    g_autofree char *dir = group_dir(t, qts, suffix);
    g_auto(GStrv) f = g_strsplit(features, ",", -1);
    int d, i;

    for (d = 0; d < domains; d++) {
        g_autofree char *dd = g_strdup_printf("%s/mon_data/mon_L3_%02d",
                                              dir, d);

        g_assert_cmpint(g_mkdir_with_parents(dd, 0755), ==, 0);
        for (i = 0; f[i]; i++) {
            g_auto(GStrv) kv = g_strsplit(f[i], "=", 2);
            g_autofree char *v = g_strdup_printf(
                "%" PRIu64 "\n", g_ascii_strtoull(kv[1], NULL, 10) + d);

            put(dd, kv[0], v);
        }
    }
}

/* query-stats' value of @name for @target ("vm", or a vCPU's QOM path) */
static int64_t get_stat(QTestState *qts, const char *target, const char *name)
{
    QDict *rsp;
    QListEntry *e, *s;
    int64_t v = -1;

    if (!strcmp(target, "vm")) {
        rsp = qtest_qmp(qts, "{ 'execute': 'query-stats', 'arguments': {"
                        " 'target': 'vm', 'providers': [ {"
                        " 'provider': 'resctrl' } ] } }");
    } else {
        rsp = qtest_qmp(qts, "{ 'execute': 'query-stats', 'arguments': {"
                        " 'target': 'vcpu', 'vcpus': [ %s ], 'providers': [ {"
                        " 'provider': 'resctrl' } ] } }", target);
    }
    g_assert_true(qdict_haskey(rsp, "return"));
    QLIST_FOREACH_ENTRY(qdict_get_qlist(rsp, "return"), e) {
        QDict *r = qobject_to(QDict, qlist_entry_obj(e));

        g_assert_cmpstr(qdict_get_str(r, "provider"), ==, "resctrl");
        QLIST_FOREACH_ENTRY(qdict_get_qlist(r, "stats"), s) {
            QDict *st = qobject_to(QDict, qlist_entry_obj(s));

            if (!strcmp(qdict_get_str(st, "name"), name)) {
                v = qdict_get_int(st, "value");
            }
        }
    }
    qobject_unref(rsp);
    return v;
}

#define ALL_FEATURES "llc_occupancy\nmbm_total_bytes\nmbm_local_bytes\n"
#define COUNTERS "llc_occupancy=1000,mbm_total_bytes=50000," \
                 "mbm_local_bytes=30000"

static QTestState *start(Tree *t, const char *args, const char *props)
{
    return qtest_initf(MACHINE "%s -object cache-monitor,id=cm0,"
                       "resctrl=%s%s", args, t->root, props);
}

static void test_groups_and_stats(void)
{
    Tree t;
    QTestState *qts;
    g_autofree char *vcpus = NULL, *emulator = NULL;
    g_autofree char *out = NULL, *stale = NULL, *l3 = NULL;
    int tids[2], io;
    QDict *rsp, *iothread;

    tree_init(&t, "16\n", ALL_FEATURES);
    /* a group of a QEMU that has gone */
    stale = g_strdup_printf("%s/mon_groups/qemu-999999-cm0-vcpus", t.root);
    g_assert_cmpint(g_mkdir_with_parents(stale, 0755), ==, 0);
    qts = start(&t, "-smp 2 -object iothread,id=io0", "");
    vcpus = group_dir(&t, qts, "vcpus");
    emulator = group_dir(&t, qts, "emulator");
    g_assert_true(g_file_test(vcpus, G_FILE_TEST_IS_DIR));
    g_assert_true(g_file_test(emulator, G_FILE_TEST_IS_DIR));
    g_assert_false(g_file_test(stale, G_FILE_TEST_EXISTS));

    /* the vCPU threads in the vCPUs' group, the others in the emulator's */
    vcpu_tids(qts, tids, 2);
    g_assert_true(in_group(&t, qts, "vcpus", tids[0]));
    g_assert_true(in_group(&t, qts, "vcpus", tids[1]));
    g_assert_false(in_group(&t, qts, "emulator", tids[0]));
    g_assert_true(in_group(&t, qts, "emulator", qemu_pid(&t)));
    /* an IOThread is no emulator thread (libvirt's emulatorpin) */
    rsp = qtest_qmp(qts, "{ 'execute': 'query-iothreads' }");
    iothread = qobject_to(QDict, qlist_peek(qdict_get_qlist(rsp, "return")));
    io = qdict_get_int(iothread, "thread-id");
    qobject_unref(rsp);
    g_assert_false(in_group(&t, qts, "emulator", io));
    g_assert_false(in_group(&t, qts, "vcpus", io));

    /* VM: every group, summed over the domains and per domain */
    set_counters(&t, qts, "vcpus", 2, COUNTERS);
    set_counters(&t, qts, "emulator", 2, COUNTERS);
    g_assert_cmpint(get_stat(qts, "vm", "llc-occupancy"), ==, 4 * 1000 + 2);
    g_assert_cmpint(get_stat(qts, "vm", "llc-occupancy-l3-1"), ==, 2 * 1001);
    g_assert_cmpint(get_stat(qts, "vm", "mbm-total"), ==, 4 * 50000 + 2);
    g_assert_cmpint(get_stat(qts, "vm", "mbm-local-l3-0"), ==, 2 * 30000);
    /* no per-vCPU statistics without per-vcpu=on */
    g_assert_cmpint(get_stat(qts, "/machine/unattached/device[0]",
                         "llc-occupancy"), ==, -1);

    out = qtest_hmp(qts, "info stats vm * resctrl");
    g_assert_nonnull(strstr(out, "llc-occupancy (instant, B): 4002"));
    g_assert_nonnull(strstr(out, "mbm-total (cumulative, B): 200002"));

    /* "Unavailable": an error, and the VM runs on */
    l3 = g_strdup_printf("%s/mon_data/mon_L3_01", vcpus);
    put(l3, "mbm_total_bytes", "Unavailable\n");
    {
        QDict *reply = qtest_qmp(qts, "{ 'execute': 'query-stats',"
                                 " 'arguments': { 'target': 'vm' } }");
        const char *desc = qdict_get_str(qdict_get_qdict(reply, "error"),
                                         "desc");

        g_assert_nonnull(strstr(desc, "cache-monitor 'cm0': cannot read a "
                                "counter from"));
        g_assert_nonnull(strstr(desc, "Unavailable"));
        qobject_unref(reply);
    }
    qtest_qmp_assert_success(qts, "{ 'execute': 'query-status' }");

    /* exit removes the groups */
    qtest_quit(qts);
    g_assert_false(g_file_test(vcpus, G_FILE_TEST_EXISTS));
    g_assert_false(g_file_test(emulator, G_FILE_TEST_EXISTS));
    tree_free(&t);
}

static void test_per_vcpu_and_hotplug(void)
{
    Tree t;
    QTestState *qts;
    g_autofree char *out = NULL;
    int tids[2];

    tree_init(&t, "16\n", "llc_occupancy\n");
    qts = start(&t, "-smp 1,maxcpus=2", ",per-vcpu=on");
    vcpu_tids(qts, tids, 2);
    g_assert_true(in_group(&t, qts, "vcpu0", tids[0]));
    g_assert_cmpint(tids[1], ==, -1);

    /* a hot-plugged vCPU gets a group of its own at once */
    qtest_qmp_assert_success(qts, "{ 'execute': 'device_add', 'arguments':"
                             " { 'driver': 'qemu64-x86_64-cpu', 'id': 'c1',"
                             " 'socket-id': 0, 'core-id': 1,"
                             " 'thread-id': 0 } }");
    vcpu_tids(qts, tids, 2);
    g_assert_cmpint(tids[1], >, 0);
    g_assert_true(in_group(&t, qts, "vcpu1", tids[1]));
    g_assert_false(in_group(&t, qts, "vcpu0", tids[1]));

    /* per vCPU, only the features the host monitors */
    set_counters(&t, qts, "vcpu0", 1, "llc_occupancy=700");
    set_counters(&t, qts, "vcpu1", 1, "llc_occupancy=900");
    set_counters(&t, qts, "emulator", 1, "llc_occupancy=100");
    g_assert_cmpint(get_stat(qts, "/machine/peripheral/c1", "llc-occupancy"),
                    ==, 900);
    g_assert_cmpint(get_stat(qts, "vm", "llc-occupancy"), ==, 1700);
    g_assert_cmpint(get_stat(qts, "vm", "mbm-total"), ==, -1);
    out = qtest_hmp(qts, "info stats vcpu * resctrl");
    g_assert_nonnull(strstr(out, "llc-occupancy (instant, B): 700"));
    qtest_quit(qts);
    tree_free(&t);
}

static void test_runtime(void)
{
    Tree t;
    QTestState *qts;
    QDict *rsp;
    g_autofree char *vcpus = NULL;
    int tids[1];

    tree_init(&t, "16\n", ALL_FEATURES);
    qts = qtest_initf(MACHINE "-smp 1");

    /* refused: the VM runs on, nothing is left behind */
    rsp = qtest_qmp(qts, "{ 'execute': 'object-add', 'arguments': {"
                    " 'qom-type': 'cache-monitor', 'id': 'cm0',"
                    " 'resctrl': '/nonexistent' } }");
    g_assert_nonnull(strstr(qdict_get_str(qdict_get_qdict(rsp, "error"),
                                          "desc"),
                            "cache-monitor 'cm0': no resctrl filesystem at "
                            "/nonexistent"));
    qobject_unref(rsp);
    qtest_qmp_assert_success(qts, "{ 'execute': 'query-status' }");

    /* object-add puts the existing threads in place at once */
    qtest_qmp_assert_success(qts, "{ 'execute': 'object-add', 'arguments': {"
                             " 'qom-type': 'cache-monitor', 'id': 'cm0',"
                             " 'resctrl': %s } }", t.root);
    vcpu_tids(qts, tids, 1);
    g_assert_true(in_group(&t, qts, "vcpus", tids[0]));
    g_assert_true(in_group(&t, qts, "emulator", qemu_pid(&t)));

    /* one per VM */
    rsp = qtest_qmp(qts, "{ 'execute': 'object-add', 'arguments': {"
                    " 'qom-type': 'cache-monitor', 'id': 'cm1',"
                    " 'resctrl': %s } }", t.root);
    g_assert_nonnull(strstr(qdict_get_str(qdict_get_qdict(rsp, "error"),
                                          "desc"),
                            "cache-monitor 'cm1': 'cm0' monitors this VM "
                            "already"));
    qobject_unref(rsp);

    /* object-del removes the groups */
    vcpus = group_dir(&t, qts, "vcpus");
    qtest_qmp_assert_success(qts, "{ 'execute': 'object-del', 'arguments':"
                             " { 'id': 'cm0' } }");
    g_assert_false(g_file_test(vcpus, G_FILE_TEST_EXISTS));
    qtest_qmp_assert_success(qts, "{ 'execute': 'query-status' }");
    qtest_quit(qts);
    tree_free(&t);
}

/* ---- start-up errors ---------------------------------------------------- */

typedef struct StartupCase {
    const char *name;
    const char *rmids, *features;   /* NULL: no info/L3_MON */
    const char *args;
    const char *msg;
} StartupCase;

static const StartupCase startup_cases[] = {
    { "no-resctrl", NULL, NULL, "",
      "cache-monitor 'cm0': no resctrl filesystem at /nonexistent" },
    { "no-monitoring", NULL, NULL, "",
      "cache-monitor 'cm0': resctrl at %s has no L3 monitoring" },
    { "no-features", "16\n", "mba_MBps_event\n", "",
      "cache-monitor 'cm0': resctrl at %s monitors none of llc_occupancy" },
    { "too-few-rmids", "4\n", ALL_FEATURES, ",per-vcpu=on",
      "cache-monitor 'cm0': resctrl at %s has 3 monitoring IDs left, and "
      "5 groups are needed" },
    { "second-object", "16\n", ALL_FEATURES, " -object cache-monitor,id=cm1",
      "cache-monitor 'cm1': 'cm0' monitors this VM already" },
};

static void test_startup_error(const void *opaque)
{
    const StartupCase *c = opaque;
    Tree t = { 0 };
    g_autofree char *root = NULL, *cmd = NULL, *msg = NULL;
    g_autofree char *out = NULL, *err = NULL, *all = NULL;
    g_auto(GStrv) argv = NULL;
    GError *error = NULL;
    int status;

    if (c->rmids) {
        tree_init(&t, c->rmids, c->features);
    } else if (strcmp(c->name, "no-resctrl")) {
        g_autofree char *groups = NULL;

        t.root = g_dir_make_tmp("resctrl-XXXXXX", NULL);
        groups = g_strdup_printf("%s/mon_groups", t.root);
        g_assert_cmpint(g_mkdir_with_parents(groups, 0755), ==, 0);
    }
    root = g_strdup(t.root ?: "/nonexistent");
    cmd = g_strdup_printf("%s " MACHINE "-display none -S -smp 4 "
                          "-object cache-monitor,id=cm0,resctrl=%s%s",
                          getenv("QTEST_QEMU_BINARY"), root, c->args);
    if (!strcmp(c->name, "second-object")) {
        g_free(cmd);
        cmd = g_strdup_printf("%s " MACHINE "-display none -S -smp 4 "
                              "-object cache-monitor,id=cm0,resctrl=%s "
                              "-object cache-monitor,id=cm1,resctrl=%s",
                              getenv("QTEST_QEMU_BINARY"), root, root);
    }
    g_assert_true(g_shell_parse_argv(cmd, NULL, &argv, &error));
    g_assert_true(g_spawn_sync(NULL, argv, NULL, G_SPAWN_SEARCH_PATH, NULL,
                               NULL, &out, &all, &status, &error));
    err = qemu_stderr_messages(all);
    msg = g_strdup_printf(c->msg, root);
    if (!strstr(err, msg)) {
        fprintf(stderr, "expected '%s'\ngot '%s'\n", msg, err);
    }
    g_assert_true(WIFEXITED(status));
    g_assert_cmpint(WEXITSTATUS(status), ==, 1);
    g_assert_nonnull(strstr(err, msg));
    /* one message, on one line */
    g_assert_cmpint(strchr(err, '\n') - err, ==, strlen(err) - 1);
    if (t.root) {
        /* nothing left behind but what the test made */
        g_autofree char *groups = g_build_filename(t.root, "mon_groups",
                                                   NULL);
        GDir *dir = g_dir_open(groups, 0, NULL);

        g_assert_null(g_dir_read_name(dir));
        g_dir_close(dir);
        tree_free(&t);
    }
}

int main(int argc, char **argv)
{
    size_t i;

    g_test_init(&argc, &argv, NULL);
    qtest_add_func("cache-monitor/groups-and-stats", test_groups_and_stats);
    qtest_add_func("cache-monitor/per-vcpu-and-hotplug",
                   test_per_vcpu_and_hotplug);
    qtest_add_func("cache-monitor/runtime", test_runtime);
    for (i = 0; i < ARRAY_SIZE(startup_cases); i++) {
        g_autofree char *path = g_strdup_printf("cache-monitor/startup/%s",
                                                startup_cases[i].name);

        qtest_add_data_func(path, &startup_cases[i], test_startup_error);
    }
    return g_test_run();
}
