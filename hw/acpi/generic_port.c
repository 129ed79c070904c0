/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * acpi-generic-port: give a CXL host bridge a guest NUMA node
 *
 * Each object links one CXL host bridge (pxb-cxl) to one node, the
 * proximity domain of a Generic Port Affinity Structure in SRAT.  A
 * bridge has at most one port.
 *
 * Lifetime, as for acpi-generic-initiator:
 *  - complete: both properties are set, no other object names the bridge;
 *    the node counts the port, so that HMAT options may name it as a
 *    target.  Objects completed while the command line is processed are
 *    checked and linked once the command line's devices exist
 *    (acpi_generic_port_link_buses()); object-add links at once.
 *  - linked: the bridge is referenced and cannot be unplugged.
 *  - qom-set of a property re-checks the new link and applies it whole, or
 *    fails and leaves everything as it was.
 * The tables are rebuilt from the links at the next guest reset.
 *
 * This file never lays table bytes: the SRAT builder asks
 * acpi_generic_port_list() for plain values.
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qapi/visitor.h"
#include "qom/object_interfaces.h"
#include "hw/acpi/generic_initiator.h"
#include "hw/acpi/generic_port.h"
#include "hw/boards.h"
#include "hw/pci/pci_bridge.h"
#include "hw/qdev-core.h"
#include "sysemu/numa.h"
#include "trace.h"

struct AcpiGenericPort {
    Object parent_obj;

    /* properties */
    char *pci_bus;
    uint32_t node;
    bool node_set;

    /* completed: in gp_list and counted in its node's generic_ports */
    bool registered;
    /* the linked bridge, referenced; NULL until linked */
    PXBDev *bridge;
    Error *unplug_blocker;
    QTAILQ_ENTRY(AcpiGenericPort) next;
};

static QTAILQ_HEAD(, AcpiGenericPort) gp_list =
    QTAILQ_HEAD_INITIALIZER(gp_list);

/* The command line's devices exist: objects are linked when completed. */
static bool gp_buses_created;

static const char *gp_id(AcpiGenericPort *gp)
{
    return object_get_canonical_path_component(OBJECT(gp)) ?: "<unnamed>";
}

/* The CXL host bridge whose bus is @name: a pxb-cxl names its bus by id */
static PXBDev *gp_find_bridge(AcpiGenericPort *gp, const char *name,
                              Error **errp)
{
    Object *peripheral = container_get(qdev_get_machine(), "/peripheral");
    Object *obj = object_resolve_path_component(peripheral, name);

    if (!obj || !object_dynamic_cast(obj, TYPE_PXB_CXL_DEVICE)) {
        error_setg(errp, "acpi-generic-port '%s': pci-bus '%s': no CXL host "
                   "bridge (-device pxb-cxl,id=%s) has this bus", gp_id(gp),
                   name, name);
        return NULL;
    }
    return PXB_CXL_DEV(obj);
}

/* Does another object name the same bridge (by bus name, or linked)? */
static bool gp_check_unique(AcpiGenericPort *gp, const char *name,
                            PXBDev *bridge, Error **errp)
{
    AcpiGenericPort *o;

    QTAILQ_FOREACH(o, &gp_list, next) {
        if (o != gp && ((bridge && o->bridge) ? o->bridge == bridge
                                              : !strcmp(o->pci_bus, name))) {
            error_setg(errp, "acpi-generic-port '%s': pci-bus '%s' is "
                       "already the generic port of node %" PRIu32 " ('%s')",
                       gp_id(gp), name, o->node, gp_id(o));
            return false;
        }
    }
    return true;
}

/* Check a link of @gp to @name and @node; *@bridge once linkable */
static bool gp_check_link(AcpiGenericPort *gp, const char *name,
                          uint32_t node, PXBDev **bridge, Error **errp)
{
    *bridge = NULL;
    if (gp_buses_created) {
        if (!acpi_generic_affinity_check_node(TYPE_ACPI_GENERIC_PORT,
                                              gp_id(gp), node, errp)) {
            return false;
        }
        *bridge = gp_find_bridge(gp, name, errp);
        if (!*bridge) {
            return false;
        }
    }
    return gp_check_unique(gp, name, *bridge, errp);
}

/*
 * Would @gp's node stop being an HMAT target that -numa hmat-lb names
 * without @gp?
 */
