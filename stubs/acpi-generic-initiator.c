/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * For targets without ACPI PCI support: there is no acpi-generic-initiator
 * type, so there is nothing to link.
 */

#include "qemu/osdep.h"
#include "hw/acpi/generic_initiator.h"

void acpi_generic_initiator_link_devices(Error **errp)
{
}
