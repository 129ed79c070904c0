/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * acpi-generic-initiator: command line errors, QMP behaviour, and the SRAT
 * that the firmware reads after runtime changes.
 *
 * Startup errors run QEMU directly and check that it exits with status 1
 * and one message naming the object and value.  Runtime cases use QMP and
 * read the ACPI tables from fw_cfg, as the firmware would after a reset;
 * the byte-exact tables are checked by bios-tables-test.
 */

#include "qemu/osdep.h"
#include "qemu/bswap.h"
#include "qemu/units.h"
#include "libqtest.h"
#include "libqos/fw_cfg.h"
#include "qapi/error.h"
#include "qobject/qdict.h"
#include "qobject/qlist.h"
#include "qobject/qjson.h"
#include "qobject/qstring.h"

/* Node 0 has the CPUs and the memory; nodes 1 and 2 are empty */
#define NODES \
    " -m 256M -smp 2 -object memory-backend-ram,id=ram0,size=256M" \
    " -numa node,nodeid=0,cpus=0-1,memdev=ram0" \
    " -numa node,nodeid=1 -numa node,nodeid=2"

/* A PCI device on a root port, so that it can be unplugged */
#define DEV0 \
    " -device pcie-root-port,id=rp0,chassis=1" \
    " -device pci-testdev,id=dev0,bus=rp0"

#define GI(id, dev, node) \
    " -object acpi-generic-initiator,id=" id ",pci-dev=" dev ",node=" node

static const char *machine_args(void)
{
    if (!strcmp(qtest_get_arch(), "aarch64")) {
        /* virt builds ACPI tables only when it has firmware to give them */
        return "-machine virt -cpu cortex-a57"
               " -drive if=pflash,format=raw,readonly=on,"
               "file=pc-bios/edk2-aarch64-code.fd";
    }
    return "-machine q35";
}

#include "acpi-affinity-test.c.inc"

/* ---- startup errors ---------------------------------------------------- */


/* A latency to node 1, which has a generic initiator and no memory */
#define HMAT_LB_TO_GI_NODE \
    GI("gi1", "dev0", "1") \
    " -numa hmat-lb,initiator=1,target=1,hierarchy=memory," \
    "data-type=access-latency,latency=10"

static const StartupCase startup_cases[] = {
    { "undefined-node", NODES DEV0 GI("gi0", "dev0", "5"),
      "acpi-generic-initiator 'gi0': node 5 is not defined" },
    { "node-out-of-range", NODES DEV0 GI("gi0", "dev0", "128"),
      "node 128 is out of range" },
    { "node-not-a-number", NODES DEV0 GI("gi0", "dev0", "two"),
      "node" },
    { "missing-pci-dev",
      NODES DEV0 " -object acpi-generic-initiator,id=gi0,node=1",
      "Parameter 'pci-dev' is missing" },
    { "missing-node",
      NODES DEV0 " -object acpi-generic-initiator,id=gi0,pci-dev=dev0",
      "Parameter 'node' is missing" },
    { "json-missing-node",
      NODES DEV0 " -object '{\"qom-type\":\"acpi-generic-initiator\","
      "\"id\":\"gi0\",\"pci-dev\":\"dev0\"}'",
      "Parameter 'node' is missing" },
    { "unknown-device", NODES DEV0 GI("gi0", "nodev", "1"),
      "acpi-generic-initiator 'gi0': pci-dev 'nodev': no device has this id" },
    { "not-pci", NODES " -device qemu-xhci -device usb-kbd,id=kbd0"
      GI("gi0", "kbd0", "1"),
      "acpi-generic-initiator 'gi0': pci-dev 'kbd0' is a 'usb-kbd', "
      "not a PCI device" },
    { "duplicate", NODES DEV0 GI("gi0", "dev0", "1") GI("gi1", "dev0", "1"),
      "pci-dev 'dev0' is already linked to node 1 by 'gi0'" },
    { "no-numa", DEV0 GI("gi0", "dev0", "0"),
      "acpi-generic-initiator 'gi0': the machine has no NUMA nodes" },
    { "acpi-off", NODES DEV0 " -machine acpi=off" GI("gi0", "dev0", "1"),
      "acpi-generic-initiator 'gi0': ACPI is disabled" },
    { "hmat-lb-initiator-without-gi",
      " -machine hmat=on" NODES DEV0
      " -numa hmat-lb,initiator=1,target=0,hierarchy=memory,"
      "data-type=access-latency,latency=10",
      "Invalid initiator=1, it isn't an initiator proximity domain" },
#if QEMU_VERSION_MAJOR < 9
    /* from 9.0 on, QEMU accepted such rows: see test_hmat_lb_dropped() */
    { "hmat-lb-target-without-memory",
      " -machine hmat=on" NODES DEV0 HMAT_LB_TO_GI_NODE,
      "-numa hmat-lb,initiator=1,target=1,hierarchy=memory,"
      "data-type=access-latency,latency=10: Invalid target=1, it isn't a "
      "target proximity domain (a node with memory)" },
#endif
    { "hmat-cache-without-memory",
      " -machine hmat=on" NODES DEV0
      " -numa hmat-cache,node-id=2,size=10K,level=1,associativity=direct,"
      "policy=write-back,line=8",
      "Invalid node-id=2, it has no memory for a memory side cache" },
    { "node-initiator-without-gi",
      " -machine hmat=on -m 256M -smp 2"
      " -object memory-backend-ram,id=ram0,size=128M"
      " -object memory-backend-ram,id=ram2,size=128M"
      " -numa node,nodeid=0,cpus=0-1,memdev=ram0 -numa node,nodeid=1"
      " -numa node,nodeid=2,memdev=ram2,initiator=1" DEV0,
      "The initiator of NUMA node 2 is invalid" },
};

