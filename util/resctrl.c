/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Linux resctrl monitoring groups (see include/qemu/resctrl.h)
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qemu/cutils.h"
#include "qemu/resctrl.h"

const char *const resctrl_feature_names[RESCTRL_FEATURE__MAX] = {
    [RESCTRL_LLC_OCCUPANCY] = "llc_occupancy",
    [RESCTRL_MBM_TOTAL] = "mbm_total_bytes",
    [RESCTRL_MBM_LOCAL] = "mbm_local_bytes",
};

/* The subdirectories of @path (none if it cannot be read) */
static GPtrArray *subdirs(const char *path)
{
    GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
    GDir *dir = g_dir_open(path, 0, NULL);
    const char *name;

    while (dir && (name = g_dir_read_name(dir))) {
        g_autofree char *p = g_build_filename(path, name, NULL);

        if (g_file_test(p, G_FILE_TEST_IS_DIR)) {
            g_ptr_array_add(names, g_strdup(name));
        }
    }
    if (dir) {
        g_dir_close(dir);
    }
    return names;
}

bool qemu_resctrl_probe(const char *root, unsigned *features,
                        unsigned *free_rmids, Error **errp)
{
    g_autofree char *mon = g_build_filename(root, "info", "L3_MON", NULL);
    g_autofree char *groups = g_build_filename(root, "mon_groups", NULL);
    g_autofree char *path = NULL;
    g_autofree char *text = NULL;
    g_autoptr(GPtrArray) top = NULL, mine = NULL;
    g_auto(GStrv) lines = NULL;
    uint64_t rmids;
    unsigned used = 1, i, f;   /* the root group has one */

    if (!g_file_test(groups, G_FILE_TEST_IS_DIR)) {
        error_setg(errp, "no resctrl filesystem at %s (is it mounted? "
                   "mount -t resctrl resctrl %s)", root, root);
        return false;
    }
    if (!g_file_test(mon, G_FILE_TEST_IS_DIR)) {
        error_setg(errp, "resctrl at %s has no L3 monitoring (no %s): the "
                   "host CPU lacks cache monitoring, or it is disabled",
                   root, mon);
        return false;
    }
    path = g_build_filename(mon, "mon_features", NULL);
    if (!g_file_get_contents(path, &text, NULL, NULL)) {
        error_setg(errp, "cannot read %s", path);
        return false;
    }
    *features = 0;
    lines = g_strsplit(text, "\n", -1);
    for (i = 0; lines[i]; i++) {
        for (f = 0; f < RESCTRL_FEATURE__MAX; f++) {
            if (!strcmp(g_strstrip(lines[i]), resctrl_feature_names[f])) {
                *features |= 1u << f;
            }
        }
    }
    if (!*features) {
        error_setg(errp, "resctrl at %s monitors none of llc_occupancy, "
                   "mbm_total_bytes and mbm_local_bytes (%s)", root, path);
        return false;
    }

    g_free(path);
    g_free(text);
    path = g_build_filename(mon, "num_rmids", NULL);
    if (!g_file_get_contents(path, &text, NULL, NULL) ||
        qemu_strtou64(g_strstrip(text), NULL, 10, &rmids)) {
        error_setg(errp, "cannot read a number from %s", path);
        return false;
    }
    /*
     * Every control group uses one monitoring ID, and so does every
     * monitoring group of the root's or of a control group's.
     */
    mine = subdirs(groups);
    used += mine->len;
    top = subdirs(root);
    for (i = 0; i < top->len; i++) {
        const char *name = g_ptr_array_index(top, i);
        g_autofree char *cg = NULL;
        g_autoptr(GPtrArray) sub = NULL;

        if (!strcmp(name, "info") || !strcmp(name, "mon_groups") ||
            !strcmp(name, "mon_data")) {
            continue;
        }
        cg = g_build_filename(root, name, "mon_groups", NULL);
        sub = subdirs(cg);
        used += 1 + sub->len;
    }
    *free_rmids = rmids > used ? rmids - used : 0;
    return true;
}

