/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ACPI System Resource Affinity Table (SRAT) structures for generic
 * initiators (ACPI 6.5: 5.2.16)
 */

#ifndef HW_ACPI_SRAT_H
#define HW_ACPI_SRAT_H

/* ACPI 6.5: 5.2.16.6 Generic Initiator Affinity Structure */
#define SRAT_GENERIC_INITIATOR_LEN      32

/* ACPI 6.5: 5.2.16.6, Device Handle Type */
#define SRAT_DEVICE_HANDLE_ACPI         0
#define SRAT_DEVICE_HANDLE_PCI          1

/* ACPI 6.5: 5.2.16.6, Flags - Generic Initiator/Port Affinity Structure */
#define SRAT_GENERIC_AFFINITY_ENABLED   (1 << 0)

void build_srat_generic_pci_initiator(GArray *table_data, uint32_t node,
                                      uint16_t segment, uint16_t bdf);

/*
 * Append one Generic Initiator Affinity Structure per linked
 * acpi-generic-initiator object, in proximity domain order.
 */
void build_srat_generic_initiators(GArray *table_data);

#endif