static void run_qemu(const char *args, int *status, char **out, char **err)
{
    g_autofree char *cmd = g_strdup_printf(
        "timeout 60 %s %s -display none -nodefaults -S %s",
        getenv("QTEST_QEMU_BINARY"), machine_args(), args);
    g_auto(GStrv) argv = NULL;
    GError *error = NULL;

    g_assert_true(g_shell_parse_argv(cmd, NULL, &argv, &error));
    g_assert_true(g_spawn_sync(NULL, argv, NULL, G_SPAWN_SEARCH_PATH, NULL,
                               NULL, out, err, status, &error));
    g_assert_no_error(error);
}

#if QEMU_VERSION_MAJOR >= 9
/*
 * QEMU 9.0 and later accepted a -numa hmat-lb row whose target has no
 * memory, and wrote it in a column no OS reads; HMAT lists only memory
 * nodes as targets now, so the row is dropped, with a warning, and QEMU
 * starts (-dump-vmstate exits once the machine is made)
 */
static void test_hmat_lb_dropped(void)
{
    g_autofree char *out = NULL;
    g_autofree char *err = NULL;
    int status;

    run_qemu("-machine hmat=on" NODES DEV0 HMAT_LB_TO_GI_NODE
             " -dump-vmstate /dev/null", &status, &out, &err);
    g_assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    g_assert_nonnull(strstr(err, "warning: -numa hmat-lb,initiator=1,"
                            "target=1: node 1 has no memory, so it is no "
                            "HMAT target; the option is ignored"));
}
#endif

static void test_help(void)
{
    g_autofree char *out = NULL;
    g_autofree char *err = NULL;
    int status;

    run_qemu("-object acpi-generic-initiator,help", &status, &out, &err);
    g_assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    g_assert_nonnull(strstr(out, "pci-dev=<string>"));
    g_assert_nonnull(strstr(out, "node=<uint32>"));
    g_assert_nonnull(strstr(out, "guest NUMA node"));
}

/* The nodes of the SRAT structures of @type, e.g. "1,2" */
static char *srat_nodes(QTestState *qts, uint8_t type)
{
    SratEntry e[16];
    int i, n = read_srat_affinity(qts, type, e, ARRAY_SIZE(e));
    GString *got = g_string_new("");

    for (i = 0; i < n; i++) {
        g_string_append_printf(got, "%s%" PRIu32, i ? "," : "", e[i].node);
    }
    return g_string_free(got, false);
}

