/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * acpi-generic-port: command line errors, QMP behaviour, and the SRAT
 * that the firmware reads after runtime changes and migration.
 *
 * Startup errors run QEMU directly and check that it exits with status 1
 * and one message naming the object and value.  Runtime cases use QMP and
 * read the ACPI tables from fw_cfg, as the firmware would after a reset;
 * the byte-exact tables are checked by bios-tables-test.  q35 only: it is
 * the machine with CXL host bridges (pxb-cxl).
 */

#include "qemu/osdep.h"
#include "qemu/bswap.h"
#include "libqtest.h"
#include "libqos/fw_cfg.h"
#include "qobject/qdict.h"

#define MACHINE "-machine q35,cxl=on"

/* Node 0 has the CPUs and the memory; nodes 1 and 2 are empty */
#define NODES \
    " -m 256M -smp 2 -object memory-backend-ram,id=ram0,size=256M" \
    " -numa node,nodeid=0,cpus=0-1,memdev=ram0" \
    " -numa node,nodeid=1 -numa node,nodeid=2"

/* Two CXL host bridges, _UID 12 and 222, and a plain expander bridge */
#define BRIDGES \
    " -device pxb-cxl,id=cxl.1,bus=pcie.0,bus_nr=12" \
    " -device pxb-cxl,id=cxl.2,bus=pcie.0,bus_nr=222" \
    " -device pxb-pcie,id=pxb1,bus=pcie.0,bus_nr=100"

/* qom-set @id's pci-bus to @bus, which must succeed */
static void set_pci_bus(QTestState *qts, const char *id, const char *bus)
{
    g_autofree char *path = g_strdup_printf("/objects/%s", id);

    qtest_qmp_assert_success(qts, "{ 'execute': 'qom-set', 'arguments':"
                             " { 'path': %s, 'property': 'pci-bus',"
                             " 'value': %s } }", path, bus);
}

/*
 * The absolute QOM path of the bus that pxb-cxl @id makes: a child of the
 * bridge's host, which sits in /machine/unattached
 */
static const char *bus_path(QTestState *qts, const char *id)
{
    static char path[64];
    int i;

    for (i = 0; i < 64; i++) {
        QDict *rsp;
        bool found;

        snprintf(path, sizeof(path), "/machine/unattached/device[%d]/%s",
                 i, id);
        rsp = qtest_qmp(qts, "{ 'execute': 'qom-get', 'arguments':"
                        " { 'path': %s, 'property': 'type' } }", path);
        found = qdict_haskey(rsp, "return");
        qobject_unref(rsp);
        if (found) {
            return path;
        }
    }
    g_assert_not_reached();
}

#define GP(id, bus, node) \
    " -object acpi-generic-port,id=" id ",pci-bus=" bus ",node=" node

#define HMAT_TO_1 \
    " -machine hmat=on" \
    " -numa hmat-lb,initiator=0,target=0,hierarchy=memory," \
    "data-type=access-latency,latency=10" \
    " -numa hmat-lb,initiator=0,target=1,hierarchy=memory," \
    "data-type=access-latency,latency=100"

#include "acpi-affinity-test.c.inc"

/* ---- startup errors ---------------------------------------------------- */


static const StartupCase startup_cases[] = {
    { "undefined-node", NODES BRIDGES GP("gp0", "cxl.1", "5"),
      "acpi-generic-port 'gp0': node 5 is not defined" },
    { "node-out-of-range", NODES BRIDGES GP("gp0", "cxl.1", "128"),
      "node 128 is out of range" },
    { "missing-pci-bus",
      NODES BRIDGES " -object acpi-generic-port,id=gp0,node=1",
      "Parameter 'pci-bus' is missing" },
    { "missing-node",
      NODES BRIDGES " -object acpi-generic-port,id=gp0,pci-bus=cxl.1",
      "Parameter 'node' is missing" },
    { "unknown-bus", NODES BRIDGES GP("gp0", "cxl.9", "1"),
      "acpi-generic-port 'gp0': pci-bus 'cxl.9': no CXL host bridge" },
    { "not-cxl", NODES BRIDGES GP("gp0", "pxb1", "1"),
      "acpi-generic-port 'gp0': pci-bus 'pxb1': no CXL host bridge" },
    { "two-ports", NODES BRIDGES GP("gp0", "cxl.1", "1") GP("gp1", "cxl.1",
                                                           "2"),
      "acpi-generic-port 'gp1': pci-bus 'cxl.1' is already the generic "
      "port of node 1 ('gp0')" },
    { "no-numa", BRIDGES GP("gp0", "cxl.1", "0"),
      "acpi-generic-port 'gp0': the machine has no NUMA nodes" },
    { "hmat-cache-on-port", NODES BRIDGES GP("gp0", "cxl.1", "1")
      HMAT_TO_1 " -numa hmat-cache,node-id=1,size=10K,level=1,"
      "associativity=direct,policy=write-back,line=8",
      "Invalid node-id=1, it has no memory for a memory side cache" },
};

