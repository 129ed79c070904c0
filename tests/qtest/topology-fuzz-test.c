/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A seeded random sequence of QMP commands against one q35 VM: object-add,
 * object-del, qom-set and qom-get of every object of the topology series
 * (acpi-generic-initiator, acpi-generic-port, vcpu-affinity,
 * emulator-affinity, cache-monitor) with good and bad values, device_del
 * of the devices they link, system_reset, migration to a file, and the
 * queries that report on them.
 *
 * The test keeps what each object should be.  After every step:
 *   - the VM answers;
 *   - the objects and their properties are those the test expects: a
 *     command that succeeded did what it asked, one that failed changed
 *     nothing;
 *   - every thread of QEMU runs on the host CPUs its rule gives, and
 *     query-vcpu-affinity names that rule;
 *   - the cache-monitor's resctrl groups exist exactly while it does;
 *   - once the generic initiators or ports have changed (and after every
 *     system_reset), the SRAT and HMAT that the firmware reads after a
 *     reset list exactly their nodes, in order.
 * At the end QEMU quits with status 0.
 *
 * The seed is printed; QTEST_FUZZ_SEED=N repeats a run, QTEST_FUZZ_STEPS=N
 * sets its length (default 2000), QTEST_FUZZ_VERBOSE=1 prints each command.
 */

#include "qemu/osdep.h"
#include "qemu/bswap.h"
#include "libqtest.h"
#include "qapi/qmp/qbool.h"
#include "qapi/qmp/qdict.h"
#include "qapi/qmp/qjson.h"
#include "qapi/qmp/qlist.h"
#include "qapi/qmp/qnum.h"
#include "qapi/qmp/qstring.h"

#include "affinity-threads.c.inc"

/*
 * Nodes 0 and 1 have memory and two vCPUs each; 2 to 7 have neither.
 * Node 2 is an HMAT initiator through gi0 only, node 3 an HMAT target
 * through gp0 only: neither object may go while that holds.
 */
#define MACHINE_ARGS \
    "-machine q35,cxl=on,hmat=on -accel tcg -nodefaults -S" \
    " -smp 4 -m 256M" \
    " -object memory-backend-ram,id=m0,size=128M" \
    " -object memory-backend-ram,id=m1,size=128M" \
    " -numa node,nodeid=0,cpus=0-1,memdev=m0" \
    " -numa node,nodeid=1,cpus=2-3,memdev=m1" \
    " -numa node,nodeid=2 -numa node,nodeid=3 -numa node,nodeid=4" \
    " -numa node,nodeid=5 -numa node,nodeid=6 -numa node,nodeid=7" \
    " -device pci-testdev,id=dev0,addr=3" \
    " -device pci-testdev,id=dev1,addr=4" \
    " -device pcie-root-port,id=rp0,chassis=1,addr=5" \
    " -device pci-testdev,id=dev2,bus=rp0" \
    " -device pxb-cxl,id=cxl.1,bus=pcie.0,bus_nr=12,addr=6" \
    " -device pxb-cxl,id=cxl.2,bus=pcie.0,bus_nr=222,addr=7" \
    " -device pxb-pcie,id=pxb1,bus=pcie.0,bus_nr=100,addr=8" \
    " -object acpi-generic-initiator,id=gi0,pci-dev=dev0,node=2" \
    " -object acpi-generic-port,id=gp0,pci-bus=cxl.1,node=3" \
    " -numa hmat-lb,initiator=0,target=0,hierarchy=memory," \
    "data-type=access-latency,latency=10" \
    " -numa hmat-lb,initiator=2,target=0,hierarchy=memory," \
    "data-type=access-latency,latency=20" \
    " -numa hmat-lb,initiator=0,target=3,hierarchy=memory," \
    "data-type=access-latency,latency=30"

#define NB_VCPUS 4
#define NB_NODES 8

/* The PCI devices, and the handles the SRAT gives them */
static const struct {
    const char *id;
    int bdf;            /* GI: bus << 8 | devfn */
    int uid;            /* GP: the host bridge's _UID (bus_nr), or -1 */
} devices[] = {
    { "dev0", 0x18, -1 },
    { "dev1", 0x20, -1 },
    { "rp0", 0x28, -1 },
    /* no firmware has run: rp0's secondary bus number is still 0 */
    { "dev2", 0x00, -1 },
    { "cxl.1", 0x30, 12 },
    { "cxl.2", 0x38, 222 },
    { "pxb1", 0x40, -1 },
};

enum { GI, GP, VA, EA, CM, NB_KINDS };

static const struct {
    const char *type;
    const char *ids[4];
    const char *props[4];
} kinds[NB_KINDS] = {
    [GI] = { "acpi-generic-initiator", { "gi0", "gi1", "gi2", "gi3" },
             { "pci-dev", "node" } },
    [GP] = { "acpi-generic-port", { "gp0", "gp1", "gp2" },
             { "pci-bus", "node" } },
    [VA] = { "vcpu-affinity", { "va0", "va1", "va2", "va3" },
             { "vcpus", "node", "host-cpus", "host-nodes" } },
    [EA] = { "emulator-affinity", { "ea0", "ea1" },
             { "host-cpus", "host-nodes" } },
    [CM] = { "cache-monitor", { "cm0", "cm1" },
             { "resctrl", "per-vcpu" } },
};

