/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * acpi-generic-initiator: link a PCI device to a guest NUMA node
 *
 * Each object is one (device, node) link.  A GPU partitioned into N
 * instances gets N objects naming the same device and N nodes.  The
 * node becomes an initiator that HMAT options may name.
 *
 * The lifetime, the node property and the link are acpi-generic-node's
 * (hw/acpi/generic_node.c); this subclass finds PCI devices and gives the
 * SRAT builder the linked ones as plain values
 * (acpi_generic_initiator_list()).
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "hw/acpi/generic_initiator.h"
#include "hw/acpi/generic_node.h"
#include "hw/pci/pci_device.h"

struct AcpiGenericInitiator {
    AcpiGenericNode parent_obj;
};

static DeviceState *gi_check_device(AcpiGenericNode *gn, const char *name,
                                    Object *obj, Error **errp)
{
    if (!obj || !object_dynamic_cast(obj, TYPE_DEVICE)) {
        error_setg(errp, "acpi-generic-initiator '%s': pci-dev '%s': no "
                   "device has this %s", acpi_generic_node_id(gn), name,
                   name[0] == '/' ? "QOM path" : "id");
        return NULL;
    }
    if (!object_dynamic_cast(obj, TYPE_PCI_DEVICE)) {
        error_setg(errp, "acpi-generic-initiator '%s': pci-dev '%s' is a "
                   "'%s', not a PCI device", acpi_generic_node_id(gn), name,
                   object_get_typename(obj));
        return NULL;
    }
    return DEVICE(obj);
}

static void gi_duplicate_error(AcpiGenericNode *gn, const char *name,
                               uint32_t node, AcpiGenericNode *other,
                               Error **errp)
{
    error_setg(errp, "acpi-generic-initiator '%s': pci-dev '%s' is already "
               "linked to node %" PRIu32 " by '%s'", acpi_generic_node_id(gn),
               name, node, acpi_generic_node_id(other));
}

static unsigned int *gi_node_objects(NodeInfo *n)
{
    return &n->generic_initiators;
}

static void gi_unplug_blocker(AcpiGenericNode *gn, Error **blocker)
{
    error_setg(blocker, "Device '%s' is linked to NUMA node %" PRIu32 " by "
               "acpi-generic-initiator '%s'; delete that object first",
               gn->link, gn->node, acpi_generic_node_id(gn));
}

static bool gi_fill(AcpiGenericNode *gn, void *entry)
{
    AcpiGenericInitiatorPci *gi = entry;
    PCIDevice *dev = PCI_DEVICE(gn->dev);

    if (!gn->dev->realized) {
        return false;
    }
    *gi = (AcpiGenericInitiatorPci) {
        .node = gn->node,
        /* QEMU 7.2 puts every PCI host bridge in segment 0 */
        .segment = 0,
        .bdf = PCI_BUILD_BDF(pci_dev_bus_num(dev), dev->devfn),
    };
    return true;
}

/* By node, then by device */
static int gi_compare(const void *a, const void *b)
{
    const AcpiGenericInitiatorPci *x = a, *y = b;

    if (x->node != y->node) {
        return x->node < y->node ? -1 : 1;
    }
    if (x->segment != y->segment) {
        return x->segment < y->segment ? -1 : 1;
    }
    return x->bdf - y->bdf;
}

AcpiGenericInitiatorPci *acpi_generic_initiator_list(size_t *count)
{
    return acpi_generic_node_list(TYPE_ACPI_GENERIC_INITIATOR,
                                  sizeof(AcpiGenericInitiatorPci), gi_fill,
                                  gi_compare, count);
}

static void gi_class_init(ObjectClass *oc, void *data)
{
    AcpiGenericNodeClass *k = ACPI_GENERIC_NODE_CLASS(oc);

    k->initiator = true;
    k->node_objects = gi_node_objects;
    k->check_device = gi_check_device;
    k->duplicate_error = gi_duplicate_error;
    k->unplug_blocker = gi_unplug_blocker;
    acpi_generic_node_class_add_link(oc, "pci-dev",
        "id of the PCI device (-device ...,id=) that initiates memory "
        "accesses from the node");
}

static const TypeInfo gi_info = {
    .name = TYPE_ACPI_GENERIC_INITIATOR,
    .parent = TYPE_ACPI_GENERIC_NODE,
    .class_init = gi_class_init,
    .instance_size = sizeof(AcpiGenericInitiator),
};

static void gi_register_types(void)
{
    type_register_static(&gi_info);
}

type_init(gi_register_types);
