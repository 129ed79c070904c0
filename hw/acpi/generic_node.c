/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * acpi-generic-node: the abstract parent of acpi-generic-initiator and
 * acpi-generic-port
 *
 * Each object is one (device, node) link.
 *
 * Lifetime:
 *  - complete: both properties are set, no other object has the same link.
 *    Objects completed while the command line is processed are checked
 *    against the NUMA configuration and linked to their device once the
 *    machine is complete (gn_machine_ready()); later objects (object-add)
 *    are checked and linked at once.
 *  - linked: the device is referenced and cannot be unplugged; the node
 *    counts the object, so that it is a valid HMAT initiator (generic
 *    initiators) or target (generic ports).
 *  - qom-set of a property re-checks the new link and applies it whole, or
 *    fails and leaves everything as it was.
 *  - an object whose node HMAT options name as an initiator or target
 *    only through it can be neither deleted nor moved to another node.
 * The tables are rebuilt from the links at the next guest reset.
 *
 * Nothing here lays table bytes: the subclasses turn linked objects into
 * plain values for the SRAT builder.
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qobject/qstring.h"
#include "qapi/visitor.h"
#include "qemu/cutils.h"
#include "qom/object_interfaces.h"
#include "qom/qom-qobject.h"
#include "hw/acpi/generic_node.h"
#include "hw/boards.h"
#include "system/machine-ready.h"
#include "system/numa.h"
#include "trace.h"

/*
 * The completed objects by node, of every subclass: an object is
 * compared with those of its node, and the SRAT lists them in node order.
 */
typedef QTAILQ_HEAD(, AcpiGenericNode) GenericNodeList;
static GenericNodeList gn_nodes[MAX_NODES];

/*
 * The class of @gn, which every caller knows to be an acpi-generic-node.
 * The checked cast (ACPI_GENERIC_NODE_GET_CLASS) costs a few hundred
 * instructions a call with QOM cast debugging, about 2,000 per object at
 * start-up (make bench, figure 1: 1.10 of the trivial-object cost with
 * it, 1.08 without).
 */
static AcpiGenericNodeClass *gn_class(AcpiGenericNode *gn)
{
    return (AcpiGenericNodeClass *)object_get_class(OBJECT(gn));
}

const char *acpi_generic_node_id(AcpiGenericNode *gn)
{
    const char *id = gn->id ?: object_get_canonical_path_component(OBJECT(gn));

    return id ? id : "<unnamed>";
}

static const char *gn_type(AcpiGenericNode *gn)
{
    return object_get_typename(OBJECT(gn));
}

/* Is the machine's "acpi" property (OnOffAuto on pc, q35 and virt) off? */
static bool gn_machine_acpi_off(MachineState *ms)
{
    QObject *v = object_property_get_qobject(OBJECT(ms), "acpi", NULL);
    QString *str = qobject_to(QString, v);
    bool off = str && !strcmp(qstring_get_str(str), "off");

    qobject_unref(v);
    return off;
}

/*
 * Can @node be the proximity domain of an SRAT generic affinity structure
 * now: the machine has ACPI tables and NUMA nodes, and @node is declared?
 */
static bool gn_check_node(AcpiGenericNode *gn, uint32_t node, Error **errp)
{
    MachineState *ms = current_machine;
    NumaState *ns = ms->numa_state;
    /* the machine's properties are fixed by now: check them once */
    static bool acpi_ok;

    if (!acpi_ok && !object_property_find(OBJECT(ms), "acpi")) {
        error_setg(errp, "%s '%s': machine type '%s' has no ACPI tables",
                   gn_type(gn), acpi_generic_node_id(gn),
                   object_get_typename(OBJECT(ms)));
        return false;
    }
    if (!acpi_ok && gn_machine_acpi_off(ms)) {
        error_setg(errp, "%s '%s': ACPI is disabled (-machine acpi=off or "
                   "-no-acpi)", gn_type(gn), acpi_generic_node_id(gn));
        return false;
    }
    acpi_ok = true;
    if (!ns->num_nodes) {
        error_setg(errp, "%s '%s': the machine has no NUMA nodes; declare "
                   "node %" PRIu32 " with -numa node,nodeid=%" PRIu32,
                   gn_type(gn), acpi_generic_node_id(gn), node, node);
        return false;
    }
    if (!ns->nodes[node].present) {
        error_setg(errp, "%s '%s': node %" PRIu32 " is not defined; "
                   "declare it with -numa node,nodeid=%" PRIu32,
                   gn_type(gn), acpi_generic_node_id(gn), node, node);
        return false;
    }
    return true;
}