typedef struct Fuzz {
    QTestState *qts;
    GRand *rand;
    guint64 seed;
    int step;
    bool verbose;
    char *cmd;                      /* the command of this step, as JSON */
    /* what each object should be: its properties, NULL if it is absent */
    QDict *objs[NB_KINDS][4];
    bool tables_dirty;              /* a GI or GP changed since the check */
    int pid;
    int host_node;                  /* a host node with our CPUs, or -1 */
    char *host_node_cpus;
    char *resctrl;                  /* a resctrl tree for cache-monitor */
    char *migration_file;
    bool migrated;                  /* paused after a migration */
} Fuzz;

/* A failed check: say which seed and step, and what the step ran */
#define fuzz_fail(f, ...) do { \
    fprintf(stderr, "topology-fuzz: seed %" PRIu64 ", step %d: %s\n", \
            (f)->seed, (f)->step, (f)->cmd); \
    fprintf(stderr, "topology-fuzz: " __VA_ARGS__); \
    fprintf(stderr, "\n"); \
    g_assert_not_reached(); \
} while (0)

static int pick(Fuzz *f, int n)
{
    return g_rand_int_range(f->rand, 0, n);
}

static bool chance(Fuzz *f, int percent)
{
    return pick(f, 100) < percent;
}

static int nb_ids(int k)
{
    int n = 0;

    while (n < ARRAY_SIZE(kinds[k].ids) && kinds[k].ids[n]) {
        n++;
    }
    return n;
}

/* ---- values ------------------------------------------------------------ */

static QObject *int_list(int n, const int *v)
{
    QList *l = qlist_new();
    int i;

    for (i = 0; i < n; i++) {
        qlist_append_int(l, v[i]);
    }
    return QOBJECT(l);
}

static QObject *gen_host_cpus(Fuzz *f)
{
    int v[2] = { host_cpu[0], host_cpu[1] };

    switch (pick(f, 7)) {
    case 0:
        v[0] = 4095;            /* not a CPU QEMU may run on */
        return int_list(1, v);
    case 1:
        return int_list(0, v);
    case 2:
        return QOBJECT(qstring_from_str("0"));
    case 3:
        if (host_cpu[1] >= 0) {
            return int_list(2, v);
        }
        /* fall through */
    case 4:
        if (host_cpu[1] >= 0) {
            return int_list(1, v + 1);
        }
        /* fall through */
    default:
        return int_list(1, v);
    }
}

static QObject *gen_value(Fuzz *f, const char *prop)
{
    static const char *const pci_devs[] = {
        "dev0", "dev1", "rp0", "dev2", "cxl.1", "pxb1", "nodev", ""
    };
    static const char *const pci_buses[] = {
        "cxl.1", "cxl.2", "pxb1", "dev0", "nobus"
    };
    int v[NB_VCPUS + 1], n = 0, i;

    if (!strcmp(prop, "node")) {
        switch (pick(f, 12)) {
        case 0:
            return QOBJECT(qnum_from_int(NB_NODES));    /* undefined */
        case 1:
            return QOBJECT(qnum_from_int(pick(f, 2) ? 128 : -1));
        case 2:
            return QOBJECT(qstring_from_str("two"));
        default:
            return QOBJECT(qnum_from_int(pick(f, NB_NODES)));
        }
    }
    if (!strcmp(prop, "pci-dev")) {
        return QOBJECT(qstring_from_str(pci_devs[pick(f,
                                                    ARRAY_SIZE(pci_devs))]));
    }
    if (!strcmp(prop, "pci-bus")) {
        return QOBJECT(qstring_from_str(pci_buses[pick(f,
                                                    ARRAY_SIZE(pci_buses))]));
    }
    if (!strcmp(prop, "host-cpus")) {
        return gen_host_cpus(f);
    }
    if (!strcmp(prop, "host-nodes")) {
        v[0] = chance(f, 20) || f->host_node < 0 ? 1000 : f->host_node;
        return int_list(1, v);
    }
    if (!strcmp(prop, "vcpus")) {
        /* a sorted set of vCPUs, sometimes one that does not exist */
        for (i = 0; i <= NB_VCPUS; i++) {
            if (chance(f, i < NB_VCPUS ? 35 : 5)) {
                v[n++] = i;
            }
        }
        return int_list(n, v);
    }
    if (!strcmp(prop, "resctrl")) {
        return QOBJECT(qstring_from_str(chance(f, 80) ? f->resctrl
                                        : "/nonexistent"));
    }
    if (!strcmp(prop, "per-vcpu")) {
        return QOBJECT(qbool_from_bool(pick(f, 2)));
    }
    return QOBJECT(qnum_from_int(pick(f, 3)));
}

/* ---- what the VM should show --------------------------------------------- */

static bool list_has(QDict *props, const char *name, int v)
{
    QList *l = qdict_haskey(props, name) ? qdict_get_qlist(props, name)
                                          : NULL;
    QListEntry *e;

    QLIST_FOREACH_ENTRY(l, e) {
        if (qnum_get_int(qobject_to(QNum, qlist_entry_obj(e))) == v) {
            return true;
        }
    }
    return false;
}

static bool list_empty(QDict *props, const char *name)
{
    return !qdict_haskey(props, name) ||
           qlist_empty(qdict_get_qlist(props, name));
}

/* Is device @id linked by a generic initiator or port? */
static bool device_linked(Fuzz *f, const char *id)
{
    int k, i;

    for (k = GI; k <= GP; k++) {
        for (i = 0; i < nb_ids(k); i++) {
            if (f->objs[k][i] &&
                !strcmp(qdict_get_str(f->objs[k][i], kinds[k].props[0]),
                        id)) {
                return true;
            }
        }
    }
    return false;
}

/* Is vcpu-affinity rule @p a default rule (neither vcpus nor node)? */
static bool is_default_rule(QDict *p)
{
    return list_empty(p, "vcpus") && !qdict_haskey(p, "node");
}