/* Assert the GI nodes in SRAT, e.g. "1,2" */
static void assert_srat_nodes(QTestState *qts, const char *nodes)
{
    g_autofree char *got = srat_nodes(qts, SRAT_TYPE_GENERIC_INITIATOR);

    g_assert_cmpstr(got, ==, nodes);
}

static QTestState *start(const char *args)
{
    return qtest_initf("%s %s", machine_args(), args);
}



static bool object_exists(QTestState *qts, const char *id)
{
    QDict *rsp = qtest_qmp(qts, "{ 'execute': 'qom-list', 'arguments':"
                           " { 'path': '/objects' } }");
    QListEntry *e;
    bool found = false;

    QLIST_FOREACH_ENTRY(qdict_get_qlist(rsp, "return"), e) {
        QDict *p = qobject_to(QDict, qlist_entry_obj(e));

        found |= !strcmp(qdict_get_str(p, "name"), id);
    }
    qobject_unref(rsp);
    return found;
}


static void test_qom_get_json(void)
{
    QTestState *qts = start(NODES DEV0 " -object '{\"qom-type\":"
                            "\"acpi-generic-initiator\",\"id\":\"gi0\","
                            "\"pci-dev\":\"dev0\",\"node\":2}'");
    QDict *rsp;

    rsp = qtest_qmp(qts, "{ 'execute': 'qom-get', 'arguments':"
                    " { 'path': '/objects/gi0', 'property': 'pci-dev' } }");
    g_assert_cmpstr(qdict_get_str(rsp, "return"), ==, "dev0");
    qobject_unref(rsp);
    rsp = qtest_qmp(qts, "{ 'execute': 'qom-get', 'arguments':"
                    " { 'path': '/objects/gi0', 'property': 'node' } }");
    g_assert_cmpint(qdict_get_int(rsp, "return"), ==, 2);
    qobject_unref(rsp);
    assert_srat_nodes(qts, "2");
    qtest_quit(qts);
}