static DeviceState *gn_find_device(AcpiGenericNode *gn, const char *name,
                                   Error **errp)
{
    Object *peripheral;

    /* an absolute QOM path, as upstream QEMU's objects accepted */
    if (name[0] == '/') {
        return gn_class(gn)->check_device(gn, name,
                                          object_resolve_path(name, NULL),
                                          errp);
    }
    /* -device ...,id= devices; there is none without such a device */
    peripheral = object_resolve_path_component(qdev_get_machine(),
                                               "peripheral");
    /* a device id is one path component */
    return gn_class(gn)->check_device(
        gn, name,
        peripheral ? object_resolve_path_component(peripheral, name) : NULL,
        errp);
}

/*
 * Does another object of @gn's class link the same device (to @node, for
 * classes with one object per node)?  Linked objects are compared by
 * device, the others by the name they give.
 */
static bool gn_check_unique(AcpiGenericNode *gn, const char *name,
                            DeviceState *dev, uint32_t node, Error **errp)
{
    AcpiGenericNodeClass *k = gn_class(gn);
    uint32_t n = k->one_per_device ? 0 : node;
    uint32_t end = k->one_per_device ? MAX_NODES : node + 1;
    AcpiGenericNode *o;

    for (; n < end; n++) {
        QTAILQ_FOREACH(o, &gn_nodes[n], next) {
            if (o == gn || gn_class(o) != k) {
                continue;
            }
            if ((dev && o->dev) ? o->dev == dev : !strcmp(o->link, name)) {
                k->duplicate_error(gn, name, o->node, o, errp);
                return false;
            }
        }
    }
    return true;
}

/* Does an HMAT option name @node as an initiator (a target)? */
static bool gn_hmat_names(NumaState *ns, uint32_t node, bool initiator)
{
    int i, h, t;

    for (i = 0; initiator && i < ns->num_nodes; i++) {
        if (ns->nodes[i].initiator == node) {
            return true;
        }
    }
    for (h = 0; h < HMAT_LB_LEVELS; h++) {
        for (t = 0; t < HMAT_LB_TYPES; t++) {
            HMAT_LB_Info *lb = ns->hmat_lb[h][t];

            for (i = 0; lb && i < lb->list->len; i++) {
                HMAT_LB_Data *d = &g_array_index(lb->list, HMAT_LB_Data, i);

                if ((initiator ? d->initiator : d->target) == node) {
                    return true;
                }
            }
        }
    }
    return false;
}

/*
 * Would @gn's node stop being an initiator (a target) that the HMAT
 * configuration names, without @gn?  That is: nothing else makes the node
 * one (CPUs or another generic initiator; memory or another generic
 * port), and an option names it.
 */
static bool gn_needed_by_hmat(AcpiGenericNode *gn)
{
    bool initiator = gn_class(gn)->initiator;
    NumaState *ns = current_machine->numa_state;
    NodeInfo *n;

    if (!gn->registered) {
        return false;
    }
    n = &ns->nodes[gn->node];
    if ((initiator ? n->has_cpu : n->node_mem) ||
        *gn_class(gn)->node_objects(n) > 1) {
        return false;
    }
    return gn_hmat_names(ns, gn->node, initiator);
}

static const char *gn_hmat_role(AcpiGenericNode *gn)
{
    return gn_class(gn)->initiator ? "initiator"
                                                      : "target";
}

/* Count @gn in its node (@delta 1) or no longer (-1) */
static void gn_count(AcpiGenericNode *gn, int delta)
{
    *gn_class(gn)->node_objects(
        &current_machine->numa_state->nodes[gn->node]) += delta;
}

static void gn_link(AcpiGenericNode *gn, DeviceState *dev)
{
    gn->dev = dev;
    object_ref(OBJECT(dev));
    gn_class(gn)->unplug_blocker(gn, &gn->unplug_blocker);
    qdev_add_unplug_blocker(dev, gn->unplug_blocker);
    trace_acpi_generic_node_link(gn_type(gn), acpi_generic_node_id(gn),
                                 gn->link, gn->node);
}

static void gn_unlink(AcpiGenericNode *gn)
{
    if (!gn->dev) {
        return;
    }
    trace_acpi_generic_node_unlink(gn_type(gn), acpi_generic_node_id(gn),
                                   gn->link, gn->node);
    qdev_del_unplug_blocker(gn->dev, gn->unplug_blocker);
    error_free(gn->unplug_blocker);
    gn->unplug_blocker = NULL;
    object_unref(OBJECT(gn->dev));
    gn->dev = NULL;
}

