/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ACPI Generic Initiators: PCI devices linked to guest NUMA nodes
 *
 * An acpi-generic-initiator object links one PCI device to one guest NUMA
 * node (an ACPI proximity domain).  Firmware describes each link with a
 * Generic Initiator Affinity Structure in SRAT (ACPI 6.5: 5.2.16.6), and
 * the node becomes an initiator for HMAT (5.2.28).  The type is a
 * subclass of acpi-generic-node (hw/acpi/generic_node.h).
 */

#ifndef HW_ACPI_GENERIC_INITIATOR_H
#define HW_ACPI_GENERIC_INITIATOR_H

#include "qom/object.h"

#define TYPE_ACPI_GENERIC_INITIATOR "acpi-generic-initiator"

typedef struct AcpiGenericInitiator AcpiGenericInitiator;
DECLARE_INSTANCE_CHECKER(AcpiGenericInitiator, ACPI_GENERIC_INITIATOR,
                         TYPE_ACPI_GENERIC_INITIATOR)

/* One linked PCI device as the guest enumerates it now */
typedef struct AcpiGenericInitiatorPci {
    uint32_t node;      /* proximity domain */
    uint16_t segment;   /* PCI segment group */
    uint16_t bdf;       /* bus << 8 | devfn, bus as firmware numbered it */
} AcpiGenericInitiatorPci;

/**
 * acpi_generic_initiator_list:
 * @count: set to the number of entries returned
 *
 * Returns: the linked generic initiators whose device is realized, sorted by
 * proximity domain, then by segment and BDF, in a g_malloc'ed array the
 * caller frees; NULL when there are none.
 */
AcpiGenericInitiatorPci *acpi_generic_initiator_list(size_t *count);

#endif
