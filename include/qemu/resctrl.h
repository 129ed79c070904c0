/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Linux resctrl monitoring groups: cache occupancy and memory bandwidth
 * of groups of threads (Intel RDT CMT/MBM, AMD PQoS), as the kernel's
 * Documentation/arch/x86/resctrl.rst lays the filesystem out:
 *
 *   ROOT/info/L3_MON/num_rmids       monitoring IDs, one per group
 *   ROOT/info/L3_MON/mon_features    llc_occupancy, mbm_total_bytes, ...
 *   ROOT/mon_groups/G/               a monitoring group (mkdir, rmdir)
 *   ROOT/mon_groups/G/tasks          its thread ids (write one to add)
 *   ROOT/mon_groups/G/mon_data/mon_L3_NN/FEATURE
 *                                    the counter of L3 domain NN
 *
 * These functions know nothing of their callers: errors say what failed
 * on which path, and callers prepend what it was for.
 */
#ifndef QEMU_RESCTRL_H
#define QEMU_RESCTRL_H

/* The monitoring features QEMU reads, as mon_features names them */
typedef enum ResctrlFeature {
    RESCTRL_LLC_OCCUPANCY,      /* llc_occupancy: bytes, now */
    RESCTRL_MBM_TOTAL,          /* mbm_total_bytes: bytes, since creation */
    RESCTRL_MBM_LOCAL,          /* mbm_local_bytes: bytes, since creation */
    RESCTRL_FEATURE__MAX,
} ResctrlFeature;

extern const char *const resctrl_feature_names[RESCTRL_FEATURE__MAX];

/*
 * qemu_resctrl_probe:
 * Check that @root is a resctrl filesystem with L3 monitoring; set bit F
 * of *@features for each feature F it has, and *@free_rmids to the
 * monitoring IDs that no group uses yet.
 */
bool qemu_resctrl_probe(const char *root, unsigned *features,
                        unsigned *free_rmids, Error **errp);

/* Create monitoring group @name under @root/mon_groups */
bool qemu_resctrl_group_create(const char *root, const char *name,
                               Error **errp);

/* Remove monitoring group @name; its threads go back to the root group */
bool qemu_resctrl_group_remove(const char *root, const char *name,
                               Error **errp);

/* Move thread @tid into monitoring group @name */
bool qemu_resctrl_group_add_thread(const char *root, const char *name,
                                   pid_t tid, Error **errp);

/*
 * qemu_resctrl_group_read:
 * The counter of @feature of group @name in each L3 domain, in a new
 * array of *@count entries (domain order: mon_L3_00, mon_L3_01, ...),
 * and their sum in *@sum.  Fails if a counter is "Unavailable".
 */
bool qemu_resctrl_group_read(const char *root, const char *name,
                             ResctrlFeature feature, uint64_t **values,
                             unsigned *count, uint64_t *sum, Error **errp);

#endif
