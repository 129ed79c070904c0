/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A seeded random sequence of QMP commands against one q35 VM: object-add,
 * object-del, qom-set and qom-get of every object of the topology series
 * (acpi-generic-initiator, acpi-generic-port, vcpu-affinity,
 * emulator-affinity, cache-monitor) with good and bad values, device_del
 * and device_add of the devices they link, system_reset, migration to a
 * file, and the queries that report on them.
 *
 * The test keeps a model of what the VM should be: each object and its
 * properties, the devices, and the rules QEMU applies.  From it, every
 * command is either one that must fail, one that must succeed, or (said
 * where it happens) one whose outcome the model cannot know; a command
 * that fails or succeeds against the model fails the test, naming the
 * step, the command and QEMU's error.  After every step:
 *   - the VM answers;
 *   - the objects and their properties are those the model has: a
 *     command that succeeded did what it asked, one that failed changed
 *     nothing; the devices are those the model has;
 *   - every thread of QEMU runs on the host CPUs its rule gives, and
 *     query-vcpu-affinity names that rule;
 *   - the cache-monitor's resctrl groups exist exactly while it does;
 *   - once the generic initiators or ports have changed (and after every
 *     system_reset), the SRAT and HMAT that the firmware reads after a
 *     reset list exactly their nodes, in order.
 * The queries' replies are checked against the model too (see
 * step_query()).  At the end QEMU quits with status 0.
 *
 * The seed is printed; QTEST_FUZZ_SEED=N repeats a run, QTEST_FUZZ_STEPS=N
 * sets its length (default 2000), QTEST_FUZZ_VERBOSE=1 prints each command.
 */

#include "qemu/osdep.h"
#include "qemu/bswap.h"
#include "libqtest.h"
#include "qobject/qbool.h"
#include "qobject/qdict.h"
#include "qobject/qjson.h"
#include "qobject/qlist.h"
#include "qobject/qnum.h"
#include "qobject/qstring.h"

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

/* What MACHINE_ARGS gives: nodes 0 and 1 have vCPUs and memory */
static bool node_has_vcpus_and_memory(int node)
{
    return node < 2;
}

/* ... and HMAT (-numa hmat-lb) names nodes 0 and 2 as initiators */
static bool hmat_initiator(int node)
{
    return node == 0 || node == 2;
}

/* ... and nodes 0 and 3 as targets */
static bool hmat_target(int node)
{
    return node == 0 || node == 3;
}