static int strcmp_ptr(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void test_qmp_schema(void)
{
    QTestState *qts = start(NODES);
    QDict *rsp = qtest_qmp(qts, "{ 'execute': 'query-qmp-schema' }");
    g_autoptr(GString) json = qobject_to_json(qdict_get(rsp, "return"));
    g_autoptr(GPtrArray) types = NULL;
    g_autofree char *names = NULL;
    const QListEntry *e;

    g_assert_nonnull(strstr(json->str, "\"acpi-generic-initiator\""));
    g_assert_nonnull(strstr(json->str, "\"pci-dev\""));
    qobject_unref(rsp);

    /* both objects are kinds of the abstract acpi-generic-node */
    rsp = qtest_qmp(qts, "{ 'execute': 'qom-list-types', 'arguments': {"
                    " 'implements': 'acpi-generic-node', 'abstract': true } }");
    types = g_ptr_array_new_with_free_func(g_free);
    QLIST_FOREACH_ENTRY(qdict_get_qlist(rsp, "return"), e) {
        QDict *t = qobject_to(QDict, qlist_entry_obj(e));

        g_ptr_array_add(types, g_strdup_printf("%s%s",
                        qdict_get_str(t, "name"),
                        qdict_get_try_bool(t, "abstract", false) ?
                        " (abstract)" : ""));
    }
    g_ptr_array_sort(types, strcmp_ptr);
    g_ptr_array_add(types, NULL);
    names = g_strjoinv(",", (char **)types->pdata);
    g_assert_cmpstr(names, ==, "acpi-generic-initiator,"
                    "acpi-generic-node (abstract),acpi-generic-port");
    qobject_unref(rsp);
    qtest_quit(qts);
}

typedef struct QmpErrorCase {
    const char *name;
    const char *args;       /* object-add's arguments after qom-type, id */
    const char *msg;
} QmpErrorCase;

static const QmpErrorCase qmp_error_cases[] = {
    { "undefined-node", "\"pci-dev\": \"dev0\", \"node\": 7",
      "acpi-generic-initiator 'gi9': node 7 is not defined" },
    { "node-out-of-range", "\"pci-dev\": \"dev0\", \"node\": 4096",
      "node 4096 is out of range" },
    { "missing-node", "\"pci-dev\": \"dev0\"",
      "Parameter 'node' is missing" },
    { "missing-pci-dev", "\"node\": 1", "Parameter 'pci-dev' is missing" },
    { "unknown-device", "\"pci-dev\": \"nodev\", \"node\": 1",
      "pci-dev 'nodev': no device has this id" },
    { "not-pci", "\"pci-dev\": \"kbd0\", \"node\": 1",
      "pci-dev 'kbd0' is a 'usb-kbd', not a PCI device" },
    { "duplicate", "\"pci-dev\": \"dev0\", \"node\": 1",
      "pci-dev 'dev0' is already linked to node 1 by 'gi0'" },
    /* the same device by its QOM path is the same device */
    { "duplicate-by-path",
      "\"pci-dev\": \"/machine/peripheral/dev0\", \"node\": 1",
      "pci-dev '/machine/peripheral/dev0' is already linked to node 1" },
    { "unknown-path", "\"pci-dev\": \"/machine/peripheral/nodev\", "
      "\"node\": 1", "no device has this QOM path" },
    /* a partial QOM path is no id */
    { "partial-path", "\"pci-dev\": \"peripheral/dev0\", \"node\": 1",
      "pci-dev 'peripheral/dev0': no device has this id" },
};

static void test_qmp_errors(void)
{
    QTestState *qts = start(NODES DEV0 " -device qemu-xhci"
                            " -device usb-kbd,id=kbd0" GI("gi0", "dev0", "1"));
    size_t i;

    for (i = 0; i < ARRAY_SIZE(qmp_error_cases); i++) {
        const QmpErrorCase *c = &qmp_error_cases[i];
        g_autofree char *json = g_strdup_printf(
            "{ \"qom-type\": \"acpi-generic-initiator\", \"id\": \"gi9\", "
            "%s }", c->args);
        QObject *args = qobject_from_json(json, &error_abort);

        /* %p hands the reference to args over */
        assert_qmp_error(qts, c->msg, "{ 'execute': 'object-add', "
                         "'arguments': %p }", args);
        g_assert_false(object_exists(qts, "gi9"));
        assert_running(qts);
    }

    /* an absolute QOM path names the device as its id does */
    qtest_qmp_assert_success(qts, "{ 'execute': 'object-add', 'arguments':"
                             " { 'qom-type': 'acpi-generic-initiator',"
                             " 'id': 'gi2', 'node': 2,"
                             " 'pci-dev': '/machine/peripheral/dev0' } }");
    reset(qts);
    assert_srat_nodes(qts, "1,2");
    qtest_qmp_assert_success(qts, "{ 'execute': 'object-del', 'arguments':"
                             " { 'id': 'gi2' } }");

    /* qom-set to a bad value fails and changes nothing */
    assert_qmp_error(qts, "node 7 is not defined",
                     "{ 'execute': 'qom-set', 'arguments': {"
                     " 'path': '/objects/gi0', 'property': 'node',"
                     " 'value': 7 } }");
    assert_qmp_error(qts, "pci-dev 'nodev': no device has this id",
                     "{ 'execute': 'qom-set', 'arguments': {"
                     " 'path': '/objects/gi0', 'property': 'pci-dev',"
                     " 'value': 'nodev' } }");
    reset(qts);
    assert_srat_nodes(qts, "1");
    assert_running(qts);
    qtest_quit(qts);
}

static void test_runtime_changes(void)
{
    QTestState *qts = start(NODES DEV0 GI("gi0", "dev0", "2"));

    assert_srat_nodes(qts, "2");

    /* object-add: the tables change at the next reset, not before */
    qtest_qmp_assert_success(qts, "{ 'execute': 'object-add', 'arguments': {"
                             " 'qom-type': 'acpi-generic-initiator',"
                             " 'id': 'gi1', 'pci-dev': 'dev0', 'node': 1 } }");
    assert_srat_nodes(qts, "2");
    reset(qts);
    assert_srat_nodes(qts, "1,2");

    /* qom-set of the node: moves the link, still sorted by node */
    qtest_qmp_assert_success(qts, "{ 'execute': 'qom-set', 'arguments': {"
                             " 'path': '/objects/gi1', 'property': 'node',"
                             " 'value': 0 } }");
    reset(qts);
    assert_srat_nodes(qts, "0,2");
    /* ... and onto a pair that exists already: refused */
    assert_qmp_error(qts, "already linked to node 2 by 'gi0'",
                     "{ 'execute': 'qom-set', 'arguments': {"
                     " 'path': '/objects/gi1', 'property': 'node',"
                     " 'value': 2 } }");

    /* object-del */
    qtest_qmp_assert_success(qts, "{ 'execute': 'object-del', 'arguments': {"
                             " 'id': 'gi0' } }");
    reset(qts);
    assert_srat_nodes(qts, "0");
    assert_running(qts);
    qtest_quit(qts);
}

static void test_unplug(void)
{
    QTestState *qts = start(NODES DEV0 GI("gi0", "dev0", "1")
                            GI("gi1", "dev0", "2"));

    assert_qmp_error(qts, "Device 'dev0' is linked to NUMA node",
                     "{ 'execute': 'device_del', 'arguments': {"
                     " 'id': 'dev0' } }");
    qtest_qmp_assert_success(qts, "{ 'execute': 'object-del', 'arguments': {"
                             " 'id': 'gi0' } }");
    assert_qmp_error(qts, "Device 'dev0' is linked to NUMA node 2 by "
                     "acpi-generic-initiator 'gi1'",
                     "{ 'execute': 'device_del', 'arguments': {"
                     " 'id': 'dev0' } }");
    qtest_qmp_assert_success(qts, "{ 'execute': 'object-del', 'arguments': {"
                             " 'id': 'gi1' } }");
    /* the unplug request is accepted now (the guest completes it) */
    qtest_qmp_assert_success(qts, "{ 'execute': 'device_del', 'arguments': {"
                             " 'id': 'dev0' } }");
    /* a device being unplugged cannot be linked again */
    assert_qmp_error(qts, "acpi-generic-initiator 'gi2': pci-dev 'dev0' is "
                     "being unplugged", "{ 'execute': 'object-add',"
                     " 'arguments': { 'qom-type': 'acpi-generic-initiator',"
                     " 'id': 'gi2', 'pci-dev': 'dev0', 'node': 1 } }");
    assert_running(qts);
    qtest_quit(qts);
}

/* A GI node that HMAT names as an initiator keeps its last GI */
static void test_hmat_initiator_in_use(void)
{
    QTestState *qts = start(" -machine hmat=on" NODES DEV0
                            GI("gi1", "dev0", "1")
                            " -numa hmat-lb,initiator=1,target=0,"
                            "hierarchy=memory,data-type=access-latency,"
                            "latency=10"
                            " -numa hmat-lb,initiator=0,target=0,"
                            "hierarchy=memory,data-type=access-latency,"
                            "latency=5");

    assert_qmp_error(qts, "acpi-generic-initiator 'gi1' can't be deleted: "
                     "HMAT names node 1 as an initiator only through it",
                     "{ 'execute': 'object-del', 'arguments': {"
                     " 'id': 'gi1' } }");
    assert_qmp_error(qts, "node 1 is an HMAT initiator only through this "
                     "object", "{ 'execute': 'qom-set', 'arguments': {"
                     " 'path': '/objects/gi1', 'property': 'node',"
                     " 'value': 2 } }");
    /* with a second GI in node 1, the first one may go */
    qtest_qmp_assert_success(qts, "{ 'execute': 'object-add', 'arguments': {"
                             " 'qom-type': 'acpi-generic-initiator',"
                             " 'id': 'gi2', 'pci-dev': 'rp0', 'node': 1 } }");
    qtest_qmp_assert_success(qts, "{ 'execute': 'object-del', 'arguments': {"
                             " 'id': 'gi1' } }");
    reset(qts);
    assert_srat_nodes(qts, "1");
    /* and now gi2 is the last one */
    assert_qmp_error(qts, "acpi-generic-initiator 'gi2' can't be deleted: "
                     "HMAT names node 1 as an initiator only through it",
                     "{ 'execute': 'object-del', 'arguments': {"
                     " 'id': 'gi2' } }");
    assert_running(qts);
    qtest_quit(qts);
}

static bool srat_equal(QTestState *a, QTestState *b)
{
    SratEntry ea[16], eb[16];
    int na = read_srat_affinity(a, SRAT_TYPE_GENERIC_INITIATOR, ea,
                                ARRAY_SIZE(ea));
    int nb = read_srat_affinity(b, SRAT_TYPE_GENERIC_INITIATOR, eb,
                                ARRAY_SIZE(eb));
    int i;

    for (i = 0; i < na && na == nb; i++) {
        if (ea[i].node != eb[i].node || ea[i].handle != eb[i].handle) {
            return false;
        }
    }
    return na == nb;
}

static void wait_migration(QTestState *qts)
{
    for (;;) {
        QDict *rsp = qtest_qmp(qts, "{ 'execute': 'query-migrate' }");
        const char *st = qdict_get_try_str(qdict_get_qdict(rsp, "return"),
                                           "status");
        bool done = st && !strcmp(st, "completed");

        g_assert_true(!st || strcmp(st, "failed"));
        qobject_unref(rsp);
        if (done) {
            return;
        }
        g_usleep(20 * 1000);
    }
}

/*
 * A VM with GIs migrates to a destination started with the same
 * configuration; the tables the destination's firmware reads, before and
 * after a reset there, are the source's.
 */
static void test_migration(void)
{
    g_autofree char *dir = g_dir_make_tmp("gi-migration-XXXXXX", NULL);
    g_autofree char *uri = g_strdup_printf("unix:%s/sock", dir);
    const char *cfg = NODES DEV0 GI("gi2", "dev0", "2") GI("gi1", "dev0", "1");
    QTestState *src = start(cfg);
    QTestState *dst = qtest_initf("%s %s -incoming %s", machine_args(), cfg,
                                  uri);
    SratEntry e[16];

    g_assert_cmpint(read_srat_affinity(src, SRAT_TYPE_GENERIC_INITIATOR, e,
                                       ARRAY_SIZE(e)), ==, 2);
    qtest_qmp_assert_success(src, "{ 'execute': 'migrate', 'arguments': {"
                             " 'uri': %s } }", uri);
    wait_migration(src);
    qtest_qmp_eventwait(dst, "RESUME");
    g_assert_true(srat_equal(src, dst));
    reset(dst);
    g_assert_true(srat_equal(src, dst));
    assert_srat_nodes(dst, "1,2");

    qtest_quit(src);
    qtest_quit(dst);
    unlink(uri + strlen("unix:"));
    rmdir(dir);
}

int main(int argc, char **argv)
{
    size_t i;

    g_test_init(&argc, &argv, NULL);

    for (i = 0; i < ARRAY_SIZE(startup_cases); i++) {
        g_autofree char *path = g_strdup_printf("generic-initiator/startup/%s",
                                                startup_cases[i].name);

        qtest_add_data_func(path, &startup_cases[i], test_startup_error);
    }
    qtest_add_func("generic-initiator/help", test_help);
#if QEMU_VERSION_MAJOR >= 9
    qtest_add_func("generic-initiator/hmat-lb-dropped", test_hmat_lb_dropped);
#endif
    qtest_add_func("generic-initiator/qom-get-json", test_qom_get_json);
    qtest_add_func("generic-initiator/qmp-schema", test_qmp_schema);
    qtest_add_func("generic-initiator/qmp-errors", test_qmp_errors);
    qtest_add_func("generic-initiator/runtime-changes", test_runtime_changes);
    qtest_add_func("generic-initiator/unplug", test_unplug);
    qtest_add_func("generic-initiator/hmat-initiator-in-use",
                   test_hmat_initiator_in_use);
    qtest_add_func("generic-initiator/migration", test_migration);

    return g_test_run();
}
