/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Hosts without cache-monitor (resctrl is Linux's) and builds without
 * the machine code that calls it.
 */
#include "qemu/osdep.h"
#include "hw/core/cpu.h"
#include "system/cache-monitor.h"

void cache_monitor_vcpu_created(CPUState *cpu)
{
}
