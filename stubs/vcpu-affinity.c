/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Hosts without vcpu-affinity (it needs Linux) and builds without the
 * machine code that calls it.
 */
#include "qemu/osdep.h"
#include "qapi/error.h"
#include "hw/core/cpu.h"
#include "monitor/hmp.h"
#include "monitor/monitor.h"
#include "system/vcpu-affinity.h"

void vcpu_affinity_vcpu_created(CPUState *cpu)
{
}

void hmp_info_vcpu_affinity(Monitor *mon, const QDict *qdict)
{
    monitor_printf(mon, "vCPU affinity is not supported on this host\n");
}
