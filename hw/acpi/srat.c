/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ACPI SRAT Generic Initiator Affinity Structures
 *
 * The layout follows ACPI 6.5: 5.2.16.6 and its tables (structure,
 * Device Handle - PCI, Flags), one store per field.  The values come
 * from acpi_generic_initiator_list(): nothing here knows about QOM
 * objects or options.
 */

#include "qemu/osdep.h"
#include "qemu/bswap.h"
#include "hw/acpi/generic_initiator.h"
#include "hw/acpi/srat.h"
#include "hw/pci/pci.h"
#include "trace.h"

/*
 * ACPI 6.5: 5.2.16.6 Generic Initiator Affinity Structure, with a
 * Device Handle - PCI.  Each field is stored at its Byte Offset in the
 * spec's table (the Device Handle's fields at 8 plus their offset in the
 * handle), and the structure is appended once: build_append_int_noprefix()
 * appends byte by byte, and a host with GPUs has a hundred of these.
 */
void build_srat_generic_pci_initiator(GArray *table_data, uint32_t node,
                                      uint16_t segment, uint16_t bdf)
{
    /* the Reserved fields stay 0 */
    uint8_t s[SRAT_GENERIC_INITIATOR_LEN] = { 0 };

    /* Type: Generic Initiator Affinity Structure */
    s[0] = 5;
    /* Length */
    s[1] = SRAT_GENERIC_INITIATOR_LEN;
    /* Device Handle Type */
    s[3] = SRAT_DEVICE_HANDLE_PCI;
    /* Proximity Domain */
    stl_le_p(&s[4], node);
    /* Device Handle - PCI: PCI Segment */
    stw_le_p(&s[8], segment);
    /* Device Handle - PCI: PCI BDF Number, byte 2: Bus Number */
    s[10] = PCI_BUS_NUM(bdf);
    /* Device Handle - PCI: PCI BDF Number, byte 3: Device and Function */
    s[11] = bdf & 0xff;
    /* Flags - Generic Initiator/Port Affinity Structure */
    stl_le_p(&s[24], SRAT_GENERIC_AFFINITY_ENABLED);

    g_array_append_vals(table_data, s, sizeof(s));
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
