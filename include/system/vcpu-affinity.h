/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * vcpu-affinity and emulator-affinity: QEMU places its own threads on
 * host CPUs from the machine configuration.  See
 * docs/system/vcpu-affinity.rst.
 */
#ifndef SYSTEM_VCPU_AFFINITY_H
#define SYSTEM_VCPU_AFFINITY_H

#define TYPE_VCPU_AFFINITY "vcpu-affinity"
#define TYPE_EMULATOR_AFFINITY "emulator-affinity"

/*
 * A vCPU thread was created: give it its rule's host CPUs before it runs
 * guest code.  Called with the BQL held, once the thread has started.
 */
void vcpu_affinity_vcpu_created(CPUState *cpu);

/*
 * For query-vcpu-affinity: the ids of the rules that place vCPUs 0 to
 * @nb_vcpus - 1, then the emulator threads' rule, in a new array of
 * @nb_vcpus + 1 entries (free it with g_free()); NULL where no rule does
 * (the start set).
 */
const char **vcpu_affinity_vcpu_rules(int nb_vcpus);

#endif
