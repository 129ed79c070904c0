/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * acpi-generic-initiator: link a PCI device to a guest NUMA node
 *
 * Each object is one (device, node) link.  A GPU partitioned into N
 * instances gets N objects naming the same device and N nodes.
 *
 * Lifetime:
 *  - complete: both properties are set, no other object has the same link.
 *    Objects completed while the command line is processed are checked
 *    against the NUMA configuration and linked to their device once the
 *    command line's devices exist (acpi_generic_initiator_link_devices());
 *    later objects (object-add) are checked and linked at once.
 *  - linked: the device is referenced and cannot be unplugged; the node
 *    counts the link, so that it is a valid HMAT initiator.
 *  - qom-set of a property re-checks the new link and applies it whole, or
 *    fails and leaves everything as it was.
 * The tables are rebuilt from the links at the next guest reset.
 *
 * This file never lays table bytes: the SRAT builder asks
 * acpi_generic_initiator_list() for plain values.
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qapi/qmp/qstring.h"
#include "qapi/visitor.h"
#include "qemu/cutils.h"
#include "qom/object_interfaces.h"
#include "qom/qom-qobject.h"
#include "hw/acpi/generic_initiator.h"
#include "hw/boards.h"
#include "hw/pci/pci.h"
#include "hw/qdev-core.h"
#include "sysemu/numa.h"
#include "trace.h"

struct AcpiGenericInitiator {
    Object parent_obj;

    /* properties */
    char *pci_dev;
    uint32_t node;
    bool node_set;

    /*
     * completed: in the list of its node, gi_nodes[node], and counted in
     * the node's generic_initiators
     */
    bool registered;
    /*
     * The object's id, kept once linked: finding one object's id costs a
     * walk of /objects (object_get_canonical_path_component()), so the
     * command line's objects get theirs in one walk for all, and it is
     * needed after unparenting too.
     */
    char *id;
    /* the linked device, referenced; NULL until linked */
    PCIDevice *dev;
    Error *unplug_blocker;
    QTAILQ_ENTRY(AcpiGenericInitiator) next;
};

/*
 * The completed objects by node: an object is compared with those of its
 * node only, and the SRAT lists them in node order.
 */
typedef QTAILQ_HEAD(, AcpiGenericInitiator) GiList;
static GiList gi_nodes[MAX_NODES];
static size_t gi_count;

/* The command line's devices exist: objects are linked when completed. */
static bool gi_devices_created;

static const char *gi_id(AcpiGenericInitiator *gi)
{
    const char *id = gi->id ?: object_get_canonical_path_component(OBJECT(gi));

    return id ? id : "<unnamed>";
}

static NumaState *gi_numa_state(void)
{
    return current_machine ? current_machine->numa_state : NULL;
}

/* Is the machine's "acpi" property (OnOffAuto on pc, q35 and virt) off? */
static bool gi_machine_acpi_off(MachineState *ms)
{
    QObject *v = object_property_get_qobject(OBJECT(ms), "acpi", NULL);
    QString *str = qobject_to(QString, v);
    bool off = str && !strcmp(qstring_get_str(str), "off");

    qobject_unref(v);
    return off;
}

bool acpi_generic_affinity_check_node(const char *type, const char *id,
                                      uint32_t node, Error **errp)
{
    MachineState *ms = current_machine;
    NumaState *ns = ms->numa_state;
    /* the machine's properties are fixed by now: check them once */
    static bool acpi_ok;

    if (!acpi_ok && !object_property_find(OBJECT(ms), "acpi")) {
        error_setg(errp, "%s '%s': machine type '%s' has no ACPI tables",
                   type, id, object_get_typename(OBJECT(ms)));
        return false;
    }
    if (!acpi_ok && gi_machine_acpi_off(ms)) {
        error_setg(errp, "%s '%s': ACPI is disabled (-machine acpi=off or "
                   "-no-acpi)", type, id);
        return false;
    }
    acpi_ok = true;
    if (!ns->num_nodes) {
        error_setg(errp, "%s '%s': the machine has no NUMA nodes; declare "
                   "node %" PRIu32 " with -numa node,nodeid=%" PRIu32,
                   type, id, node, node);
        return false;
    }
    if (!ns->nodes[node].present) {
        error_setg(errp, "%s '%s': node %" PRIu32 " is not defined; "
                   "declare it with -numa node,nodeid=%" PRIu32,
                   type, id, node, node);
        return false;
    }
    return true;
}

