/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * cache-monitor: last-level cache occupancy and memory bandwidth of QEMU's
 * threads through Linux resctrl, reported by query-stats.  See
 * docs/system/cache-monitor.rst.
 */
#ifndef SYSTEM_CACHE_MONITOR_H
#define SYSTEM_CACHE_MONITOR_H

/*
 * A vCPU thread was created: put it in its monitoring group.  Called with
 * the BQL held, once the thread has started.
 */
void cache_monitor_vcpu_created(CPUState *cpu);

#endif
