/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * acpi-generic-node: what acpi-generic-initiator and acpi-generic-port
 * share
 *
 * An object of a subclass links one device to one guest NUMA node (an
 * ACPI proximity domain), which firmware describes with an SRAT Generic
 * Initiator (ACPI 6.5: 5.2.16.6) or Generic Port (5.2.16.7) Affinity
 * Structure.  Through its objects a node becomes an HMAT initiator (a
 * generic initiator) or an HMAT target (a generic port).
 *
 * The abstract type owns the node property, the link to the device with
 * its unplug blocker, the per-node bookkeeping, and the rule that an
 * object the HMAT configuration needs cannot be deleted or moved.  A
 * subclass says how it finds its device and what its messages say; it
 * turns its linked objects into plain values for the SRAT builder with
 * acpi_generic_node_list().
 */

#ifndef HW_ACPI_GENERIC_NODE_H
#define HW_ACPI_GENERIC_NODE_H

#include "qemu/queue.h"
#include "qom/object.h"
#include "hw/qdev-core.h"
#include "system/numa.h"

#define TYPE_ACPI_GENERIC_NODE "acpi-generic-node"

OBJECT_DECLARE_TYPE(AcpiGenericNode, AcpiGenericNodeClass, ACPI_GENERIC_NODE)

struct AcpiGenericNode {
    Object parent_obj;

    /* properties: the subclass's link property (its device), node */
    char *link;
    uint32_t node;
    bool node_set;

    /*
     * completed: in the list of its node and counted in the node
     * (AcpiGenericNodeClass::node_objects)
     */
    bool registered;
    /*
     * The object's id, kept once linked: finding one object's id costs a
     * walk of /objects, so the command line's objects get theirs in one
     * walk for all, and it is needed after unparenting too.
     */
    char *id;
    /* the linked device, referenced; NULL until linked */
    DeviceState *dev;
    Error *unplug_blocker;
    QTAILQ_ENTRY(AcpiGenericNode) next;
};

struct AcpiGenericNodeClass {
    ObjectClass parent_class;

    /* the name of the link property, e.g. "pci-dev" */
    const char *link_prop;
    /*
     * Through its objects, a node is an HMAT initiator (true) or an HMAT
     * target (false).
     */
    bool initiator;
    /* The count of the node's objects of this class, in @n */
    unsigned int *(*node_objects)(NodeInfo *n);
    /*
     * A device has one object in all (true), or one per node (false).
     */
    bool one_per_device;
    /*
     * The device that link value @name names: @obj is the device of that
     * id in /machine/peripheral, or NULL.  Fails with a message naming
     * @gn and @name.
     */
    DeviceState *(*check_device)(AcpiGenericNode *gn, const char *name,
                                 Object *obj, Error **errp);
    /* The error: @other already links the device of @name to @node */
    void (*duplicate_error)(AcpiGenericNode *gn, const char *name,
                            uint32_t node, AcpiGenericNode *other,
                            Error **errp);
    /*
     * Set @blocker to why the linked device cannot be unplugged, ending
     * with what to do: "...; delete that object first"
     */
    void (*unplug_blocker)(AcpiGenericNode *gn, Error **blocker);
};

/* The object's id, for messages */
const char *acpi_generic_node_id(AcpiGenericNode *gn);

/**
 * acpi_generic_node_class_add_link:
 * @oc: a subclass of acpi-generic-node
 * @name: the name of the link property
 * @description: its description
 *
 * Add the string property that names the object's device.  A subclass
 * calls it once, from its class_init.
 */
void acpi_generic_node_class_add_link(ObjectClass *oc, const char *name,
                                      const char *description);

/*
 * Fill @entry with what the SRAT says of @gn, a linked object; false
 * leaves @gn out
 */
typedef bool (*AcpiGenericNodeFill)(AcpiGenericNode *gn, void *entry);

/**
 * acpi_generic_node_list:
 * @type: a subclass of acpi-generic-node
 * @size: the size of one entry
 * @fill: fills the entry of each object of @type whose device is linked
 * @compare: the order of the entries, for qsort()
 * @count: set to the number of entries
 *
 * Returns: a new array of *@count entries (free it with g_free()), NULL
 * if there are none.
 */
void *acpi_generic_node_list(const char *type, size_t size,
                             AcpiGenericNodeFill fill, GCompareFunc compare,
                             size_t *count);

#endif