/* Can @node be the proximity domain of a generic initiator now? */
static bool gi_check_node(AcpiGenericInitiator *gi, uint32_t node,
                          Error **errp)
{
    return acpi_generic_affinity_check_node(TYPE_ACPI_GENERIC_INITIATOR,
                                            gi_id(gi), node, errp);
}

static PCIDevice *gi_find_device(AcpiGenericInitiator *gi, const char *id,
                                 Error **errp)
{
    static Object *peripheral;      /* -device ...,id= devices */
    Object *obj;
    PCIDevice *dev;

    if (!peripheral) {
        peripheral = container_get(qdev_get_machine(), "/peripheral");
    }
    /* a device id is one path component */
    obj = object_resolve_path_component(peripheral, id);
    if (!obj || !object_dynamic_cast(obj, TYPE_DEVICE)) {
        error_setg(errp, "acpi-generic-initiator '%s': pci-dev '%s': no "
                   "device has this id", gi_id(gi), id);
        return NULL;
    }
    dev = (PCIDevice *)object_dynamic_cast(obj, TYPE_PCI_DEVICE);
    if (!dev) {
        error_setg(errp, "acpi-generic-initiator '%s': pci-dev '%s' is a "
                   "'%s', not a PCI device", gi_id(gi), id,
                   object_get_typename(obj));
        return NULL;
    }
    return dev;
}

/*
 * Does another object link the same device to @node?  Linked objects are
 * compared by device, the others by the id they name.
 */
static bool gi_check_unique(AcpiGenericInitiator *gi, const char *id,
                            PCIDevice *dev, uint32_t node, Error **errp)
{
    AcpiGenericInitiator *o;

    QTAILQ_FOREACH(o, &gi_nodes[node], next) {
        if (o == gi) {
            continue;
        }
        if ((dev && o->dev) ? o->dev == dev : !strcmp(o->pci_dev, id)) {
            error_setg(errp, "acpi-generic-initiator '%s': pci-dev '%s' is "
                       "already linked to node %" PRIu32 " by '%s'",
                       gi_id(gi), id, node, gi_id(o));
            return false;
        }
    }
    return true;
}

/*
 * Would @gi's node stop being an initiator that the HMAT configuration
 * names (-numa node,initiator= or -numa hmat-lb,initiator=) without @gi?
 */
static bool gi_needed_as_initiator(AcpiGenericInitiator *gi, Error **errp)
{
    NumaState *ns = gi_numa_state();
    NodeInfo *n;
    int i, h, t;

    if (!gi->registered) {
        return false;
    }
    n = &ns->nodes[gi->node];
    if (n->has_cpu || n->generic_initiators > 1) {
        return false;
    }
    for (i = 0; i < ns->num_nodes; i++) {
        if (ns->nodes[i].initiator == gi->node) {
            goto needed;
        }
    }
    for (h = 0; h < HMAT_LB_LEVELS; h++) {
        for (t = 0; t < HMAT_LB_TYPES; t++) {
            HMAT_LB_Info *lb = ns->hmat_lb[h][t];

            for (i = 0; lb && i < lb->list->len; i++) {
                if (g_array_index(lb->list, HMAT_LB_Data, i).initiator ==
                    gi->node) {
                    goto needed;
                }
            }
        }
    }
    return false;

needed:
    error_setg(errp, "acpi-generic-initiator '%s': node %" PRIu32 " is an "
               "HMAT initiator only through this object", gi_id(gi),
               gi->node);
    return true;
}

static void gi_link(AcpiGenericInitiator *gi, PCIDevice *dev)
{
    gi->dev = dev;
    object_ref(OBJECT(dev));
    error_setg(&gi->unplug_blocker, "Device '%s' is linked to NUMA node %"
               PRIu32 " by acpi-generic-initiator '%s'; delete that object "
               "first", gi->pci_dev, gi->node, gi_id(gi));
    qdev_add_unplug_blocker(DEVICE(dev), gi->unplug_blocker);
    trace_acpi_generic_initiator_link(gi_id(gi), gi->pci_dev, gi->node);
}

static void gi_unlink(AcpiGenericInitiator *gi)
{
    if (!gi->dev) {
        return;
    }
    trace_acpi_generic_initiator_unlink(gi_id(gi), gi->pci_dev, gi->node);
    qdev_del_unplug_blocker(DEVICE(gi->dev), gi->unplug_blocker);
    error_free(gi->unplug_blocker);
    gi->unplug_blocker = NULL;
    object_unref(OBJECT(gi->dev));
    gi->dev = NULL;
}