/* Check a link of @gn to @name and @node; *@dev is the device once linkable */
static bool gn_check_link(AcpiGenericNode *gn, const char *name,
                          uint32_t node, DeviceState **dev, Error **errp)
{
    *dev = NULL;
    if (phase_check(PHASE_MACHINE_READY)) {
        if (!gn_check_node(gn, node, errp)) {
            return false;
        }
        *dev = gn_find_device(gn, name, errp);
        if (!*dev) {
            return false;
        }
        /* the guest may complete the unplug at any time: no new link */
        if ((*dev)->pending_deleted_event) {
            error_setg(errp, "%s '%s': %s '%s' is being unplugged "
                       "(device_del)", gn_type(gn), acpi_generic_node_id(gn),
                       gn_class(gn)->link_prop, name);
            *dev = NULL;
            return false;
        }
    }
    return gn_check_unique(gn, name, *dev, node, errp);
}

static char *gn_get_link(Object *obj, Error **errp)
{
    return g_strdup(ACPI_GENERIC_NODE(obj)->link);
}

static void gn_set_link(Object *obj, const char *value, Error **errp)
{
    AcpiGenericNode *gn = ACPI_GENERIC_NODE(obj);
    DeviceState *dev = NULL;

    if (gn->registered && !gn_check_link(gn, value, gn->node, &dev, errp)) {
        return;
    }
    gn_unlink(gn);
    g_free(gn->link);
    gn->link = g_strdup(value);
    if (gn->registered && dev) {
        gn_link(gn, dev);
    }
}

void acpi_generic_node_class_add_link(ObjectClass *oc, const char *name,
                                      const char *description)
{
    ACPI_GENERIC_NODE_CLASS(oc)->link_prop = name;
    object_class_property_add_str(oc, name, gn_get_link, gn_set_link);
    object_class_property_set_description(oc, name, description);
}

static void gn_get_node(Object *obj, Visitor *v, const char *name,
                        void *opaque, Error **errp)
{
    uint32_t value = ACPI_GENERIC_NODE(obj)->node;

    visit_type_uint32(v, name, &value, errp);
}

static void gn_set_node(Object *obj, Visitor *v, const char *name,
                        void *opaque, Error **errp)
{
    AcpiGenericNode *gn = ACPI_GENERIC_NODE(obj);
    DeviceState *dev;
    uint32_t value;

    if (!visit_type_uint32(v, name, &value, errp)) {
        return;
    }
    if (value >= MAX_NODES) {
        error_setg(errp, "%s '%s': node %" PRIu32 " is out of range; NUMA "
                   "node ids are below %d", gn_type(gn),
                   acpi_generic_node_id(gn), value, MAX_NODES);
        return;
    }
    if (!gn->registered) {
        gn->node = value;
        gn->node_set = true;
        return;
    }
    if (value == gn->node) {
        return;
    }
    if (!gn_check_link(gn, gn->link, value, &dev, errp)) {
        return;
    }
    if (gn_needed_by_hmat(gn)) {
        error_setg(errp, "%s '%s': node %" PRIu32 " is an HMAT %s only "
                   "through this object", gn_type(gn),
                   acpi_generic_node_id(gn), gn->node, gn_hmat_role(gn));
        return;
    }
    gn_unlink(gn);
    QTAILQ_REMOVE(&gn_nodes[gn->node], gn, next);
    gn_count(gn, -1);
    gn->node = value;
    QTAILQ_INSERT_TAIL(&gn_nodes[gn->node], gn, next);
    gn_count(gn, 1);
    if (dev) {
        gn_link(gn, dev);
    }
}

static void gn_complete(UserCreatable *uc, Error **errp)
{
    AcpiGenericNode *gn = ACPI_GENERIC_NODE(uc);
    AcpiGenericNodeClass *k = gn_class(gn);
    DeviceState *dev;

    if (phase_check(PHASE_MACHINE_READY)) {
        /* object-add: link at once; at start-up, see gn_machine_ready() */
        gn->id = g_strdup(object_get_canonical_path_component(OBJECT(gn)));
    }
    if (!gn->link) {
        error_setg(errp, "%s '%s': property '%s' is required", gn_type(gn),
                   acpi_generic_node_id(gn), k->link_prop);
        return;
    }
    if (!gn->node_set) {
        error_setg(errp, "%s '%s': property 'node' is required", gn_type(gn),
                   acpi_generic_node_id(gn));
        return;
    }
    if (!current_machine || !current_machine->numa_state) {
        error_setg(errp, "%s '%s': machine type '%s' does not support NUMA",
                   gn_type(gn), acpi_generic_node_id(gn),
                   current_machine ?
                   object_get_typename(OBJECT(current_machine)) : "none");
        return;
    }
    if (!gn_check_link(gn, gn->link, gn->node, &dev, errp)) {
        return;
    }
    QTAILQ_INSERT_TAIL(&gn_nodes[gn->node], gn, next);
    gn_count(gn, 1);
    gn->registered = true;
    if (dev) {
        gn_link(gn, dev);
    }
}

