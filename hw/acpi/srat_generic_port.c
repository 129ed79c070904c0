/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ACPI SRAT Generic Port Affinity Structures, and the generic affinity
 * structures of initiators and ports in one list sorted by proximity
 * domain.
 *
 * The values come from acpi_generic_initiator_list() and
 * acpi_generic_port_list(): nothing here knows about QOM objects or
 * options.
 */

#include "qemu/osdep.h"
#include "qemu/bswap.h"
#include "hw/acpi/generic_initiator.h"
#include "hw/acpi/generic_port.h"
#include "hw/acpi/srat.h"
#include "hw/acpi/srat_generic_port.h"
#include "trace.h"

/*
 * ACPI 6.5: 5.2.16.7 Generic Port Affinity Structure, with a Device
 * Handle - ACPI.  As for the Generic Initiator Affinity Structure (whose
 * layout it shares), each field is stored at its Byte Offset in the
 * spec's table, the Device Handle's fields at 8 plus their offset in the
 * handle, and the structure is appended once.
 */
void build_srat_generic_acpi_port(GArray *table_data, uint32_t node,
                                  const char *hid, uint32_t uid)
{
    /* the Reserved fields stay 0 */
    uint8_t s[SRAT_GENERIC_PORT_LEN] = { 0 };

    /* Type: Generic Port Affinity Structure */
    s[0] = 6;
    /* Length */
    s[1] = SRAT_GENERIC_PORT_LEN;
    /* Device Handle Type */
    s[3] = SRAT_DEVICE_HANDLE_ACPI;
    /* Proximity Domain */
    stl_le_p(&s[4], node);
    /* Device Handle - ACPI: _HID, 8 characters */
    assert(strlen(hid) == 8);
    memcpy(&s[8], hid, 8);
    /* Device Handle - ACPI: _UID */
    stl_le_p(&s[16], uid);
    /* Flags - Generic Initiator/Port Affinity Structure */
    stl_le_p(&s[24], SRAT_GENERIC_AFFINITY_ENABLED);

    g_array_append_vals(table_data, s, sizeof(s));
}

void build_srat_generic_affinity(GArray *table_data)
{
    g_autofree AcpiGenericInitiatorPci *gi = NULL;
    g_autofree AcpiGenericPortInfo *gp = NULL;
    size_t i = 0, j = 0, ngi, ngp;

    gi = acpi_generic_initiator_list(&ngi);
    gp = acpi_generic_port_list(&ngp);
    /* both lists are sorted by proximity domain: merge them */
    while (i < ngi || j < ngp) {
        if (j == ngp || (i < ngi && gi[i].node <= gp[j].node)) {
            trace_build_srat_generic_pci_initiator(gi[i].node, gi[i].segment,
                                                   gi[i].bdf);
            build_srat_generic_pci_initiator(table_data, gi[i].node,
                                             gi[i].segment, gi[i].bdf);
            i++;
        } else {
            trace_build_srat_generic_acpi_port(gp[j].node,
                                               ACPI_CXL_HOST_BRIDGE_HID,
                                               gp[j].uid);
            build_srat_generic_acpi_port(table_data, gp[j].node,
                                         ACPI_CXL_HOST_BRIDGE_HID, gp[j].uid);
            j++;
        }
    }
}
