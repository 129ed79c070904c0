/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Work that needs the whole machine and may still reject the
 * configuration at start-up.
 *
 * -object options are completed before the machine and its devices
 * exist, so an object that names a device, a vCPU or a NUMA node can
 * only be checked later.  Such objects check themselves at once when
 * phase_check(PHASE_MACHINE_READY) says the machine is complete
 * (object-add), and otherwise from a hook added here, which
 * qdev_machine_creation_done() runs once, when the phase is entered and
 * before the machine-init-done notifiers (which build the ACPI tables,
 * among others).  Hooks run in the order they were added, until one
 * fails; QEMU then stops with its error.
 */

#ifndef SYSTEM_MACHINE_READY_H
#define SYSTEM_MACHINE_READY_H

/* Returns false, with @errp set, if the configuration cannot be used */
typedef bool (*MachineReadyFunc)(Error **errp);

/**
 * machine_ready_add_hook:
 * @fn: the hook
 *
 * Run @fn when the machine is complete.  Hooks must not depend on each
 * other.  Add them from module init (type_init), before the machine is
 * created.
 */
void machine_ready_add_hook(MachineReadyFunc fn);

#endif