/* The default vcpu-affinity rule, or -1 */
static int default_rule(Fuzz *f)
{
    int i;

    for (i = 0; i < nb_ids(VA); i++) {
        if (f->objs[VA][i] && is_default_rule(f->objs[VA][i])) {
            return i;
        }
    }
    return -1;
}

/* The vcpu-affinity rule of vCPU @index: vcpus, then node, then default */
static int vcpu_rule(Fuzz *f, int index)
{
    int node = index / 2, i, by_node = -1;

    for (i = 0; i < nb_ids(VA); i++) {
        QDict *p = f->objs[VA][i];

        if (!p || is_default_rule(p)) {
            continue;
        }
        if (!list_empty(p, "vcpus")) {
            if (list_has(p, "vcpus", index)) {
                return i;
            }
        } else if (qdict_get_int(p, "node") == node) {
            by_node = i;
        }
    }
    return by_node >= 0 ? by_node : default_rule(f);
}

/* "0-1": the host CPUs rule @p gives, the start set for none */
static char *rule_cpus(Fuzz *f, QDict *p)
{
    cpu_set_t set;
    QListEntry *e;

    if (!p) {
        return g_strdup(allowed);
    }
    if (list_empty(p, "host-cpus")) {
        return g_strdup(f->host_node_cpus);
    }
    CPU_ZERO(&set);
    QLIST_FOREACH_ENTRY(qdict_get_qlist(p, "host-cpus"), e) {
        CPU_SET(qnum_get_int(qobject_to(QNum, qlist_entry_obj(e))), &set);
    }
    return set_to_list(&set);
}

/* ---- checks -------------------------------------------------------------- */

static void check_alive(Fuzz *f)
{
    QDict *rsp = qtest_qmp(f->qts, "{ 'execute': 'query-status' }");

    if (!qdict_haskey(rsp, "return")) {
        fuzz_fail(f, "query-status did not answer");
    }
    qobject_unref(rsp);
}

static QObject *qom_get(Fuzz *f, const char *id, const char *prop)
{
    g_autofree char *path = g_strdup_printf("/objects/%s", id);
    QDict *rsp = qtest_qmp(f->qts, "{ 'execute': 'qom-get', 'arguments':"
                           " { 'path': %s, 'property': %s } }", path, prop);
    QObject *v = qdict_get(rsp, "return");

    if (!v) {
        fuzz_fail(f, "qom-get %s %s failed", id, prop);
    }
    qobject_ref(v);
    qobject_unref(rsp);
    return v;
}

/* Is there an object of kind @k in @node? */
static bool node_has(Fuzz *f, int k, int node)
{
    int i;

    for (i = 0; i < nb_ids(k); i++) {
        if (f->objs[k][i] && qdict_get_int(f->objs[k][i], "node") == node) {
            return true;
        }
    }
    return false;
}

/*
 * The objects of our types, and their properties.  The HMAT that the
 * command line gives names node 2 as an initiator and node 3 as a target:
 * neither may lose the last object that makes it one.
 */
static void check_objects(Fuzz *f)
{
    QDict *rsp = qtest_qmp(f->qts, "{ 'execute': 'qom-list', 'arguments':"
                           " { 'path': '/objects' } }");
    bool seen[NB_KINDS][4] = {};
    const QDictEntry *pe;
    QListEntry *e;
    int k, i;

    QLIST_FOREACH_ENTRY(qdict_get_qlist(rsp, "return"), e) {
        QDict *o = qobject_to(QDict, qlist_entry_obj(e));
        const char *name = qdict_get_str(o, "name");
        const char *type = qdict_get_str(o, "type");

        for (k = 0; k < NB_KINDS; k++) {
            g_autofree char *child = g_strdup_printf("child<%s>",
                                                     kinds[k].type);

            if (strcmp(type, child)) {
                continue;
            }
            for (i = 0; i < nb_ids(k) && strcmp(kinds[k].ids[i], name); i++) {
                ;
            }
            if (i == nb_ids(k) || !f->objs[k][i]) {
                fuzz_fail(f, "%s '%s' exists, and should not", kinds[k].type,
                          name);
            }
            seen[k][i] = true;
        }
    }
    qobject_unref(rsp);
    if (!node_has(f, GI, 2) || !node_has(f, GP, 3)) {
        fuzz_fail(f, "node 2 has lost its last generic initiator, or node 3 "
                  "its last generic port, while HMAT names them");
    }

    for (k = 0; k < NB_KINDS; k++) {
        for (i = 0; i < nb_ids(k); i++) {
            if (!f->objs[k][i]) {
                continue;
            }
            if (!seen[k][i]) {
                fuzz_fail(f, "%s '%s' is missing", kinds[k].type,
                          kinds[k].ids[i]);
            }
            for (pe = qdict_first(f->objs[k][i]); pe;
                 pe = qdict_next(f->objs[k][i], pe)) {
                QObject *got = qom_get(f, kinds[k].ids[i], pe->key);

                if (!qobject_is_equal(got, pe->value)) {
                    g_autoptr(GString) a = qobject_to_json(got);
                    g_autoptr(GString) b = qobject_to_json(pe->value);

                    fuzz_fail(f, "%s '%s': %s is %s, expected %s",
                              kinds[k].type, kinds[k].ids[i], pe->key,
                              a->str, b->str);
                }
                qobject_unref(got);
            }
        }
    }
}

