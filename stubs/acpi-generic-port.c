/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * For targets without ACPI PCI support: there is no acpi-generic-port
 * type, so there is nothing to link.
 */

#include "qemu/osdep.h"
#include "hw/acpi/generic_port.h"

void acpi_generic_port_link_buses(Error **errp)
{
}