/* Check a link of @gi to @id and @node; *@dev is the device once linkable */
static bool gi_check_link(AcpiGenericInitiator *gi, const char *id,
                          uint32_t node, PCIDevice **dev, Error **errp)
{
    *dev = NULL;
    if (gi_devices_created) {
        if (!gi_check_node(gi, node, errp)) {
            return false;
        }
        *dev = gi_find_device(gi, id, errp);
        if (!*dev) {
            return false;
        }
    }
    return gi_check_unique(gi, id, *dev, node, errp);
}

static char *gi_get_pci_dev(Object *obj, Error **errp)
{
    return g_strdup(ACPI_GENERIC_INITIATOR(obj)->pci_dev);
}

static void gi_set_pci_dev(Object *obj, const char *value, Error **errp)
{
    AcpiGenericInitiator *gi = ACPI_GENERIC_INITIATOR(obj);
    PCIDevice *dev = NULL;

    if (gi->registered &&
        !gi_check_link(gi, value, gi->node, &dev, errp)) {
        return;
    }
    gi_unlink(gi);
    g_free(gi->pci_dev);
    gi->pci_dev = g_strdup(value);
    if (gi->registered && dev) {
        gi_link(gi, dev);
    }
}

static void gi_get_node(Object *obj, Visitor *v, const char *name,
                        void *opaque, Error **errp)
{
    AcpiGenericInitiator *gi = ACPI_GENERIC_INITIATOR(obj);
    uint32_t value = gi->node;

    visit_type_uint32(v, name, &value, errp);
}

static void gi_set_node(Object *obj, Visitor *v, const char *name,
                        void *opaque, Error **errp)
{
    AcpiGenericInitiator *gi = ACPI_GENERIC_INITIATOR(obj);
    NumaState *ns = gi_numa_state();
    PCIDevice *dev;
    uint32_t value;

    if (!visit_type_uint32(v, name, &value, errp)) {
        return;
    }
    if (value >= MAX_NODES) {
        error_setg(errp, "acpi-generic-initiator '%s': node %" PRIu32
                   " is out of range; NUMA node ids are below %d",
                   gi_id(gi), value, MAX_NODES);
        return;
    }
    if (!gi->registered) {
        gi->node = value;
        gi->node_set = true;
        return;
    }
    if (value == gi->node) {
        return;
    }
    if (!gi_check_link(gi, gi->pci_dev, value, &dev, errp) ||
        gi_needed_as_initiator(gi, errp)) {
        return;
    }
    gi_unlink(gi);
    QTAILQ_REMOVE(&gi_nodes[gi->node], gi, next);
    ns->nodes[gi->node].generic_initiators--;
    gi->node = value;
    QTAILQ_INSERT_TAIL(&gi_nodes[gi->node], gi, next);
    ns->nodes[gi->node].generic_initiators++;
    if (dev) {
        gi_link(gi, dev);
    }
}

static void gi_complete(UserCreatable *uc, Error **errp)
{
    AcpiGenericInitiator *gi = ACPI_GENERIC_INITIATOR(uc);
    NumaState *ns = gi_numa_state();
    PCIDevice *dev;

    if (gi_devices_created) {
        /* object-add: link at once; at start-up, see link_devices() */
        gi->id = g_strdup(object_get_canonical_path_component(OBJECT(gi)));
    }
    if (!gi->pci_dev) {
        error_setg(errp, "acpi-generic-initiator '%s': property 'pci-dev' "
                   "is required", gi_id(gi));
        return;
    }
    if (!gi->node_set) {
        error_setg(errp, "acpi-generic-initiator '%s': property 'node' "
                   "is required", gi_id(gi));
        return;
    }
    if (!ns) {
        error_setg(errp, "acpi-generic-initiator '%s': machine type '%s' "
                   "does not support NUMA", gi_id(gi),
                   current_machine ?
                   object_get_typename(OBJECT(current_machine)) : "none");
        return;
    }
    if (!gi_check_link(gi, gi->pci_dev, gi->node, &dev, errp)) {
        return;
    }
    QTAILQ_INSERT_TAIL(&gi_nodes[gi->node], gi, next);
    gi_count++;
    ns->nodes[gi->node].generic_initiators++;
    gi->registered = true;
    if (dev) {
        gi_link(gi, dev);
    }
}

static bool gi_can_be_deleted(UserCreatable *uc)
{
    return !gi_needed_as_initiator(ACPI_GENERIC_INITIATOR(uc), NULL);
}