/* Where each thread runs, and query-vcpu-affinity's rules */
static void check_threads(Fuzz *f)
{
    int tids[NB_VCPUS], i, ea = -1, dflt;
    g_autofree char *task = g_strdup_printf("/proc/%d/task", f->pid);
    g_autofree char *emulator = NULL;
    QDict *rsp;
    QListEntry *e;
    const char *name;
    GDir *dir;

    g_assert_cmpint(vcpu_threads(f->qts, tids, NB_VCPUS), ==, f->pid);
    for (i = 0; i < NB_VCPUS; i++) {
        int r = vcpu_rule(f, i);
        g_autofree char *want = rule_cpus(f, r < 0 ? NULL : f->objs[VA][r]);
        g_autofree char *got = allowed_list(f->pid, tids[i]);

        if (strcmp(got, want)) {
            fuzz_fail(f, "vCPU %d runs on %s, expected %s (rule %s)", i, got,
                      want, r < 0 ? "none" : kinds[VA].ids[r]);
        }
    }

    rsp = qtest_qmp(f->qts, "{ 'execute': 'query-vcpu-affinity' }");
    QLIST_FOREACH_ENTRY(qdict_get_qlist(qdict_get_qdict(rsp, "return"),
                                        "vcpus"), e) {
        QDict *v = qobject_to(QDict, qlist_entry_obj(e));
        int r = vcpu_rule(f, qdict_get_int(v, "cpu-index"));
        const char *want = r < 0 ? "" : kinds[VA].ids[r];
        const char *got = qdict_haskey(v, "rule") ? qdict_get_str(v, "rule")
                                                  : "";

        if (strcmp(got, want)) {
            fuzz_fail(f, "query-vcpu-affinity: vCPU %" PRId64 " has rule "
                      "'%s', expected '%s'", qdict_get_int(v, "cpu-index"),
                      got, want);
        }
    }
    qobject_unref(rsp);

    for (i = 0; i < nb_ids(EA); i++) {
        ea = f->objs[EA][i] ? i : ea;
    }
    dflt = default_rule(f);
    emulator = rule_cpus(f, ea >= 0 ? f->objs[EA][ea] :
                         dflt >= 0 ? f->objs[VA][dflt] : NULL);
    dir = g_dir_open(task, 0, NULL);
    g_assert_nonnull(dir);
    while ((name = g_dir_read_name(dir))) {
        int tid = atoi(name);
        g_autofree char *got = NULL;

        for (i = 0; i < NB_VCPUS && tids[i] != tid; i++) {
            ;
        }
        if (i < NB_VCPUS) {
            continue;
        }
        got = allowed_list_or_gone(f->pid, tid);
        if (got && strcmp(got, emulator)) {
            fuzz_fail(f, "emulator thread %d runs on %s, expected %s", tid,
                      got, emulator);
        }
    }
    g_dir_close(dir);
}

/* The cache-monitor's groups, qemu-PID-ID-*, exist exactly while it does */
static void check_groups(Fuzz *f)
{
    g_autofree char *groups = g_build_filename(f->resctrl, "mon_groups",
                                               NULL);
    g_autoptr(GPtrArray) want = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GPtrArray) got = g_ptr_array_new_with_free_func(g_free);
    GDir *dir = g_dir_open(groups, 0, NULL);
    const char *name;
    int i, j;

    for (i = 0; i < nb_ids(CM); i++) {
        QDict *p = f->objs[CM][i];

        if (!p || strcmp(qdict_get_str(p, "resctrl"), f->resctrl)) {
            continue;
        }
        g_ptr_array_add(want, g_strdup_printf("qemu-%d-%s-emulator", f->pid,
                                              kinds[CM].ids[i]));
        if (!qdict_get_bool(p, "per-vcpu")) {
            g_ptr_array_add(want, g_strdup_printf("qemu-%d-%s-vcpus", f->pid,
                                                  kinds[CM].ids[i]));
            continue;
        }
        for (j = 0; j < NB_VCPUS; j++) {
            g_ptr_array_add(want, g_strdup_printf("qemu-%d-%s-vcpu%d",
                                                  f->pid, kinds[CM].ids[i],
                                                  j));
        }
    }
    g_assert_nonnull(dir);
    while ((name = g_dir_read_name(dir))) {
        g_ptr_array_add(got, g_strdup(name));
    }
    g_dir_close(dir);
    for (i = 0; i < want->len; i++) {
        if (!g_ptr_array_find_with_equal_func(got, want->pdata[i], g_str_equal,
                                              NULL)) {
            fuzz_fail(f, "resctrl group %s is missing",
                      (char *)want->pdata[i]);
        }
    }
    if (got->len != want->len) {
        fuzz_fail(f, "%u resctrl groups, expected %u", got->len, want->len);
    }
}

/*
 * fw_cfg DMA (docs/specs/fw_cfg.txt): a FWCfgDmaAccess in guest memory,
 * its address written to the big-endian DMA register at I/O port 0x514.
 * The guest never runs (-S), so the memory below is ours.
 */
#define FW_CFG_DMA_PORT     0x514
#define FW_CFG_DMA_READ     0x02
#define FW_CFG_DMA_SELECT   0x08
#define FW_CFG_FILE_DIR     0x19
#define DMA_ACCESS          0x100000
#define DMA_DATA            0x101000

static uint8_t *fw_cfg_dma_read(QTestState *qts, uint16_t key, uint32_t len)
{
    uint8_t access[16], *data = g_malloc(len);

    stl_be_p(access, (uint32_t)key << 16 | FW_CFG_DMA_SELECT |
             FW_CFG_DMA_READ);
    stl_be_p(access + 4, len);
    stq_be_p(access + 8, DMA_DATA);
    qtest_memwrite(qts, DMA_ACCESS, access, sizeof(access));
    /* qtest_outl() stores little-endian: swap for the big-endian register */
    qtest_outl(qts, FW_CFG_DMA_PORT, 0);
    qtest_outl(qts, FW_CFG_DMA_PORT + 4, bswap32(DMA_ACCESS));
    qtest_memread(qts, DMA_ACCESS, access, 4);
    g_assert_cmphex(ldl_be_p(access), ==, 0);   /* done, no error */
    qtest_memread(qts, DMA_DATA, data, len);
    return data;
}