static void run_qemu(const char *args, int *status, char **out, char **err)
{
    g_autofree char *cmd = g_strdup_printf(
        "timeout 60 %s " MACHINE " -display none -nodefaults -S %s",
        getenv("QTEST_QEMU_BINARY"), args);
    g_auto(GStrv) argv = NULL;
    GError *error = NULL;

    g_assert_true(g_shell_parse_argv(cmd, NULL, &argv, &error));
    g_assert_true(g_spawn_sync(NULL, argv, NULL, G_SPAWN_SEARCH_PATH, NULL,
                               NULL, out, err, status, &error));
    g_assert_no_error(error);
}


static void test_help(void)
{
    g_autofree char *out = NULL;
    g_autofree char *err = NULL;
    int status;

    run_qemu("-object acpi-generic-port,help", &status, &out, &err);
    g_assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    g_assert_nonnull(strstr(out, "pci-bus=<string>"));
    g_assert_nonnull(strstr(out, "node=<uint32>"));
    g_assert_nonnull(strstr(out, "CXL host bridge"));
}

/* Assert the generic ports in SRAT as "node:_UID,...", in table order */
static void assert_srat_ports(QTestState *qts, const char *want)
{
    SratEntry e[16];
    int i, n = read_srat_affinity(qts, SRAT_TYPE_GENERIC_PORT, e,
                                  ARRAY_SIZE(e));
    g_autoptr(GString) got = g_string_new("");

    for (i = 0; i < n; i++) {
        g_string_append_printf(got, "%s%" PRIu32 ":%" PRIu32, i ? "," : "",
                               e[i].node, e[i].handle);
    }
    g_assert_cmpstr(got->str, ==, want);
}

static QTestState *start(const char *args)
{
    return qtest_initf(MACHINE " %s", args);
}




/* ---- runtime ------------------------------------------------------------ */

static void test_runtime(void)
{
    QTestState *qts = start(NODES BRIDGES GP("gp1", "cxl.1", "1"));

    assert_srat_ports(qts, "1:12");

    /* object-add applies at the next reset, sorted by node */
    qtest_qmp_assert_success(qts, "{ 'execute': 'object-add', 'arguments':"
                             " { 'qom-type': 'acpi-generic-port', 'id': 'gp2',"
                             " 'pci-bus': 'cxl.2', 'node': 0 } }");
    assert_srat_ports(qts, "1:12");
    reset(qts);
    assert_srat_ports(qts, "0:222,1:12");

    /* errors at runtime: a reply, the VM runs on, nothing changes */
    assert_qmp_error(qts, "pci-bus 'cxl.1' is already the generic port of "
                     "node 1 ('gp1')",
                     "{ 'execute': 'object-add', 'arguments':"
                     " { 'qom-type': 'acpi-generic-port', 'id': 'gp3',"
                     " 'pci-bus': 'cxl.1', 'node': 2 } }");
    assert_qmp_error(qts, "acpi-generic-port 'gp2': node 5 is not defined",
                     "{ 'execute': 'qom-set', 'arguments': { 'path':"
                     " '/objects/gp2', 'property': 'node', 'value': 5 } }");
    assert_qmp_error(qts, "pci-bus 'cxl.2' is already the generic port",
                     "{ 'execute': 'qom-set', 'arguments': { 'path':"
                     " '/objects/gp1', 'property': 'pci-bus',"
                     " 'value': 'cxl.2' } }");
    assert_qmp_error(qts, "pci-bus 'pxb1': no CXL host bridge",
                     "{ 'execute': 'qom-set', 'arguments': { 'path':"
                     " '/objects/gp1', 'property': 'pci-bus',"
                     " 'value': 'pxb1' } }");
    assert_qmp_error(qts, "pci-bus '/machine/peripheral/pxb1': no CXL host "
                     "bridge (pxb-cxl) or bus of one is at this QOM path",
                     "{ 'execute': 'qom-set', 'arguments': { 'path':"
                     " '/objects/gp1', 'property': 'pci-bus',"
                     " 'value': '/machine/peripheral/pxb1' } }");
    /* QOM paths of the same bridge, and of its bus, name the same port */
    set_pci_bus(qts, "gp1", "/machine/peripheral/cxl.1");
    set_pci_bus(qts, "gp1", bus_path(qts, "cxl.1"));
    set_pci_bus(qts, "gp1", "cxl.1");
    assert_qmp_error(qts, "CXL host bridge 'cxl.1' is the generic port of "
                     "NUMA node 1 (acpi-generic-port 'gp1')",
                     "{ 'execute': 'device_del', 'arguments':"
                     " { 'id': 'cxl.1' } }");
    assert_running(qts);
    reset(qts);
    assert_srat_ports(qts, "0:222,1:12");

    /* qom-set moves a port whole */
    qtest_qmp_assert_success(qts, "{ 'execute': 'qom-set', 'arguments':"
                             " { 'path': '/objects/gp2', 'property': 'node',"
                             " 'value': 2 } }");
    reset(qts);
    assert_srat_ports(qts, "1:12,2:222");

    /* object-del */
    qtest_qmp_assert_success(qts, "{ 'execute': 'object-del', 'arguments':"
                             " { 'id': 'gp1' } }");
    reset(qts);
    assert_srat_ports(qts, "2:222");
    qtest_quit(qts);
}