/* The ids of the command line's objects, in one walk of /objects */
static void gi_keep_ids(void)
{
    Object *root = object_get_objects_root();
    ObjectPropertyIterator iter;
    ObjectProperty *prop;
    AcpiGenericInitiator *gi;

    object_property_iter_init(&iter, root);
    while ((prop = object_property_iter_next(&iter))) {
        if (!strstart(prop->type, "child<", NULL)) {
            continue;
        }
        gi = (AcpiGenericInitiator *)object_dynamic_cast(
            object_resolve_path_component(root, prop->name),
            TYPE_ACPI_GENERIC_INITIATOR);
        if (gi && !gi->id) {
            gi->id = g_strdup(prop->name);
        }
    }
}

void acpi_generic_initiator_link_devices(Error **errp)
{
    AcpiGenericInitiator *gi;
    PCIDevice *dev;
    int node;

    gi_keep_ids();
    gi_devices_created = true;
    for (node = 0; node < MAX_NODES; node++) {
        QTAILQ_FOREACH(gi, &gi_nodes[node], next) {
            if (!gi_check_link(gi, gi->pci_dev, gi->node, &dev, errp)) {
                return;
            }
            gi_link(gi, dev);
        }
    }
}

/* Within a node, by device */
static int gi_compare(const void *a, const void *b)
{
    const AcpiGenericInitiatorPci *x = a, *y = b;

    if (x->segment != y->segment) {
        return x->segment < y->segment ? -1 : 1;
    }
    return x->bdf - y->bdf;
}

AcpiGenericInitiatorPci *acpi_generic_initiator_list(size_t *count)
{
    AcpiGenericInitiatorPci *list;
    AcpiGenericInitiator *gi;
    size_t n = 0, first;
    int node;

    list = gi_count ? g_new(AcpiGenericInitiatorPci, gi_count) : NULL;
    for (node = 0; node < MAX_NODES; node++) {
        first = n;
        QTAILQ_FOREACH(gi, &gi_nodes[node], next) {
            if (gi->dev && DEVICE(gi->dev)->realized) {
                list[n++] = (AcpiGenericInitiatorPci) {
                    .node = gi->node,
                    /* QEMU 7.2 puts every PCI host bridge in segment 0 */
                    .segment = 0,
                    .bdf = PCI_BUILD_BDF(pci_dev_bus_num(gi->dev),
                                         gi->dev->devfn),
                };
            }
        }
        if (n - first > 1) {
            qsort(&list[first], n - first, sizeof(*list), gi_compare);
        }
    }
    if (!n) {
        g_free(list);
        list = NULL;
    }
    *count = n;
    return list;
}

static void gi_finalize(Object *obj)
{
    AcpiGenericInitiator *gi = ACPI_GENERIC_INITIATOR(obj);

    if (gi->registered) {
        QTAILQ_REMOVE(&gi_nodes[gi->node], gi, next);
        gi_count--;
        gi_numa_state()->nodes[gi->node].generic_initiators--;
    }
    gi_unlink(gi);
    g_free(gi->pci_dev);
    g_free(gi->id);
}

static void gi_class_init(ObjectClass *oc, void *data)
{
    UserCreatableClass *ucc = USER_CREATABLE_CLASS(oc);

    ucc->complete = gi_complete;
    ucc->can_be_deleted = gi_can_be_deleted;

    object_class_property_add_str(oc, "pci-dev", gi_get_pci_dev,
                                  gi_set_pci_dev);
    object_class_property_set_description(oc, "pci-dev",
        "id of the PCI device (-device ...,id=) that initiates memory "
        "accesses from the node");
    object_class_property_add(oc, "node", "uint32", gi_get_node, gi_set_node,
                              NULL, NULL);
    object_class_property_set_description(oc, "node",
        "guest NUMA node (-numa node,nodeid=) that the device is in");
}

static const TypeInfo gi_info = {
    .name = TYPE_ACPI_GENERIC_INITIATOR,
    .parent = TYPE_OBJECT,
    .class_init = gi_class_init,
    .instance_size = sizeof(AcpiGenericInitiator),
    .instance_finalize = gi_finalize,
    .interfaces = (InterfaceInfo[]) {
        { TYPE_USER_CREATABLE },
        { }
    },
};

static void gi_register_types(void)
{
    int node;

    for (node = 0; node < MAX_NODES; node++) {
        QTAILQ_INIT(&gi_nodes[node]);
    }
    type_register_static(&gi_info);
}

type_init(gi_register_types);
