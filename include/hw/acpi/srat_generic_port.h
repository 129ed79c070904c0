/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ACPI SRAT Generic Port Affinity Structures, and the generic affinity
 * structures (initiators and ports) in one list (ACPI 6.5: 5.2.16)
 */

#ifndef HW_ACPI_SRAT_GENERIC_PORT_H
#define HW_ACPI_SRAT_GENERIC_PORT_H

/* ACPI 6.5: 5.2.16.7 Generic Port Affinity Structure */
#define SRAT_GENERIC_PORT_LEN           32

void build_srat_generic_acpi_port(GArray *table_data, uint32_t node,
                                  const char *hid, uint32_t uid);

/*
 * Append one Generic Initiator Affinity Structure per linked
 * acpi-generic-initiator object and one Generic Port Affinity Structure
 * per linked acpi-generic-port object, in proximity domain order (within
 * a domain, initiators first).
 */
void build_srat_generic_affinity(GArray *table_data);

#endif