/* The ACPI tables the firmware would read now (etc/acpi/tables) */
static uint8_t *read_acpi_tables(QTestState *qts, uint32_t *len)
{
    g_autofree uint8_t *count = fw_cfg_dma_read(qts, FW_CFG_FILE_DIR, 4);
    uint32_t n = ldl_be_p(count), i;
    g_autofree uint8_t *dir = fw_cfg_dma_read(qts, FW_CFG_FILE_DIR,
                                              4 + 64 * n);

    for (i = 0; i < n; i++) {
        uint8_t *file = dir + 4 + 64 * i;   /* size, select, reserved, name */

        if (!strcmp((char *)file + 8, "etc/acpi/tables")) {
            *len = ldl_be_p(file);
            return fw_cfg_dma_read(qts, lduw_be_p(file + 4), *len);
        }
    }
    g_assert_not_reached();
}

static uint8_t *find_table(uint8_t *tables, uint32_t len, const char *sig)
{
    uint32_t off;

    for (off = 0; off + 36 <= len; off += ldl_le_p(tables + off + 4)) {
        g_assert_cmpint(ldl_le_p(tables + off + 4), >=, 36);
        if (!memcmp(tables + off, sig, 4)) {
            return tables + off;
        }
    }
    return NULL;
}

/* By node, then initiators before ports, then by handle */
static int entry_cmp(gconstpointer a, gconstpointer b)
{
    const int *x = a, *y = b;

    return x[0] != y[0] ? x[0] - y[0] : x[1] != y[1] ? x[1] - y[1]
                                                     : x[2] - y[2];
}

/*
 * The SRAT's generic initiator and port structures (ACPI 6.5 5.2.16.6,
 * 5.2.16.7) as "node:handle" in table order, and the node lists of the
 * HMAT's first System Locality Latency and Bandwidth Information
 * structure (5.2.28.4), against the objects
 */
static void check_tables(Fuzz *f)
{
    g_autoptr(GString) got = g_string_new(NULL);
    g_autoptr(GString) want = g_string_new(NULL);
    g_autoptr(GArray) entries = g_array_new(false, false, sizeof(int) * 3);
    g_autoptr(GArray) inits = g_array_new(false, false, sizeof(int));
    g_autoptr(GArray) targets = g_array_new(false, false, sizeof(int));
    g_autofree uint8_t *tables = NULL;
    uint8_t *srat, *hmat, *st;
    uint32_t len, off, n, i;
    int k, j, d;

    qtest_qmp_assert_success(f->qts, "{ 'execute': 'system_reset' }");
    qtest_qmp_eventwait(f->qts, "RESET");
    f->migrated = false;
    tables = read_acpi_tables(f->qts, &len);

    for (k = GI; k <= GP; k++) {
        for (j = 0; j < nb_ids(k); j++) {
            QDict *p = f->objs[k][j];
            int e[3];

            if (!p) {
                continue;
            }
            for (d = 0; d < ARRAY_SIZE(devices) &&
                 strcmp(devices[d].id, qdict_get_str(p, kinds[k].props[0]));
                 d++) {
                ;
            }
            if (d == ARRAY_SIZE(devices)) {
                fuzz_fail(f, "%s '%s' links '%s'", kinds[k].type,
                          kinds[k].ids[j], qdict_get_str(p, kinds[k].props[0]));
            }
            e[0] = qdict_get_int(p, "node");
            e[1] = k;
            e[2] = k == GI ? devices[d].bdf : devices[d].uid;
            g_array_append_val(entries, e);
        }
    }
    g_array_sort(entries, entry_cmp);
    for (i = 0; i < entries->len; i++) {
        int *e = &g_array_index(entries, int, 3 * i);

        g_string_append_printf(want, " %s%d:0x%x", e[1] == GI ? "gi" : "gp",
                               e[0], e[2]);
    }
    srat = find_table(tables, len, "SRAT");
    g_assert_nonnull(srat);
    for (off = 48; off < ldl_le_p(srat + 4); off += st[1]) {
        st = srat + off;
        g_assert_cmpint(st[1], >, 0);
        if (st[0] == 5) {
            g_string_append_printf(got, " gi%u:0x%x", ldl_le_p(st + 4),
                                   st[10] << 8 | st[11]);
        } else if (st[0] == 6) {
            g_string_append_printf(got, " gp%u:0x%x", ldl_le_p(st + 4),
                                   ldl_le_p(st + 16));
        }
    }
    if (strcmp(got->str, want->str)) {
        fuzz_fail(f, "SRAT has [%s ], expected [%s ]", got->str, want->str);
    }

    /*
     * HMAT: the initiators are the nodes with vCPUs or a GI, the targets
     * the nodes with memory or a GP
     */
    for (j = 0; j < NB_NODES; j++) {
        bool init = j < 2, target = j < 2;

        for (i = 0; i < entries->len; i++) {
            int *e = &g_array_index(entries, int, 3 * i);

            init |= e[0] == j && e[1] == GI;
            target |= e[0] == j && e[1] == GP;
        }
        if (init) {
            g_array_append_val(inits, j);
        }
        if (target) {
            g_array_append_val(targets, j);
        }
    }
    hmat = find_table(tables, len, "HMAT");
    g_assert_nonnull(hmat);
    /* after the header and 4 reserved bytes, the structures: type 1 */
    for (off = 40; lduw_le_p(hmat + off) != 1;
         off += ldl_le_p(hmat + off + 4)) {
        g_assert_cmpint(off, <, ldl_le_p(hmat + 4));
    }
    st = hmat + off;
    g_string_truncate(got, 0);
    g_string_truncate(want, 0);
    n = ldl_le_p(st + 12);
    for (i = 0; i < n; i++) {
        g_string_append_printf(got, " %u", ldl_le_p(st + 32 + 4 * i));
    }
    g_string_append(got, " /");
    for (i = 0; i < ldl_le_p(st + 16); i++) {
        g_string_append_printf(got, " %u", ldl_le_p(st + 32 + 4 * (n + i)));
    }
    for (i = 0; i < inits->len; i++) {
        g_string_append_printf(want, " %d", g_array_index(inits, int, i));
    }
    g_string_append(want, " /");
    for (i = 0; i < targets->len; i++) {
        g_string_append_printf(want, " %d", g_array_index(targets, int, i));
    }
    if (strcmp(got->str, want->str)) {
        fuzz_fail(f, "HMAT initiators / targets are%s, expected%s", got->str,
                  want->str);
    }
    f->tables_dirty = false;
}