static bool gn_can_be_deleted(UserCreatable *uc, Error **errp)
{
    AcpiGenericNode *gn = ACPI_GENERIC_NODE(uc);

    if (gn_needed_by_hmat(gn)) {
        error_setg(errp, "%s '%s' can't be deleted: HMAT names node %"
                   PRIu32 " as %s %s only through it", gn_type(gn),
                   acpi_generic_node_id(gn), gn->node,
                   gn_class(gn)->initiator ? "an" : "a",
                   gn_hmat_role(gn));
        return false;
    }
    return true;
}

/* The ids of the command line's objects, in one walk of /objects */
static void gn_keep_ids(void)
{
    Object *root = object_get_objects_root();
    ObjectPropertyIterator iter;
    ObjectProperty *prop;
    AcpiGenericNode *gn;

    object_property_iter_init(&iter, root);
    while ((prop = object_property_iter_next(&iter))) {
        if (!strstart(prop->type, "child<", NULL)) {
            continue;
        }
        gn = (AcpiGenericNode *)object_dynamic_cast(
            object_resolve_path_component(root, prop->name),
            TYPE_ACPI_GENERIC_NODE);
        if (gn && !gn->id) {
            gn->id = g_strdup(prop->name);
        }
    }
}

/* The machine is complete: check and link the command line's objects */
static bool gn_machine_ready(Error **errp)
{
    AcpiGenericNode *gn;
    DeviceState *dev;
    int node;

    gn_keep_ids();
    for (node = 0; node < MAX_NODES; node++) {
        QTAILQ_FOREACH(gn, &gn_nodes[node], next) {
            if (!gn_check_link(gn, gn->link, gn->node, &dev, errp)) {
                return false;
            }
            gn_link(gn, dev);
        }
    }
    return true;
}

void *acpi_generic_node_list(const char *type, size_t size,
                             AcpiGenericNodeFill fill, GCompareFunc compare,
                             size_t *count)
{
    ObjectClass *k = object_class_by_name(type);
    AcpiGenericNode *gn;
    size_t n = 0;
    char *list;
    int node;

    for (node = 0; node < MAX_NODES; node++) {
        QTAILQ_FOREACH(gn, &gn_nodes[node], next) {
            n += gn->dev && object_get_class(OBJECT(gn)) == k;
        }
    }
    list = n ? g_malloc(n * size) : NULL;
    n = 0;
    for (node = 0; node < MAX_NODES; node++) {
        QTAILQ_FOREACH(gn, &gn_nodes[node], next) {
            if (gn->dev && object_get_class(OBJECT(gn)) == k &&
                fill(gn, list + n * size)) {
                n++;
            }
        }
    }
    if (n > 1) {
        qsort(list, n, size, compare);
    }
    if (!n) {
        g_free(list);
        list = NULL;
    }
    *count = n;
    return list;
}

static void gn_finalize(Object *obj)
{
    AcpiGenericNode *gn = ACPI_GENERIC_NODE(obj);

    if (gn->registered) {
        QTAILQ_REMOVE(&gn_nodes[gn->node], gn, next);
        gn_count(gn, -1);
    }
    gn_unlink(gn);
    g_free(gn->link);
    g_free(gn->id);
}

static void gn_class_init(ObjectClass *oc, void *data)
{
    UserCreatableClass *ucc = USER_CREATABLE_CLASS(oc);

    ucc->complete = gn_complete;
    ucc->can_be_deleted = gn_can_be_deleted;

    object_class_property_add(oc, "node", "uint32", gn_get_node, gn_set_node,
                              NULL, NULL);
    object_class_property_set_description(oc, "node",
        "guest NUMA node (-numa node,nodeid=) of the device");
}

static const TypeInfo gn_info = {
    .name = TYPE_ACPI_GENERIC_NODE,
    .parent = TYPE_OBJECT,
    .abstract = true,
    .class_size = sizeof(AcpiGenericNodeClass),
    .class_init = gn_class_init,
    .instance_size = sizeof(AcpiGenericNode),
    .instance_finalize = gn_finalize,
    .interfaces = (InterfaceInfo[]) {
        { TYPE_USER_CREATABLE },
        { }
    },
};

static void gn_register_types(void)
{
    int node;

    for (node = 0; node < MAX_NODES; node++) {
        QTAILQ_INIT(&gn_nodes[node]);
    }
    type_register_static(&gn_info);
    machine_ready_add_hook(gn_machine_ready);
}

type_init(gn_register_types);
