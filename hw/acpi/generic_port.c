/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * acpi-generic-port: give a CXL host bridge a guest NUMA node
 *
 * Each object links one CXL host bridge (pxb-cxl) to one node, the
 * proximity domain of a Generic Port Affinity Structure in SRAT, which
 * HMAT options may then name as a target.  A bridge has at most one port.
 *
 * The lifetime, the node property and the link are acpi-generic-node's
 * (hw/acpi/generic_node.c); this subclass finds CXL host bridges and gives
 * the SRAT builder the linked ones as plain values
 * (acpi_generic_port_list()).
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "hw/acpi/generic_node.h"
#include "hw/acpi/generic_port.h"
#include "hw/pci/pci_bridge.h"
#include "hw/pci/pci_bus.h"

struct AcpiGenericPort {
    AcpiGenericNode parent_obj;
};

/*
 * The CXL host bridge whose bus is @name: a pxb-cxl names its bus by id.
 * A QOM path may name the bus (a child of the bridge's host, whose
 * parent_dev is the bridge) or the bridge.
 */
static DeviceState *gp_check_device(AcpiGenericNode *gn, const char *name,
                                    Object *obj, Error **errp)
{
    if (obj && object_dynamic_cast(obj, TYPE_PCI_BUS)) {
        obj = OBJECT(PCI_BUS(obj)->parent_dev);
    }
    if (!obj || !object_dynamic_cast(obj, TYPE_PXB_CXL_DEV)) {
        if (name[0] == '/') {
            error_setg(errp, "acpi-generic-port '%s': pci-bus '%s': no CXL "
                       "host bridge (pxb-cxl) or bus of one is at this QOM "
                       "path", acpi_generic_node_id(gn), name);
        } else {
            error_setg(errp, "acpi-generic-port '%s': pci-bus '%s': no CXL "
                       "host bridge (-device pxb-cxl,id=%s) has this bus",
                       acpi_generic_node_id(gn), name, name);
        }
        return NULL;
    }
    return DEVICE(obj);
}

static void gp_duplicate_error(AcpiGenericNode *gn, const char *name,
                               uint32_t node, AcpiGenericNode *other,
                               Error **errp)
{
    error_setg(errp, "acpi-generic-port '%s': pci-bus '%s' is already the "
               "generic port of node %" PRIu32 " ('%s')",
               acpi_generic_node_id(gn), name, node,
               acpi_generic_node_id(other));
}

static unsigned int *gp_node_objects(NodeInfo *n)
{
    return &n->generic_ports;
}

static void gp_unplug_blocker(AcpiGenericNode *gn, Error **blocker)
{
    error_setg(blocker, "CXL host bridge '%s' is the generic port of NUMA "
               "node %" PRIu32 " (acpi-generic-port '%s'); delete that object "
               "first", gn->link, gn->node, acpi_generic_node_id(gn));
}

static bool gp_fill(AcpiGenericNode *gn, void *entry)
{
    *(AcpiGenericPortInfo *)entry = (AcpiGenericPortInfo) {
        .node = gn->node,
        /* the DSDT's _UID of a CXL host bridge: its bus number */
        .uid = object_property_get_uint(OBJECT(gn->dev), "bus_nr",
                                        &error_abort),
    };
    return true;
}

/* By node, then by _UID */
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
    return acpi_generic_node_list(TYPE_ACPI_GENERIC_PORT,
                                  sizeof(AcpiGenericPortInfo), gp_fill,
                                  gp_compare, count);
}

static void gp_class_init(ObjectClass *oc, void *data)
{
    AcpiGenericNodeClass *k = ACPI_GENERIC_NODE_CLASS(oc);

    k->one_per_device = true;
    k->node_objects = gp_node_objects;
    k->check_device = gp_check_device;
    k->duplicate_error = gp_duplicate_error;
    k->unplug_blocker = gp_unplug_blocker;
    acpi_generic_node_class_add_link(oc, "pci-bus",
        "the bus of the CXL host bridge (-device pxb-cxl,id=) that is the "
        "generic port");
}

static const TypeInfo gp_info = {
    .name = TYPE_ACPI_GENERIC_PORT,
    .parent = TYPE_ACPI_GENERIC_NODE,
    .class_init = gp_class_init,
    .instance_size = sizeof(AcpiGenericPort),
};

static void gp_register_types(void)
{
    type_register_static(&gp_info);
}

type_init(gp_register_types);