static bool gp_needed_as_target(AcpiGenericPort *gp, Error **errp)
{
    NumaState *ns = current_machine->numa_state;
    NodeInfo *n;
    int i, h, t;

    if (!gp->registered) {
        return false;
    }
    n = &ns->nodes[gp->node];
    if (n->node_mem) {
        return false;
    }
    for (h = 0; h < HMAT_LB_LEVELS; h++) {
        for (t = 0; t < HMAT_LB_TYPES; t++) {
            HMAT_LB_Info *lb = ns->hmat_lb[h][t];

            for (i = 0; lb && i < lb->list->len; i++) {
                if (g_array_index(lb->list, HMAT_LB_Data, i).target ==
                    gp->node) {
                    error_setg(errp, "acpi-generic-port '%s': node %" PRIu32
                               " is an HMAT target only through this "
                               "object", gp_id(gp), gp->node);
                    return true;
                }
            }
        }
    }
    return false;
}

static void gp_link(AcpiGenericPort *gp, PXBDev *bridge)
{
    gp->bridge = bridge;
    object_ref(OBJECT(bridge));
    error_setg(&gp->unplug_blocker, "CXL host bridge '%s' is the generic "
               "port of NUMA node %" PRIu32 " (acpi-generic-port '%s'); "
               "delete that object first", gp->pci_bus, gp->node, gp_id(gp));
    qdev_add_unplug_blocker(DEVICE(bridge), gp->unplug_blocker);
    trace_acpi_generic_port_link(gp_id(gp), gp->pci_bus, gp->node);
}

static void gp_unlink(AcpiGenericPort *gp)
{
    if (!gp->bridge) {
        return;
    }
    trace_acpi_generic_port_unlink(gp->pci_bus, gp->node);
    qdev_del_unplug_blocker(DEVICE(gp->bridge), gp->unplug_blocker);
    error_free(gp->unplug_blocker);
    gp->unplug_blocker = NULL;
    object_unref(OBJECT(gp->bridge));
    gp->bridge = NULL;
}

static char *gp_get_pci_bus(Object *obj, Error **errp)
{
    return g_strdup(ACPI_GENERIC_PORT(obj)->pci_bus);
}

static void gp_set_pci_bus(Object *obj, const char *value, Error **errp)
{
    AcpiGenericPort *gp = ACPI_GENERIC_PORT(obj);
    PXBDev *bridge = NULL;

    if (gp->registered &&
        !gp_check_link(gp, value, gp->node, &bridge, errp)) {
        return;
    }
    gp_unlink(gp);
    g_free(gp->pci_bus);
    gp->pci_bus = g_strdup(value);
    if (gp->registered && bridge) {
        gp_link(gp, bridge);
    }
}

static void gp_get_node(Object *obj, Visitor *v, const char *name,
                        void *opaque, Error **errp)
{
    uint32_t value = ACPI_GENERIC_PORT(obj)->node;

    visit_type_uint32(v, name, &value, errp);
}

static void gp_set_node(Object *obj, Visitor *v, const char *name,
                        void *opaque, Error **errp)
{
    AcpiGenericPort *gp = ACPI_GENERIC_PORT(obj);
    NodeInfo *nodes;
    PXBDev *bridge;
    uint32_t value;

    if (!visit_type_uint32(v, name, &value, errp)) {
        return;
    }
    if (value >= MAX_NODES) {
        error_setg(errp, "acpi-generic-port '%s': node %" PRIu32 " is out "
                   "of range; NUMA node ids are below %d", gp_id(gp), value,
                   MAX_NODES);
        return;
    }
    if (!gp->registered) {
        gp->node = value;
        gp->node_set = true;
        return;
    }
    if (value == gp->node) {
        return;
    }
    if (!gp_check_link(gp, gp->pci_bus, value, &bridge, errp) ||
        gp_needed_as_target(gp, errp)) {
        return;
    }
    nodes = current_machine->numa_state->nodes;
    gp_unlink(gp);
    nodes[gp->node].generic_ports--;
    gp->node = value;
    nodes[gp->node].generic_ports++;
    if (bridge) {
        gp_link(gp, bridge);
    }
}