/* ---- steps --------------------------------------------------------------- */

/* Run @args (a QDict, taken) as @command; true if it succeeded */
static bool run(Fuzz *f, const char *command, QDict *args)
{
    g_autoptr(GString) json = NULL;
    QDict *rsp;
    bool ok;

    if (!args) {
        args = qdict_new();
    }
    json = qobject_to_json(QOBJECT(args));
    g_free(f->cmd);
    f->cmd = g_strdup_printf("%s %s", command, json->str);
    if (f->verbose) {
        fprintf(stderr, "%d: %s", f->step, f->cmd);
    }
    rsp = qtest_qmp(f->qts, "{ 'execute': %s, 'arguments': %p }", command,
                    args);
    ok = qdict_haskey(rsp, "return");
    if (!ok && !qdict_haskey(rsp, "error")) {
        fuzz_fail(f, "neither a return nor an error");
    }
    if (f->verbose) {
        fprintf(stderr, " -> %s\n", ok ? "ok" : qdict_get_str(
                    qdict_get_qdict(rsp, "error"), "desc"));
    }
    qobject_unref(rsp);
    return ok;
}

static void must_fail(Fuzz *f, bool ok, const char *why)
{
    if (ok) {
        fuzz_fail(f, "succeeded, but %s", why);
    }
}

static bool is_bad_node(QObject *v)
{
    QNum *n = qobject_to(QNum, v);
    int64_t i;

    return !n || !qnum_get_try_int(n, &i) || i < 0 || i >= NB_NODES;
}

/* The properties an object reads back with, given those it was made with */
static QDict *expected_props(int k, QDict *args)
{
    QDict *p = qdict_clone_shallow(args);

    qdict_del(p, "qom-type");
    qdict_del(p, "id");
    if (k == VA || k == EA) {
        if (!qdict_haskey(p, "host-cpus")) {
            qdict_put_obj(p, "host-cpus", QOBJECT(qlist_new()));
        }
        if (!qdict_haskey(p, "host-nodes")) {
            qdict_put_obj(p, "host-nodes", QOBJECT(qlist_new()));
        }
    }
    if (k == CM && !qdict_haskey(p, "per-vcpu")) {
        qdict_put_bool(p, "per-vcpu", false);
    }
    return p;
}

static void step_object_add(Fuzz *f)
{
    int k = pick(f, NB_KINDS), i = pick(f, nb_ids(k));
    const char *id = kinds[k].ids[i];
    QDict *args = qdict_new(), *props;
    bool ok, bad = false;
    const QDictEntry *e;

    qdict_put_str(args, "qom-type", kinds[k].type);
    qdict_put_str(args, "id", id);
    switch (k) {
    case GI:
    case GP:
        if (chance(f, 95)) {
            qdict_put_obj(args, kinds[k].props[0],
                          gen_value(f, kinds[k].props[0]));
        }
        if (chance(f, 95)) {
            qdict_put_obj(args, "node", gen_value(f, "node"));
            bad = is_bad_node(qdict_get(args, "node"));
        }
        break;
    case VA:
        if (chance(f, 40)) {
            qdict_put_obj(args, "vcpus", gen_value(f, "vcpus"));
        } else if (chance(f, 50)) {
            qdict_put_obj(args, "node", gen_value(f, "node"));
        }
        /* fall through */
    case EA:
        if (chance(f, 75)) {
            qdict_put_obj(args, "host-cpus", gen_value(f, "host-cpus"));
        }
        if (!qdict_haskey(args, "host-cpus") || chance(f, 5)) {
            qdict_put_obj(args, "host-nodes", gen_value(f, "host-nodes"));
        }
        break;
    case CM:
        if (chance(f, 95)) {
            qdict_put_obj(args, "resctrl", gen_value(f, "resctrl"));
        }
        if (chance(f, 50)) {
            qdict_put_obj(args, "per-vcpu", gen_value(f, "per-vcpu"));
        }
        break;
    }
    props = expected_props(k, args);
    /* a wrongly typed value is refused: the model never holds one */
    for (e = qdict_first(props); e; e = qdict_next(props, e)) {
        bad |= qobject_type(e->value) == QTYPE_QSTRING &&
               strcmp(e->key, "pci-dev") && strcmp(e->key, "pci-bus") &&
               strcmp(e->key, "resctrl");
    }
    /* so is an object without what it must have */
    if (k == GI || k == GP) {
        bad |= !qdict_haskey(props, kinds[k].props[0]) ||
               !qdict_haskey(props, "node");
    } else if (k == CM) {
        bad |= !qdict_haskey(props, "resctrl");
    } else if (!bad) {
        bad = list_empty(props, "host-cpus") == list_empty(props,
                                                           "host-nodes");
    }
    ok = run(f, "object-add", args);
    if (f->objs[k][i]) {
        must_fail(f, ok, "the id exists");
    }
    if (bad) {
        must_fail(f, ok, "a value is invalid");
    }
    if (ok) {
        f->objs[k][i] = props;
        f->tables_dirty |= k == GI || k == GP;
    } else {
        qobject_unref(props);
    }
}

