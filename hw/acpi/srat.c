/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ACPI SRAT Generic Initiator Affinity Structures
 *
 * The layout follows ACPI 6.5: 5.2.16.6 and its tables (structure,
 * Device Handle - PCI, Flags), one append per field.  The values come
 * from acpi_generic_initiator_list(): nothing here knows about QOM
 * objects or options.
 */

#include "qemu/osdep.h"
#include "hw/acpi/aml-build.h"
#include "hw/acpi/generic_initiator.h"
#include "hw/acpi/srat.h"
#include "hw/pci/pci.h"
#include "trace.h"

/*
 * ACPI 6.5: 5.2.16.6 Generic Initiator Affinity Structure, with a
 * Device Handle - PCI
 */
void build_srat_generic_pci_initiator(GArray *table_data, uint32_t node,
                                      uint16_t segment, uint16_t bdf)
{
    /* Type: Generic Initiator Affinity Structure */
    build_append_int_noprefix(table_data, 5, 1);
    /* Length */
    build_append_int_noprefix(table_data, SRAT_GENERIC_INITIATOR_LEN, 1);
    /* Reserved */
    build_append_int_noprefix(table_data, 0, 1);
    /* Device Handle Type */
    build_append_int_noprefix(table_data, SRAT_DEVICE_HANDLE_PCI, 1);
    /* Proximity Domain */
    build_append_int_noprefix(table_data, node, 4);
    /* Device Handle - PCI: PCI Segment */
    build_append_int_noprefix(table_data, segment, 2);
    /* Device Handle - PCI: PCI BDF Number, byte 2: Bus Number */
    build_append_int_noprefix(table_data, PCI_BUS_NUM(bdf), 1);
    /* Device Handle - PCI: PCI BDF Number, byte 3: Device and Function */
    build_append_int_noprefix(table_data, bdf & 0xff, 1);
    /* Device Handle - PCI: Reserved */
    build_append_int_noprefix(table_data, 0, 12);
    /* Flags - Generic Initiator/Port Affinity Structure */
    build_append_int_noprefix(table_data, SRAT_GENERIC_AFFINITY_ENABLED, 4);
    /* Reserved */
    build_append_int_noprefix(table_data, 0, 4);
}

void build_srat_generic_initiators(GArray *table_data)
{
    AcpiGenericInitiatorPci *list;
    size_t i, n;

    list = acpi_generic_initiator_list(&n);
    for (i = 0; i < n; i++) {
        trace_build_srat_generic_pci_initiator(list[i].node, list[i].segment,
                                               list[i].bdf);
        build_srat_generic_pci_initiator(table_data, list[i].node,
                                         list[i].segment, list[i].bdf);
    }
    g_free(list);
}