static char *group_path(const char *root, const char *name)
{
    return g_build_filename(root, "mon_groups", name, NULL);
}

bool qemu_resctrl_group_create(const char *root, const char *name,
                               Error **errp)
{
    g_autofree char *path = group_path(root, name);

    if (mkdir(path, 0755) && errno != EEXIST) {
        /* ENOSPC: no monitoring ID left */
        error_setg_errno(errp, errno, "cannot create resctrl monitoring "
                         "group %s", path);
        return false;
    }
    return true;
}

static gint compare_names(gconstpointer a, gconstpointer b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * Remove what a test's stand-in tree holds below @path; on a resctrl
 * filesystem nothing there can be removed, and rmdir() of the group
 * removes it all.
 */
static void remove_contents(const char *path)
{
    GDir *dir = g_dir_open(path, 0, NULL);
    const char *name;

    while (dir && (name = g_dir_read_name(dir))) {
        g_autofree char *p = g_build_filename(path, name, NULL);

        if (g_file_test(p, G_FILE_TEST_IS_DIR) &&
            !g_file_test(p, G_FILE_TEST_IS_SYMLINK)) {
            remove_contents(p);
            rmdir(p);
        } else {
            unlink(p);
        }
    }
    if (dir) {
        g_dir_close(dir);
    }
}

bool qemu_resctrl_group_remove(const char *root, const char *name,
                               Error **errp)
{
    g_autofree char *path = group_path(root, name);

    if (!rmdir(path) || errno == ENOENT) {
        return true;
    }
    if (errno == ENOTEMPTY || errno == EEXIST) {
        remove_contents(path);
        if (!rmdir(path)) {
            return true;
        }
    }
    error_setg_errno(errp, errno, "cannot remove resctrl monitoring group "
                     "%s", path);
    return false;
}

bool qemu_resctrl_group_add_thread(const char *root, const char *name,
                                   pid_t tid, Error **errp)
{
    g_autofree char *path = g_build_filename(root, "mon_groups", name,
                                             "tasks", NULL);
    g_autofree char *text = g_strdup_printf("%d\n", tid);
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0644);
    ssize_t n = -1;

    if (fd >= 0) {
        n = write(fd, text, strlen(text));
        if (n < 0) {
            n = -errno;
        }
        close(fd);
    }
    if (fd < 0 || n != (ssize_t)strlen(text)) {
        error_setg_errno(errp, fd < 0 ? errno : n < 0 ? -n : EIO,
                         "cannot add thread %d to %s", tid, path);
        return false;
    }
    return true;
}

bool qemu_resctrl_group_read(const char *root, const char *name,
                             ResctrlFeature feature, uint64_t **values,
                             unsigned *count, uint64_t *sum, Error **errp)
{
    g_autofree char *data = g_build_filename(root, "mon_groups", name,
                                             "mon_data", NULL);
    g_autoptr(GPtrArray) domains = subdirs(data);
    unsigned i;

    if (!domains->len) {
        error_setg(errp, "no L3 domain in %s", data);
        return false;
    }
    /* mon_L3_00, mon_L3_01, ...: the name order is the domain order */
    g_ptr_array_sort(domains, compare_names);
    *values = g_new0(uint64_t, domains->len);
    *count = domains->len;
    *sum = 0;
    for (i = 0; i < domains->len; i++) {
        const char *d = g_ptr_array_index(domains, i);
        g_autofree char *path = g_build_filename(data, d,
                                                 resctrl_feature_names[feature],
                                                 NULL);
        g_autofree char *text = NULL;

        if (!g_file_get_contents(path, &text, NULL, NULL) ||
            qemu_strtou64(g_strstrip(text), NULL, 10, &(*values)[i])) {
            error_setg(errp, "cannot read a counter from %s%s%s", path,
                       text ? ": " : "", text ? text : "");
            g_free(*values);
            *values = NULL;
            return false;
        }
        *sum += (*values)[i];
    }
    return true;
}