/* The PCI devices (all of them PCI), and the handles the SRAT gives them */
static const struct {
    const char *id;
    int bdf;            /* GI: bus << 8 | devfn */
    int uid;            /* GP: the host bridge's _UID (bus_nr), or -1 */
    /*
     * Behind a root port, where q35's ACPI PCI hotplug can remove it:
     * the port; NULL for those on pcie.0, which is not hot-pluggable
     */
    const char *port;
    const char *driver;
} devices[] = {
    { "dev0", 0x18, -1 },
    { "dev1", 0x20, -1 },
    { "rp0", 0x28, -1 },
    /* no firmware has run: rp0's secondary bus number is still 0 */
    { "dev2", 0x00, -1, "rp0", "pci-testdev" },
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
    bool host_resctrl;              /* the host has /sys/fs/resctrl */
    char *migration_file;
    bool migrated;                  /* paused after a migration */
    bool gone[ARRAY_SIZE(devices)]; /* removed by device_del */
    char *error;                    /* the last command's error, or NULL */
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

    if (!l) {
        return false;
    }
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

/* The emulator threads' rule: the emulator rule, else the default one */
static QDict *emulator_rule(Fuzz *f, const char **id)
{
    int i = default_rule(f), k = VA, j;

    for (j = 0; j < nb_ids(EA); j++) {
        if (f->objs[EA][j]) {
            k = EA;
            i = j;
        }
    }
    *id = i < 0 ? NULL : kinds[k].ids[i];
    return i < 0 ? NULL : f->objs[k][i];
}

/* ---- the model: which commands must fail --------------------------------- */

/*
 * Each function below says why QEMU must refuse a command, or NULL if it
 * must accept it.  The reasons are the model's, for the test's messages;
 * QEMU's own messages are not matched.
 */

static int dev_index(const char *id)
{
    int d;

    for (d = 0; d < ARRAY_SIZE(devices) && strcmp(devices[d].id, id); d++) {
        ;
    }
    return d < ARRAY_SIZE(devices) ? d : -1;
}

/* How many objects of kind @k are in @node */
static int node_count(Fuzz *f, int k, int node)
{
    int i, n = 0;

    for (i = 0; i < nb_ids(k); i++) {
        n += f->objs[k][i] && qdict_get_int(f->objs[k][i], "node") == node;
    }
    return n;
}

/* A node of a generic initiator or port: declared with -numa node */
static const char *node_error(QObject *v)
{
    QNum *n = qobject_to(QNum, v);
    int64_t i;

    if (!n || !qnum_get_try_int(n, &i)) {
        return "the node is not a number";
    }
    /* -1 is no uint32, 128 is out of range, 8 is not declared */
    if (i < 0 || i >= NB_NODES) {
        return "the node is not declared";
    }
    return NULL;
}

/* Linking generic initiator @self (-1: a new one) to @dev in @node */
static const char *gi_link_error(Fuzz *f, int self, const char *dev,
                                 int node)
{
    int d = dev_index(dev), i;

    if (d < 0 || f->gone[d]) {
        return "no PCI device has this id";
    }
    for (i = 0; i < nb_ids(GI); i++) {
        QDict *p = f->objs[GI][i];

        if (i != self && p && qdict_get_int(p, "node") == node &&
            !strcmp(qdict_get_str(p, "pci-dev"), dev)) {
            return "another generic initiator links the device to the node";
        }
    }
    return NULL;
}

/* Making @bus the bridge of generic port @self (-1: a new one) */
static const char *gp_link_error(Fuzz *f, int self, const char *bus)
{
    int d = dev_index(bus), i;

    if (d < 0 || devices[d].uid < 0 || f->gone[d]) {
        return "no CXL host bridge has this bus";
    }
    for (i = 0; i < nb_ids(GP); i++) {
        if (i != self && f->objs[GP][i] &&
            !strcmp(qdict_get_str(f->objs[GP][i], "pci-bus"), bus)) {
            return "another generic port has the bridge";
        }
    }
    return NULL;
}

/*
 * May generic initiator or port @i of kind @k leave its node (object-del,
 * or qom-set of node)?  Not if HMAT names the node as an initiator
 * (target) and the node would stop being one without it: a node is an
 * initiator if it has vCPUs or at least one generic initiator, a target
 * if it has memory or at least one generic port.
 */
static const char *leave_error(Fuzz *f, int k, int i)
{
    int node = qdict_get_int(f->objs[k][i], "node");

    if (node_has_vcpus_and_memory(node) || node_count(f, k, node) > 1) {
        return NULL;
    }
    if (k == GI && hmat_initiator(node)) {
        return "HMAT names the node as an initiator only through it";
    }
    if (k == GP && hmat_target(node)) {
        return "HMAT names the node as a target only through it";
    }
    return NULL;
}

/*
 * A host-cpus (@cpus) or host-nodes list.  QEMU may run on the CPUs this
 * process may run on (it inherits them).  The only host nodes generated
 * are host_node, whose CPUs this process may use (QEMU is built with
 * libnuma, which reads the same sysfs), and 1000, which no host has.
 */
static const char *host_set_error(Fuzz *f, QObject *v, bool cpus)
{
    QList *l = qobject_to(QList, v);
    QListEntry *e;

    if (!l) {
        return "a host set is not a list";
    }
    if (qlist_empty(l)) {
        return "a host set is empty";
    }
    QLIST_FOREACH_ENTRY(l, e) {
        int64_t x = qnum_get_int(qobject_to(QNum, qlist_entry_obj(e)));

        if (cpus && (x < 0 || x >= CPU_SETSIZE ||
                     !CPU_ISSET(x, &allowed_set))) {
            return "QEMU may not run on a host CPU";
        }
        if (!cpus && (f->host_node < 0 || x != f->host_node)) {
            return "a host node has no CPU that QEMU may run on";
        }
    }
    return NULL;
}

/* A new vcpu-affinity or emulator-affinity rule (@k) made with @args */
static const char *rule_add_error(Fuzz *f, int k, QDict *args)
{
    bool vcpus = qdict_haskey(args, "vcpus"), node = qdict_haskey(args, "node");
    bool hc = qdict_haskey(args, "host-cpus");
    bool hn = qdict_haskey(args, "host-nodes");
    const char *why;
    QListEntry *e;
    int i, v;

    if (vcpus) {
        if (qlist_empty(qdict_get_qlist(args, "vcpus"))) {
            return "vcpus is empty";
        }
        QLIST_FOREACH_ENTRY(qdict_get_qlist(args, "vcpus"), e) {
            if (qnum_get_int(qobject_to(QNum, qlist_entry_obj(e))) >=
                NB_VCPUS) {
                return "a vCPU does not exist";
            }
        }
    }
    if (node) {
        why = node_error(qdict_get(args, "node"));
        if (why) {
            return why;
        }
        if (!node_has_vcpus_and_memory(qdict_get_int(args, "node"))) {
            return "the guest node has no vCPUs";
        }
    }
    if (vcpus && node) {
        return "vcpus and node";
    }
    if (hc && hn) {
        return "host-cpus and host-nodes";
    }
    if (!hc && !hn) {
        /* automatic placement needs a bound memdev: m0 and m1 are not */
        return "no host set";
    }
    why = host_set_error(f, qdict_get(args, hc ? "host-cpus" : "host-nodes"),
                         hc);
    if (why) {
        return why;
    }
    /* one rule per vCPU, one per node, one default, one emulator rule */
    for (i = 0; i < nb_ids(k); i++) {
        QDict *p = f->objs[k][i];

        if (!p) {
            continue;
        }
        if (k == EA) {
            return "an emulator rule exists";
        }
        if (vcpus) {
            for (v = 0; v < NB_VCPUS; v++) {
                if (list_has(args, "vcpus", v) && list_has(p, "vcpus", v)) {
                    return "another rule places a vCPU";
                }
            }
        } else if (node) {
            if (qdict_haskey(p, "node") &&
                qdict_get_int(p, "node") == qdict_get_int(args, "node")) {
                return "another rule places the node";
            }
        } else if (is_default_rule(p)) {
            return "a default rule exists";
        }
    }
    return NULL;
}

/* object-add of kind @k, id @i, with @args */
static const char *add_error(Fuzz *f, int k, int i, QDict *args)
{
    const char *link = kinds[k].props[0];
    const char *why;
    int j;

    if (f->objs[k][i]) {
        return "the id exists";
    }
    switch (k) {
    case GI:
    case GP:
        if (!qdict_haskey(args, link) || !qdict_haskey(args, "node")) {
            return "a property is missing";
        }
        why = node_error(qdict_get(args, "node"));
        if (why) {
            return why;
        }
        return k == GI ? gi_link_error(f, -1, qdict_get_str(args, link),
                                       qdict_get_int(args, "node"))
                       : gp_link_error(f, -1, qdict_get_str(args, link));
    case VA:
    case EA:
        return rule_add_error(f, k, args);
    default:
        for (j = 0; j < nb_ids(CM); j++) {
            if (f->objs[CM][j]) {
                return "a cache-monitor exists";
            }
        }
        /* the default, /sys/fs/resctrl: only tried where there is none */
        if (!qdict_haskey(args, "resctrl") ||
            strcmp(qdict_get_str(args, "resctrl"), f->resctrl)) {
            return "no resctrl filesystem at the path";
        }
        return NULL;
    }
}

/* qom-set of @prop of object @i of kind @k to @v */
static const char *set_error(Fuzz *f, int k, int i, const char *prop,
                             QObject *v)
{
    QDict *p = f->objs[k][i];
    const char *why;

    if (!p) {
        return "there is no such object";
    }
    if (!strcmp(prop, "no-such-property")) {
        return "there is no such property";
    }
    switch (k) {
    case GI:
    case GP:
        if (strcmp(prop, "node")) {
            return k == GI ? gi_link_error(f, i, qstring_get_str(
                                               qobject_to(QString, v)),
                                           qdict_get_int(p, "node"))
                           : gp_link_error(f, i, qstring_get_str(
                                               qobject_to(QString, v)));
        }
        why = node_error(v);
        if (why || qdict_get_int(p, "node") == qnum_get_int(
                qobject_to(QNum, v))) {
            return why;
        }
        why = k == GI ? gi_link_error(f, i, qdict_get_str(p, "pci-dev"),
                                      qnum_get_int(qobject_to(QNum, v)))
                      : NULL;
        return why ? why : leave_error(f, k, i);
    case VA:
    case EA:
        if (!g_str_has_prefix(prop, "host-")) {
            return "vcpus and node cannot change";
        }
        return host_set_error(f, v, !strcmp(prop, "host-cpus"));
    default:
        return "a cache-monitor cannot change once its groups exist";
    }
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

/*
 * The objects of our types in @list (qom-list of /objects) are the
 * model's
 */
static void check_object_list(Fuzz *f, QList *list, bool seen[][4])
{
    QListEntry *e;
    int k, i;

    QLIST_FOREACH_ENTRY(list, e) {
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
    for (k = 0; k < NB_KINDS; k++) {
        for (i = 0; i < nb_ids(k); i++) {
            if (f->objs[k][i] && !seen[k][i]) {
                fuzz_fail(f, "%s '%s' is missing", kinds[k].type,
                          kinds[k].ids[i]);
            }
        }
    }
}

/* What qom-get of @prop of object @i of kind @k must give */
static QObject *expected_value(Fuzz *f, int k, int i, const char *prop)
{
    QObject *v = qdict_get(f->objs[k][i], prop);

    if (v) {
        return qobject_ref(v);
    }
    /* a rule made without vcpus or node reads back [] and 0 */
    g_assert(k == VA);
    return !strcmp(prop, "vcpus") ? QOBJECT(qlist_new())
                                  : QOBJECT(qnum_from_int(0));
}

static void check_value(Fuzz *f, int k, int i, const char *prop,
                        QObject *got)
{
    QObject *want = expected_value(f, k, i, prop);

    if (!qobject_is_equal(got, want)) {
        g_autoptr(GString) a = qobject_to_json(got);
        g_autoptr(GString) b = qobject_to_json(want);

        fuzz_fail(f, "%s '%s': %s is %s, expected %s", kinds[k].type,
                  kinds[k].ids[i], prop, a->str, b->str);
    }
    qobject_unref(want);
}

/*
 * The objects of our types, and every property of theirs.  The HMAT that
 * the command line gives names node 2 as an initiator and node 3 as a
 * target: neither may lose the last object that makes it one.
 */
static void check_objects(Fuzz *f)
{
    QDict *rsp = qtest_qmp(f->qts, "{ 'execute': 'qom-list', 'arguments':"
                           " { 'path': '/objects' } }");
    bool seen[NB_KINDS][4] = {};
    int k, i, n;

    check_object_list(f, qdict_get_qlist(rsp, "return"), seen);
    qobject_unref(rsp);
    if (!node_count(f, GI, 2) || !node_count(f, GP, 3)) {
        fuzz_fail(f, "node 2 has lost its last generic initiator, or node 3 "
                  "its last generic port, while HMAT names them");
    }

    for (k = 0; k < NB_KINDS; k++) {
        for (i = 0; i < nb_ids(k); i++) {
            if (!f->objs[k][i]) {
                continue;
            }
            for (n = 0; n < ARRAY_SIZE(kinds[k].props) && kinds[k].props[n];
                 n++) {
                QObject *got = qom_get(f, kinds[k].ids[i], kinds[k].props[n]);

                check_value(f, k, i, kinds[k].props[n], got);
                qobject_unref(got);
            }
        }
    }
}

/* Does -device ...,id=@id exist? */
static bool device_exists(Fuzz *f, const char *id)
{
    g_autofree char *path = g_strdup_printf("/machine/peripheral/%s", id);
    QDict *rsp = qtest_qmp(f->qts, "{ 'execute': 'qom-get', 'arguments':"
                           " { 'path': %s, 'property': 'type' } }", path);
    bool exists = qdict_haskey(rsp, "return");

    qobject_unref(rsp);
    return exists;
}

/* The devices are those of the model: -device ones not removed */
static void check_devices(Fuzz *f)
{
    QDict *rsp = qtest_qmp(f->qts, "{ 'execute': 'qom-list', 'arguments':"
                           " { 'path': '/machine/peripheral' } }");
    bool seen[ARRAY_SIZE(devices)] = {};
    QListEntry *e;
    int d;

    QLIST_FOREACH_ENTRY(qdict_get_qlist(rsp, "return"), e) {
        d = dev_index(qdict_get_str(qobject_to(QDict, qlist_entry_obj(e)),
                                    "name"));
        if (d >= 0) {
            seen[d] = true;
        }
    }
    qobject_unref(rsp);
    for (d = 0; d < ARRAY_SIZE(devices); d++) {
        if (seen[d] == f->gone[d]) {
            fuzz_fail(f, "device %s %s", devices[d].id,
                      f->gone[d] ? "exists, but device_del removed it"
                                 : "is missing");
        }
    }
}

/*
 * A reply of query-vcpu-affinity: each vCPU's rule and host CPUs, and the
 * emulator threads' (the main thread's, which answers)
 */
static void check_affinity_reply(Fuzz *f, QDict *ret, const int *tids)
{
    const char *emu_id;
    QDict *emu = emulator_rule(f, &emu_id);
    g_autofree char *emu_cpus = rule_cpus(f, emu);
    QDict *e = qdict_get_qdict(ret, "emulator");
    QListEntry *le;
    cpu_set_t set;
    int n = 0;

    QLIST_FOREACH_ENTRY(qdict_get_qlist(ret, "vcpus"), le) {
        QDict *v = qobject_to(QDict, qlist_entry_obj(le));
        int index = qdict_get_int(v, "cpu-index"), r;
        const char *want, *got;
        g_autofree char *want_cpus = NULL;
        g_autofree char *got_cpus = NULL;
        QListEntry *c;

        if (index != n++) {
            fuzz_fail(f, "query-vcpu-affinity: vCPU %d listed as %d", n - 1,
                      index);
        }
        r = vcpu_rule(f, index);
        want = r < 0 ? "" : kinds[VA].ids[r];
        got = qdict_haskey(v, "rule") ? qdict_get_str(v, "rule") : "";
        if (strcmp(got, want)) {
            fuzz_fail(f, "query-vcpu-affinity: vCPU %d has rule '%s', "
                      "expected '%s'", index, got, want);
        }
        if (qdict_get_try_int(v, "thread-id", -1) != tids[index]) {
            fuzz_fail(f, "query-vcpu-affinity: vCPU %d has thread %" PRId64
                      ", query-cpus-fast says %d", index,
                      qdict_get_try_int(v, "thread-id", -1), tids[index]);
        }
        if (!qdict_haskey(v, "affinity")) {
            fuzz_fail(f, "query-vcpu-affinity: vCPU %d has no affinity",
                      index);
        }
        CPU_ZERO(&set);
        QLIST_FOREACH_ENTRY(qdict_get_qlist(v, "affinity"), c) {
            CPU_SET(qnum_get_int(qobject_to(QNum, qlist_entry_obj(c))), &set);
        }
        want_cpus = rule_cpus(f, r < 0 ? NULL : f->objs[VA][r]);
        got_cpus = set_to_list(&set);
        if (strcmp(got_cpus, want_cpus)) {
            fuzz_fail(f, "query-vcpu-affinity: vCPU %d on %s, expected %s",
                      index, got_cpus, want_cpus);
        }
    }
    if (n != NB_VCPUS) {
        fuzz_fail(f, "query-vcpu-affinity lists %d vCPUs", n);
    }
    if (g_strcmp0(qdict_get_try_str(e, "rule"), emu_id)) {
        fuzz_fail(f, "query-vcpu-affinity: the emulator threads have rule "
                  "'%s', expected '%s'", qdict_get_try_str(e, "rule") ?: "",
                  emu_id ?: "");
    }
    if (!qdict_haskey(e, "affinity")) {
        fuzz_fail(f, "query-vcpu-affinity: the emulator threads have no "
                  "affinity");
    }
    CPU_ZERO(&set);
    QLIST_FOREACH_ENTRY(qdict_get_qlist(e, "affinity"), le) {
        CPU_SET(qnum_get_int(qobject_to(QNum, qlist_entry_obj(le))), &set);
    }
    {
        g_autofree char *got = set_to_list(&set);

        if (strcmp(got, emu_cpus)) {
            fuzz_fail(f, "query-vcpu-affinity: the emulator threads run on "
                      "%s, expected %s", got, emu_cpus);
        }
    }
}

/* Where each thread runs, and query-vcpu-affinity's rules */
static void check_threads(Fuzz *f)
{
    int tids[NB_VCPUS], i;
    g_autofree char *task = g_strdup_printf("/proc/%d/task", f->pid);
    g_autofree char *emulator = NULL;
    const char *name;
    QDict *rsp;
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
    check_affinity_reply(f, qdict_get_qdict(rsp, "return"), tids);
    qobject_unref(rsp);

    emulator = rule_cpus(f, emulator_rule(f, &name));
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

/* The cache-monitor of the model, with its resctrl at f->resctrl, or -1 */
static int cache_monitor(Fuzz *f)
{
    int i;

    for (i = 0; i < nb_ids(CM); i++) {
        if (f->objs[CM][i] &&
            !strcmp(qdict_get_str(f->objs[CM][i], "resctrl"), f->resctrl)) {
            return i;
        }
    }
    return -1;
}

/* The groups cache-monitor @i makes: qemu-PID-ID-emulator first */
static GPtrArray *cm_groups(Fuzz *f, int i)
{
    GPtrArray *want = g_ptr_array_new_with_free_func(g_free);
    const char *id = kinds[CM].ids[i];
    int j;

    g_ptr_array_add(want, g_strdup_printf("qemu-%d-%s-emulator", f->pid, id));
    if (!qdict_get_bool(f->objs[CM][i], "per-vcpu")) {
        g_ptr_array_add(want, g_strdup_printf("qemu-%d-%s-vcpus", f->pid, id));
    }
    for (j = 0; qdict_get_bool(f->objs[CM][i], "per-vcpu") && j < NB_VCPUS;
         j++) {
        g_ptr_array_add(want, g_strdup_printf("qemu-%d-%s-vcpu%d", f->pid, id,
                                              j));
    }
    return want;
}

/* The LLC occupancy the test gives group @n of a cache-monitor */
#define OCCUPANCY(n) (1000 + 10 * (n))

/*
 * What the kernel would count in each group: one L3 domain, its LLC
 * occupancy (the tree monitors that feature only)
 */
static void cm_fill_counters(Fuzz *f, int i)
{
    g_autoptr(GPtrArray) groups = cm_groups(f, i);
    int n;

    for (n = 0; n < groups->len; n++) {
        g_autofree char *dir = g_build_filename(f->resctrl, "mon_groups",
                                                groups->pdata[n], "mon_data",
                                                "mon_L3_00", NULL);
        g_autofree char *file = g_build_filename(dir, "llc_occupancy", NULL);
        g_autofree char *value = g_strdup_printf("%d\n", OCCUPANCY(n));

        g_assert_cmpint(g_mkdir_with_parents(dir, 0755), ==, 0);
        g_assert_true(g_file_set_contents(file, value, -1, NULL));
    }
}

/* What query-stats gives for the VM: the sum over the groups */
static int cm_occupancy(Fuzz *f, int i)
{
    g_autoptr(GPtrArray) groups = cm_groups(f, i);
    int n, sum = 0;

    for (n = 0; n < groups->len; n++) {
        sum += OCCUPANCY(n);
    }
    return sum;
}

/* The cache-monitor's groups, qemu-PID-ID-*, exist exactly while it does */
static void check_groups(Fuzz *f)
{
    g_autofree char *groups = g_build_filename(f->resctrl, "mon_groups",
                                               NULL);
    g_autoptr(GPtrArray) want = NULL;
    g_autoptr(GPtrArray) got = g_ptr_array_new_with_free_func(g_free);
    GDir *dir = g_dir_open(groups, 0, NULL);
    const char *name;
    int i = cache_monitor(f);

    want = i < 0 ? g_ptr_array_new() : cm_groups(f, i);
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

/*
 * Run @args (a QDict, taken) as @command; its reply, which has a return
 * or an error (kept in f->error)
 */
static QDict *run_rsp(Fuzz *f, const char *command, QDict *args)
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
    g_free(f->error);
    f->error = ok ? NULL : g_strdup(qdict_get_str(qdict_get_qdict(rsp,
                                                                  "error"),
                                                  "desc"));
    if (f->verbose) {
        fprintf(stderr, " -> %s\n", ok ? "ok" : f->error);
    }
    return rsp;
}

/* Run @args (a QDict, taken) as @command; true if it succeeded */
static bool run(Fuzz *f, const char *command, QDict *args)
{
    QDict *rsp = run_rsp(f, command, args);
    bool ok = qdict_haskey(rsp, "return");

    qobject_unref(rsp);
    return ok;
}

/* The command must fail if @why (the model's reason), else succeed */
static void expect(Fuzz *f, bool ok, const char *why)
{
    if (ok && why) {
        fuzz_fail(f, "succeeded, but must fail: %s", why);
    }
    if (!ok && !why) {
        fuzz_fail(f, "failed, but must succeed: %s", f->error);
    }
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
    QDict *args = qdict_new();
    const char *why;
    bool ok;

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
        /*
         * Without resctrl, QEMU takes the host's /sys/fs/resctrl: only
         * where there is none, so that the test knows the outcome and
         * makes no group on the host
         */
        if (chance(f, 95) || f->host_resctrl) {
            qdict_put_obj(args, "resctrl", gen_value(f, "resctrl"));
        }
        if (chance(f, 50)) {
            qdict_put_obj(args, "per-vcpu", gen_value(f, "per-vcpu"));
        }
        break;
    }
    why = add_error(f, k, i, args);
    ok = run(f, "object-add", qobject_ref(args));
    expect(f, ok, why);
    if (ok) {
        f->objs[k][i] = expected_props(k, args);
        f->tables_dirty |= k == GI || k == GP;
        if (k == CM) {
            cm_fill_counters(f, i);
        }
    }
    qobject_unref(args);
}

static void step_object_del(Fuzz *f)
{
    int k = pick(f, NB_KINDS), i = pick(f, nb_ids(k));
    QDict *args = qdict_new();
    const char *why = NULL;

    if (!f->objs[k][i]) {
        why = "there is no such object";
    } else if (k == GI || k == GP) {
        why = leave_error(f, k, i);
    }
    qdict_put_str(args, "id", kinds[k].ids[i]);
    if (run(f, "object-del", args)) {
        expect(f, true, why);
        qobject_unref(f->objs[k][i]);
        f->objs[k][i] = NULL;
        f->tables_dirty |= k == GI || k == GP;
    } else {
        expect(f, false, why);
    }
}

static void step_qom_set(Fuzz *f)
{
    int k = pick(f, NB_KINDS), i = pick(f, nb_ids(k)), n;
    g_autofree char *path = g_strdup_printf("/objects/%s", kinds[k].ids[i]);
    const char *prop, *why;
    QDict *args = qdict_new();
    QObject *value;
    bool ok;

    for (n = 0; n < ARRAY_SIZE(kinds[k].props) && kinds[k].props[n]; n++) {
        ;
    }
    prop = chance(f, 3) ? "no-such-property" : kinds[k].props[pick(f, n)];
    value = gen_value(f, prop);
    why = set_error(f, k, i, prop, value);
    qdict_put_str(args, "path", path);
    qdict_put_str(args, "property", prop);
    qdict_put_obj(args, "value", qobject_ref(value));
    ok = run(f, "qom-set", args);
    expect(f, ok, why);
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
    const char *prop = kinds[k].props[pick(f, 2)];
    g_autofree char *path = g_strdup_printf("/objects/%s", kinds[k].ids[i]);
    QDict *args = qdict_new(), *rsp;

    qdict_put_str(args, "path", path);
    qdict_put_str(args, "property", prop);
    rsp = run_rsp(f, "qom-get", args);
    expect(f, qdict_haskey(rsp, "return"),
           f->objs[k][i] ? NULL : "there is no such object");
    if (f->objs[k][i]) {
        check_value(f, k, i, prop, qdict_get(rsp, "return"));
    }
    qobject_unref(rsp);
}

/*
 * Be the guest's ACPI PCI hotplug code (ICH9's registers at 0xcc0): eject
 * the slot of device @d, whose bus QEMU gave hotplug select @bsel, as the
 * guest does when device_del asks it to
 */
#define ACPI_PCIHP_ICH9     0xcc0
#define PCIHP_EJ            0x08
#define PCIHP_SEL           0x10

static void eject(Fuzz *f, int d)
{
    g_autofree char *bus = g_strdup_printf("/machine/peripheral/%s/%s",
                                           devices[d].port, devices[d].port);
    QDict *rsp = qtest_qmp(f->qts, "{ 'execute': 'qom-get', 'arguments':"
                           " { 'path': %s, 'property': 'acpi-pcihp-bsel' } }",
                           bus);
    QDict *ev;

    if (!qdict_haskey(rsp, "return")) {
        fuzz_fail(f, "bus %s has no ACPI hotplug select", bus);
    }
    qtest_outl(f->qts, ACPI_PCIHP_ICH9 + PCIHP_SEL,
               qdict_get_int(rsp, "return"));
    qobject_unref(rsp);
    /* every device on the port's bus is in slot 0 */
    qtest_outl(f->qts, ACPI_PCIHP_ICH9 + PCIHP_EJ, 1);
    /* the eject removes the device at once, and sends the event then */
    if (device_exists(f, devices[d].id)) {
        fuzz_fail(f, "device %s is still there after the guest ejected it",
                  devices[d].id);
    }
    ev = qtest_qmp_eventwait_ref(f->qts, "DEVICE_DELETED");
    if (g_strcmp0(qdict_get_try_str(qdict_get_qdict(ev, "data"), "device"),
                  devices[d].id)) {
        fuzz_fail(f, "DEVICE_DELETED names another device");
    }
    qobject_unref(ev);
}

/*
 * device_del of a device, or device_add of one that device_del removed.
 * A device on pcie.0 cannot be unplugged (q35 has no hotplug there), nor
 * one that a generic initiator or port links; one behind a root port is
 * unplugged when the guest ejects it, which the test does.
 */
static void step_device(Fuzz *f)
{
    int d = pick(f, ARRAY_SIZE(devices));
    QDict *args = qdict_new();
    bool ok;

    qdict_put_str(args, "id", devices[d].id);
    if (f->gone[d]) {
        qdict_put_str(args, "driver", devices[d].driver);
        qdict_put_str(args, "bus", devices[d].port);
        expect(f, run(f, "device_add", args), NULL);
        f->gone[d] = false;
        return;
    }
    ok = run(f, "device_del", args);
    expect(f, ok, device_linked(f, devices[d].id) ?
           "a generic initiator or port links the device" :
           !devices[d].port ? "the device is on pcie.0" : NULL);
    if (ok) {
        eject(f, d);
        f->gone[d] = true;
    }
}

static void step_reset(Fuzz *f)
{
    expect(f, run(f, "system_reset", NULL), NULL);
    qtest_qmp_eventwait(f->qts, "RESET");
    f->migrated = false;
    f->tables_dirty = true;
}

/*
 * Migration to a file must work, except from a VM that a migration has
 * paused (postmigrate): QEMU refuses that until a reset
 */
static void step_migrate(Fuzz *f)
{
    g_autofree char *uri = g_strdup_printf("exec:cat > %s",
                                           f->migration_file);
    QDict *args = qdict_new(), *rsp;
    const char *status;
    bool ok;

    qdict_put_str(args, "uri", uri);
    ok = run(f, "migrate", args);
    expect(f, ok, f->migrated ? "a migration has paused the VM" : NULL);
    if (!ok) {
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

/* query-stats and info stats: the cache-monitor's LLC occupancy, summed */
static void check_stats_reply(Fuzz *f, QList *results)
{
    int i = cache_monitor(f), n = 0;
    QListEntry *e, *s;

    QLIST_FOREACH_ENTRY(results, e) {
        QDict *r = qobject_to(QDict, qlist_entry_obj(e));
        int got[2] = { -1, -1 };

        if (strcmp(qdict_get_str(r, "provider"), "resctrl")) {
            continue;
        }
        n++;
        QLIST_FOREACH_ENTRY(qdict_get_qlist(r, "stats"), s) {
            QDict *st = qobject_to(QDict, qlist_entry_obj(s));
            const char *name = qdict_get_str(st, "name");

            if (!strcmp(name, "llc-occupancy")) {
                got[0] = qdict_get_int(st, "value");
            } else if (!strcmp(name, "llc-occupancy-l3-0")) {
                got[1] = qdict_get_int(st, "value");
            }
        }
        if (i >= 0 && (got[0] != cm_occupancy(f, i) || got[1] != got[0])) {
            fuzz_fail(f, "query-stats: LLC occupancy %d (L3 domain 0: %d), "
                      "expected %d", got[0], got[1], cm_occupancy(f, i));
        }
    }
    if (n != (i >= 0)) {
        fuzz_fail(f, "query-stats has %d resctrl results, expected %d", n,
                  i >= 0);
    }
}

/* query-stats-schemas: resctrl's for the VM, and per vCPU with per-vcpu */
static void check_schemas_reply(Fuzz *f, QList *schemas)
{
    int i = cache_monitor(f);
    bool vm = false, vcpu = false;
    QListEntry *e;

    QLIST_FOREACH_ENTRY(schemas, e) {
        QDict *sc = qobject_to(QDict, qlist_entry_obj(e));
        g_autoptr(GString) names = g_string_new(NULL);
        QListEntry *v;

        if (strcmp(qdict_get_str(sc, "provider"), "resctrl")) {
            continue;
        }
        QLIST_FOREACH_ENTRY(qdict_get_qlist(sc, "stats"), v) {
            g_string_append_printf(names, " %s", qdict_get_str(
                qobject_to(QDict, qlist_entry_obj(v)), "name"));
        }
        if (strcmp(names->str, " llc-occupancy llc-occupancy-l3-0")) {
            fuzz_fail(f, "query-stats-schemas: resctrl has%s", names->str);
        }
        vm |= !strcmp(qdict_get_str(sc, "target"), "vm");
        vcpu |= !strcmp(qdict_get_str(sc, "target"), "vcpu");
    }
    if (vm != (i >= 0) ||
        vcpu != (i >= 0 && qdict_get_bool(f->objs[CM][i], "per-vcpu"))) {
        fuzz_fail(f, "query-stats-schemas: resctrl for the VM %s, per vCPU "
                  "%s", vm ? "yes" : "no", vcpu ? "yes" : "no");
    }
}

/* HMP info vcpu-affinity: one line per vCPU, then the emulator threads */
static void check_info_vcpu_affinity(Fuzz *f, const char *text)
{
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    const char *emu_id;
    QDict *emu = emulator_rule(f, &emu_id);
    g_autofree char *emu_cpus = rule_cpus(f, emu);
    g_autofree char *emu_line = g_strdup_printf(
        "emulator threads: %s, rule %s", emu_cpus,
        emu_id ? emu_id : "(start set)");
    int i;

    if (g_strv_length(lines) < NB_VCPUS + 2 ||
        !g_str_has_prefix(lines[0], "vCPU ")) {
        fuzz_fail(f, "info vcpu-affinity: %s", text);
    }
    for (i = 0; i < NB_VCPUS; i++) {
        int r = vcpu_rule(f, i), index = -1, end = 0;
        g_autofree char *cpus = rule_cpus(f, r < 0 ? NULL : f->objs[VA][r]);
        char aff[64];

        if (sscanf(lines[i + 1], "%d %*s %*s %*s %*s %63s %n", &index, aff,
                   &end) != 2 || index != i || strcmp(aff, cpus) ||
            strcmp(lines[i + 1] + end, r < 0 ? "(start set)"
                                             : kinds[VA].ids[r])) {
            fuzz_fail(f, "info vcpu-affinity: '%s', expected vCPU %d on %s, "
                      "rule %s", lines[i + 1], i, cpus,
                      r < 0 ? "(start set)" : kinds[VA].ids[r]);
        }
    }
    if (strcmp(lines[NB_VCPUS + 1], emu_line)) {
        fuzz_fail(f, "info vcpu-affinity: '%s', expected '%s'",
                  lines[NB_VCPUS + 1], emu_line);
    }
}

/* HMP info stats vm: resctrl's LLC occupancy, or nothing of resctrl */
static void check_info_stats(Fuzz *f, const char *text)
{
    int i = cache_monitor(f);
    g_autofree char *want = i < 0 ? NULL : g_strdup_printf(
        "provider: resctrl\n    llc-occupancy (instant, B): %d\n"
        "    llc-occupancy-l3-0 (instant, B): %d\n", cm_occupancy(f, i),
        cm_occupancy(f, i));

    if (i < 0 ? strstr(text, "resctrl") != NULL : !strstr(text, want)) {
        fuzz_fail(f, "info stats vm: '%s', expected '%s'", text,
                  want ? want : "nothing of resctrl");
    }
}

/* HMP info numa: what the command line gives */
static void check_info_numa(Fuzz *f, const char *text)
{
    g_autoptr(GString) want = g_string_new(NULL);
    int n, c;

    g_string_append_printf(want, "%d nodes\n", NB_NODES);
    for (n = 0; n < NB_NODES; n++) {
        g_string_append_printf(want, "node %d cpus:", n);
        for (c = 0; c < NB_VCPUS; c++) {
            if (c / 2 == n) {
                g_string_append_printf(want, " %d", c);
            }
        }
        g_string_append_printf(want, "\nnode %d size: %d MB\n"
                               "node %d plugged: 0 MB\n", n,
                               node_has_vcpus_and_memory(n) ? 128 : 0, n);
    }
    if (strcmp(text, want->str)) {
        fuzz_fail(f, "info numa: '%s', expected '%s'", text, want->str);
    }
}

/*
 * A query, whose reply must be what the model says.  None of them may
 * fail: qom-list of an object only fails when the object does not exist.
 */
static void step_query(Fuzz *f)
{
    static const char *const hmp[] = {
        "info vcpu-affinity", "info stats vm", "info numa",
    };
    int k = pick(f, NB_KINDS), i = pick(f, nb_ids(k)), n, tids[NB_VCPUS];
    bool seen[NB_KINDS][4] = {};
    g_autofree char *path = NULL;
    g_autofree char *text = NULL;
    const char *cmd;
    QDict *args = NULL, *rsp;
    QListEntry *e;

    switch (pick(f, 7)) {
    case 0:
        rsp = run_rsp(f, "query-vcpu-affinity", NULL);
        expect(f, qdict_haskey(rsp, "return"), NULL);
        vcpu_threads(f->qts, tids, NB_VCPUS);
        check_affinity_reply(f, qdict_get_qdict(rsp, "return"), tids);
        break;
    case 1:
        args = qdict_new();
        qdict_put_str(args, "target", "vm");
        rsp = run_rsp(f, "query-stats", args);
        expect(f, qdict_haskey(rsp, "return"), NULL);
        check_stats_reply(f, qdict_get_qlist(rsp, "return"));
        break;
    case 2:
        rsp = run_rsp(f, "query-stats-schemas", NULL);
        expect(f, qdict_haskey(rsp, "return"), NULL);
        check_schemas_reply(f, qdict_get_qlist(rsp, "return"));
        break;
    case 3:
        args = qdict_new();
        qdict_put_str(args, "path", "/objects");
        rsp = run_rsp(f, "qom-list", args);
        expect(f, qdict_haskey(rsp, "return"), NULL);
        check_object_list(f, qdict_get_qlist(rsp, "return"), seen);
        break;
    case 4:
        /* an object's properties: the model's are there (others may be) */
        args = qdict_new();
        path = g_strdup_printf("/objects/%s", kinds[k].ids[i]);
        qdict_put_str(args, "path", path);
        rsp = run_rsp(f, "qom-list", args);
        expect(f, qdict_haskey(rsp, "return"),
               f->objs[k][i] ? NULL : "there is no such object");
        for (n = 0; f->objs[k][i] && n < ARRAY_SIZE(kinds[k].props) &&
             kinds[k].props[n]; n++) {
            bool found = false;

            QLIST_FOREACH_ENTRY(qdict_get_qlist(rsp, "return"), e) {
                found |= !strcmp(qdict_get_str(qobject_to(QDict,
                                     qlist_entry_obj(e)), "name"),
                                 kinds[k].props[n]);
            }
            if (!found) {
                fuzz_fail(f, "qom-list does not list %s", kinds[k].props[n]);
            }
        }
        break;
    case 5:
        rsp = run_rsp(f, "query-cpus-fast", NULL);
        expect(f, qdict_haskey(rsp, "return"), NULL);
        n = 0;
        QLIST_FOREACH_ENTRY(qdict_get_qlist(rsp, "return"), e) {
            QDict *cpu = qobject_to(QDict, qlist_entry_obj(e));

            if (qdict_get_int(cpu, "cpu-index") != n ||
                qdict_get_int(qdict_get_qdict(cpu, "props"), "node-id") !=
                n / 2 || qdict_get_int(cpu, "thread-id") <= 0) {
                fuzz_fail(f, "query-cpus-fast: vCPU %d is not vCPU %d of "
                          "node %d, or has no thread", n, n, n / 2);
            }
            n++;
        }
        if (n != NB_VCPUS) {
            fuzz_fail(f, "query-cpus-fast lists %d vCPUs", n);
        }
        break;
    default:
        cmd = hmp[pick(f, ARRAY_SIZE(hmp))];
        args = qdict_new();
        qdict_put_str(args, "command-line", cmd);
        rsp = run_rsp(f, "human-monitor-command", args);
        expect(f, qdict_haskey(rsp, "return"), NULL);
        /* the monitor ends its lines with \r\n */
        text = g_strdup(qstring_get_str(qobject_to(QString,
                                                   qdict_get(rsp, "return"))));
        for (n = 0, i = 0; text[i]; i++) {
            if (text[i] != '\r') {
                text[n++] = text[i];
            }
        }
        text[n] = 0;
        if (strstr(text, "Error")) {
            fuzz_fail(f, "%s: %s", cmd, text);
        }
        if (cmd == hmp[0]) {
            check_info_vcpu_affinity(f, text);
        } else if (cmd == hmp[1]) {
            check_info_stats(f, text);
        } else {
            check_info_numa(f, text);
        }
        break;
    }
    qobject_unref(rsp);
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
        step_device(f);
    } else if (r < 87) {
        step_reset(f);
    } else if (r < 88) {
        step_migrate(f);
    } else {
        step_query(f);
    }
    check_alive(f);
    check_objects(f);
    check_devices(f);
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
    f.host_resctrl = g_file_test("/sys/fs/resctrl/mon_groups",
                                 G_FILE_TEST_IS_DIR);
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
    check_devices(&f);
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
    g_free(f.error);

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