static void gp_complete(UserCreatable *uc, Error **errp)
{
    AcpiGenericPort *gp = ACPI_GENERIC_PORT(uc);
    NumaState *ns = current_machine ? current_machine->numa_state : NULL;
    PXBDev *bridge;

    if (!gp->pci_bus) {
        error_setg(errp, "acpi-generic-port '%s': property 'pci-bus' is "
                   "required", gp_id(gp));
        return;
    }
    if (!gp->node_set) {
        error_setg(errp, "acpi-generic-port '%s': property 'node' is "
                   "required", gp_id(gp));
        return;
    }
    if (!ns) {
        error_setg(errp, "acpi-generic-port '%s': machine type '%s' does "
                   "not support NUMA", gp_id(gp), current_machine ?
                   object_get_typename(OBJECT(current_machine)) : "none");
        return;
    }
    if (!gp_check_link(gp, gp->pci_bus, gp->node, &bridge, errp)) {
        return;
    }
    QTAILQ_INSERT_TAIL(&gp_list, gp, next);
    ns->nodes[gp->node].generic_ports++;
    gp->registered = true;
    if (bridge) {
        gp_link(gp, bridge);
    }
}

static bool gp_can_be_deleted(UserCreatable *uc)
{
    return !gp_needed_as_target(ACPI_GENERIC_PORT(uc), NULL);
}

void acpi_generic_port_link_buses(Error **errp)
{
    AcpiGenericPort *gp;
    PXBDev *bridge;

    gp_buses_created = true;
    QTAILQ_FOREACH(gp, &gp_list, next) {
        if (!gp_check_link(gp, gp->pci_bus, gp->node, &bridge, errp)) {
            return;
        }
        gp_link(gp, bridge);
    }
}

static int gp_compare(const void *a, const void *b)
{
    const AcpiGenericPortInfo *x = a, *y = b;

    if (x->node != y->node) {
        return x->node < y->node ? -1 : 1;
    }
    return x->uid < y->uid ? -1 : x->uid > y->uid;
}

AcpiGenericPortInfo *acpi_generic_port_list(size_t *count)
{
    AcpiGenericPortInfo *list = NULL;
    AcpiGenericPort *gp;
    size_t n = 0;

    QTAILQ_FOREACH(gp, &gp_list, next) {
        if (gp->bridge) {
            list = g_renew(AcpiGenericPortInfo, list, n + 1);
            list[n++] = (AcpiGenericPortInfo) {
                .node = gp->node,
                /* the DSDT's _UID of a CXL host bridge: its bus number */
                .uid = gp->bridge->bus_nr,
            };
        }
    }
    if (n > 1) {
        qsort(list, n, sizeof(*list), gp_compare);
    }
    *count = n;
    return list;
}

static void gp_finalize(Object *obj)
{
    AcpiGenericPort *gp = ACPI_GENERIC_PORT(obj);

    if (gp->registered) {
        QTAILQ_REMOVE(&gp_list, gp, next);
        current_machine->numa_state->nodes[gp->node].generic_ports--;
    }
    gp_unlink(gp);
    g_free(gp->pci_bus);
}

static void gp_class_init(ObjectClass *oc, void *data)
{
    UserCreatableClass *ucc = USER_CREATABLE_CLASS(oc);

    ucc->complete = gp_complete;
    ucc->can_be_deleted = gp_can_be_deleted;

    object_class_property_add_str(oc, "pci-bus", gp_get_pci_bus,
                                  gp_set_pci_bus);
    object_class_property_set_description(oc, "pci-bus",
        "the bus of the CXL host bridge (-device pxb-cxl,id=) that is the "
        "generic port");
    object_class_property_add(oc, "node", "uint32", gp_get_node, gp_set_node,
                              NULL, NULL);
    object_class_property_set_description(oc, "node",
        "guest NUMA node (-numa node,nodeid=) of the generic port");
}

static const TypeInfo gp_info = {
    .name = TYPE_ACPI_GENERIC_PORT,
    .parent = TYPE_OBJECT,
    .class_init = gp_class_init,
    .instance_size = sizeof(AcpiGenericPort),
    .instance_finalize = gp_finalize,
    .interfaces = (InterfaceInfo[]) {
        { TYPE_USER_CREATABLE },
        { }
    },
};

static void gp_register_types(void)
{
    type_register_static(&gp_info);
}

type_init(gp_register_types);