/* The JSON -object form libvirt generates, and qom-get */
static void test_json(void)
{
    QTestState *qts = start(NODES BRIDGES " -object '{\"qom-type\":"
                            "\"acpi-generic-port\",\"id\":\"gp1\","
                            "\"pci-bus\":\"cxl.1\",\"node\":1}'");
    QDict *rsp;

    assert_srat_ports(qts, "1:12");
    rsp = qtest_qmp(qts, "{ 'execute': 'qom-get', 'arguments': {"
                    " 'path': '/objects/gp1', 'property': 'pci-bus' } }");
    g_assert_cmpstr(qdict_get_str(rsp, "return"), ==, "cxl.1");
    qobject_unref(rsp);
    rsp = qtest_qmp(qts, "{ 'execute': 'qom-get', 'arguments': {"
                    " 'path': '/objects/gp1', 'property': 'node' } }");
    g_assert_cmpint(qdict_get_int(rsp, "return"), ==, 1);
    qobject_unref(rsp);
    qtest_quit(qts);
}

/*
 * A port node that HMAT names as a target keeps its last port, and says
 * why; with two ports on the node, either may go.
 */
static void test_hmat_target_in_use(void)
{
    QTestState *qts = start(NODES BRIDGES GP("gp1", "cxl.1", "1")
                            GP("gp2", "cxl.2", "1") HMAT_TO_1);

    qtest_qmp_assert_success(qts, "{ 'execute': 'object-del', 'arguments':"
                             " { 'id': 'gp1' } }");
    assert_qmp_error(qts, "acpi-generic-port 'gp2' can't be deleted: HMAT "
                     "names node 1 as a target only through it",
                     "{ 'execute': 'object-del', 'arguments':"
                     " { 'id': 'gp2' } }");
    assert_qmp_error(qts, "acpi-generic-port 'gp2': node 1 is an HMAT "
                     "target only through this object",
                     "{ 'execute': 'qom-set', 'arguments': { 'path':"
                     " '/objects/gp2', 'property': 'node', 'value': 2 } }");
    assert_running(qts);
    reset(qts);
    assert_srat_ports(qts, "1:222");
    /* a second port again: now the first may move away */
    qtest_qmp_assert_success(qts, "{ 'execute': 'object-add', 'arguments': {"
                             " 'qom-type': 'acpi-generic-port', 'id': 'gp1',"
                             " 'pci-bus': 'cxl.1', 'node': 1 } }");
    qtest_qmp_assert_success(qts, "{ 'execute': 'qom-set', 'arguments': {"
                             " 'path': '/objects/gp2', 'property': 'node',"
                             " 'value': 2 } }");
    reset(qts);
    assert_srat_ports(qts, "1:12,2:222");
    qtest_quit(qts);
}

static void test_migration(void)
{
    g_autofree char *dir = g_dir_make_tmp("gp-migration-XXXXXX", NULL);
    g_autofree char *uri = g_strdup_printf("unix:%s/sock", dir);
    const char *cfg = NODES BRIDGES GP("gp2", "cxl.2", "2")
        GP("gp1", "cxl.1", "1");
    QTestState *src = start(cfg);
    QTestState *dst = qtest_initf(MACHINE " %s -incoming %s", cfg, uri);
    QDict *rsp;
    const char *st;

    qtest_qmp_assert_success(src, "{ 'execute': 'migrate', 'arguments': {"
                             " 'uri': %s } }", uri);
    do {
        g_usleep(20 * 1000);
        rsp = qtest_qmp(src, "{ 'execute': 'query-migrate' }");
        st = qdict_get_try_str(qdict_get_qdict(rsp, "return"), "status");
        g_assert_true(!st || strcmp(st, "failed"));
        st = st && !strcmp(st, "completed") ? "done" : NULL;
        qobject_unref(rsp);
    } while (!st);
    qtest_qmp_eventwait(dst, "RESUME");
    assert_srat_ports(dst, "1:12,2:222");
    reset(dst);
    assert_srat_ports(dst, "1:12,2:222");
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
        g_autofree char *path = g_strdup_printf("generic-port/startup/%s",
                                                startup_cases[i].name);

        qtest_add_data_func(path, &startup_cases[i], test_startup_error);
    }
    qtest_add_func("generic-port/help", test_help);
    qtest_add_func("generic-port/json", test_json);
    qtest_add_func("generic-port/runtime", test_runtime);
    qtest_add_func("generic-port/hmat-target-in-use",
                   test_hmat_target_in_use);
    qtest_add_func("generic-port/migration", test_migration);
    return g_test_run();
}