static void step_object_del(Fuzz *f)
{
    int k = pick(f, NB_KINDS), i = pick(f, nb_ids(k));
    QDict *args = qdict_new();
    bool ok;

    qdict_put_str(args, "id", kinds[k].ids[i]);
    ok = run(f, "object-del", args);
    if (!f->objs[k][i]) {
        must_fail(f, ok, "there is no such object");
    }
    if (ok) {
        qobject_unref(f->objs[k][i]);
        f->objs[k][i] = NULL;
        f->tables_dirty |= k == GI || k == GP;
    }
}

static void step_qom_set(Fuzz *f)
{
    int k = pick(f, NB_KINDS), i = pick(f, nb_ids(k)), n;
    g_autofree char *path = g_strdup_printf("/objects/%s", kinds[k].ids[i]);
    const char *prop;
    QDict *args = qdict_new();
    QObject *value;
    bool ok;

    for (n = 0; n < ARRAY_SIZE(kinds[k].props) && kinds[k].props[n]; n++) {
        ;
    }
    prop = chance(f, 3) ? "no-such-property" : kinds[k].props[pick(f, n)];
    value = gen_value(f, prop);
    qdict_put_str(args, "path", path);
    qdict_put_str(args, "property", prop);
    qdict_put_obj(args, "value", qobject_ref(value));
    ok = run(f, "qom-set", args);
    if (!f->objs[k][i]) {
        must_fail(f, ok, "there is no such object");
    }
    if ((k == GI || k == GP) && !strcmp(prop, "node") && is_bad_node(value)) {
        must_fail(f, ok, "the node is invalid");
    }
    if (g_str_has_prefix(prop, "host-") &&
        (qobject_type(value) != QTYPE_QLIST ||
         qlist_empty(qobject_to(QList, value)))) {
        must_fail(f, ok, "a rule needs host CPUs");
    }
    if (ok) {
        QDict *p = f->objs[k][i];

        if (!strcmp(prop, "host-cpus") || !strcmp(prop, "host-nodes")) {
            /* the new host property replaces the other one */
            qdict_put_obj(p, "host-cpus", QOBJECT(qlist_new()));
            qdict_put_obj(p, "host-nodes", QOBJECT(qlist_new()));
        }
        qdict_put_obj(p, prop, qobject_ref(value));
        f->tables_dirty |= k == GI || k == GP;
    }
    qobject_unref(value);
}

static void step_qom_get(Fuzz *f)
{
    int k = pick(f, NB_KINDS), i = pick(f, nb_ids(k));
    g_autofree char *path = g_strdup_printf("/objects/%s", kinds[k].ids[i]);
    QDict *args = qdict_new();

    qdict_put_str(args, "path", path);
    qdict_put_str(args, "property", kinds[k].props[pick(f, 2)]);
    if (run(f, "qom-get", args) && !f->objs[k][i]) {
        fuzz_fail(f, "qom-get of an object that does not exist succeeded");
    }
}

static void step_device_del(Fuzz *f)
{
    const char *id = devices[pick(f, ARRAY_SIZE(devices))].id;
    QDict *args = qdict_new();
    bool ok;

    qdict_put_str(args, "id", id);
    ok = run(f, "device_del", args);
    if (device_linked(f, id)) {
        must_fail(f, ok, "a generic initiator or port links the device");
    }
}

static void step_reset(Fuzz *f)
{
    run(f, "system_reset", NULL);
    qtest_qmp_eventwait(f->qts, "RESET");
    f->migrated = false;
    f->tables_dirty = true;
}

static void step_migrate(Fuzz *f)
{
    g_autofree char *uri = g_strdup_printf("exec:cat > %s",
                                           f->migration_file);
    QDict *args = qdict_new(), *rsp;
    const char *status;

    qdict_put_str(args, "uri", uri);
    if (!run(f, "migrate", args)) {
        /* a migrated VM stays paused, and migrates again after a reset */
        if (!f->migrated) {
            fuzz_fail(f, "migration did not start");
        }
        return;
    }
    f->migrated = true;
    for (;;) {
        rsp = qtest_qmp(f->qts, "{ 'execute': 'query-migrate' }");
        status = qdict_get_try_str(qdict_get_qdict(rsp, "return"), "status");
        if (status && !strcmp(status, "completed")) {
            qobject_unref(rsp);
            break;
        }
        if (status && (!strcmp(status, "failed") ||
                       !strcmp(status, "cancelled"))) {
            fuzz_fail(f, "migration %s", status);
        }
        qobject_unref(rsp);
        g_usleep(10 * 1000);
    }
    unlink(f->migration_file);
}

