/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ACPI Generic Ports: CXL host bridges linked to guest NUMA nodes
 *
 * An acpi-generic-port object gives a CXL host bridge (pxb-cxl) a
 * proximity domain of its own.  Firmware describes it with a Generic Port
 * Affinity Structure in SRAT (ACPI 6.5: 5.2.16.7) whose device handle is
 * the bridge's ACPI device ("ACPI0016" and its _UID), and HMAT may give
 * latencies and bandwidths from initiators to that domain (5.2.28), which
 * the OS combines with what the CXL devices below the port report.  The
 * type is a subclass of acpi-generic-node (hw/acpi/generic_node.h).
 */

#ifndef HW_ACPI_GENERIC_PORT_H
#define HW_ACPI_GENERIC_PORT_H

#include "qom/object.h"

#define TYPE_ACPI_GENERIC_PORT "acpi-generic-port"

typedef struct AcpiGenericPort AcpiGenericPort;
DECLARE_INSTANCE_CHECKER(AcpiGenericPort, ACPI_GENERIC_PORT,
                         TYPE_ACPI_GENERIC_PORT)

/* The _HID of a CXL host bridge, as the DSDT gives it */
#define ACPI_CXL_HOST_BRIDGE_HID "ACPI0016"

/* One linked host bridge as the guest's ACPI namespace names it */
typedef struct AcpiGenericPortInfo {
    uint32_t node;      /* proximity domain */
    uint32_t uid;       /* the bridge's _UID: its bus number */
} AcpiGenericPortInfo;

/**
 * acpi_generic_port_list:
 * @count: set to the number of entries returned
 *
 * Returns: the linked generic ports, sorted by proximity domain, then by
 * _UID, in a g_malloc'ed array the caller frees; NULL when there are none.
 */
AcpiGenericPortInfo *acpi_generic_port_list(size_t *count);

#endif