static void step_query(Fuzz *f)
{
    static const char *const hmp[] = {
        "info vcpu-affinity", "info stats vm", "info numa",
    };
    QDict *args;

    switch (pick(f, 6)) {
    case 0:
        run(f, "query-vcpu-affinity", NULL);
        break;
    case 1:
        args = qdict_new();
        qdict_put_str(args, "target", "vm");
        run(f, "query-stats", args);
        break;
    case 2:
        run(f, "query-stats-schemas", NULL);
        break;
    case 3:
        args = qdict_new();
        qdict_put_str(args, "path", "/objects");
        run(f, "qom-list", args);
        break;
    case 4:
        run(f, "query-cpus-fast", NULL);
        break;
    default:
        args = qdict_new();
        qdict_put_str(args, "command-line", hmp[pick(f, ARRAY_SIZE(hmp))]);
        run(f, "human-monitor-command", args);
        break;
    }
}

static void fuzz_step(Fuzz *f)
{
    int r = pick(f, 100);

    if (r < 30) {
        step_object_add(f);
    } else if (r < 45) {
        step_object_del(f);
    } else if (r < 70) {
        step_qom_set(f);
    } else if (r < 77) {
        step_qom_get(f);
    } else if (r < 83) {
        step_device_del(f);
    } else if (r < 87) {
        step_reset(f);
    } else if (r < 88) {
        step_migrate(f);
    } else {
        step_query(f);
    }
    check_alive(f);
    check_objects(f);
    check_threads(f);
    check_groups(f);
    if (f->tables_dirty) {
        check_tables(f);
    }
}

/* A resctrl tree as the kernel lays it out, in a temporary directory */
static char *resctrl_tree(void)
{
    char *root = g_dir_make_tmp("topology-fuzz-resctrl-XXXXXX", NULL);
    g_autofree char *mon = g_build_filename(root, "info", "L3_MON", NULL);
    g_autofree char *groups = g_build_filename(root, "mon_groups", NULL);
    g_autofree char *path = NULL;

    g_assert_cmpint(g_mkdir_with_parents(mon, 0755), ==, 0);
    g_assert_cmpint(g_mkdir_with_parents(groups, 0755), ==, 0);
    path = g_build_filename(mon, "num_rmids", NULL);
    g_assert_true(g_file_set_contents(path, "64\n", -1, NULL));
    g_free(path);
    path = g_build_filename(mon, "mon_features", NULL);
    g_assert_true(g_file_set_contents(path, "llc_occupancy\n", -1, NULL));
    g_free(path);
    path = g_build_filename(root, "tasks", NULL);
    g_assert_true(g_file_set_contents(path, "", -1, NULL));
    return root;
}

static void test_fuzz(void)
{
    const char *seed = getenv("QTEST_FUZZ_SEED");
    const char *steps = getenv("QTEST_FUZZ_STEPS");
    g_autofree char *rm = NULL;
    Fuzz f = {
        .seed = seed ? g_ascii_strtoull(seed, NULL, 0) : g_get_real_time(),
        .verbose = getenv("QTEST_FUZZ_VERBOSE") != NULL,
    };
    int n = steps ? atoi(steps) : 2000, k, i;
    int tids[NB_VCPUS];

    fprintf(stderr, "topology-fuzz: seed %" PRIu64 ", %d steps "
            "(QTEST_FUZZ_SEED=%" PRIu64 " repeats this run)\n", f.seed, n,
            f.seed);
    g_test_message("seed %" PRIu64 ", %d steps", f.seed, n);
    f.rand = g_rand_new_with_seed_array((const guint32 *)&f.seed, 2);
    f.host_node = host_node(&f.host_node_cpus);
    f.resctrl = resctrl_tree();
    f.migration_file = g_strdup_printf("%s/migration", f.resctrl);
    f.cmd = g_strdup("(start)");

    f.qts = qtest_init(MACHINE_ARGS);
    f.pid = vcpu_threads(f.qts, tids, NB_VCPUS);
    f.objs[GI][0] = qdict_new();
    qdict_put_str(f.objs[GI][0], "pci-dev", "dev0");
    qdict_put_int(f.objs[GI][0], "node", 2);
    f.objs[GP][0] = qdict_new();
    qdict_put_str(f.objs[GP][0], "pci-bus", "cxl.1");
    qdict_put_int(f.objs[GP][0], "node", 3);
    check_objects(&f);
    check_threads(&f);
    check_tables(&f);

    for (f.step = 1; f.step <= n; f.step++) {
        fuzz_step(&f);
    }

    f.step = n + 1;
    run(&f, "quit", NULL);
    /* QEMU exits by itself; qtest_quit() then checks its status is 0 */
    while (qtest_probe_child(f.qts)) {
        g_usleep(10 * 1000);
    }
    qtest_quit(f.qts);
    g_free(f.cmd);

    /* QEMU removed its resctrl groups at exit */
    {
        g_autofree char *groups = g_build_filename(f.resctrl, "mon_groups",
                                                   NULL);
        GDir *dir = g_dir_open(groups, 0, NULL);

        g_assert_nonnull(dir);
        g_assert_null(g_dir_read_name(dir));
        g_dir_close(dir);
    }
    for (k = 0; k < NB_KINDS; k++) {
        for (i = 0; i < nb_ids(k); i++) {
            qobject_unref(f.objs[k][i]);
        }
    }
    rm = g_strdup_printf("rm -rf '%s'", f.resctrl);
    g_assert_cmpint(system(rm), ==, 0);
    g_free(f.resctrl);
    g_free(f.migration_file);
    g_free(f.host_node_cpus);
    g_rand_free(f.rand);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    find_host_cpus();
    qtest_add_func("topology-fuzz/qmp", test_fuzz);
    return g_test_run();
}
