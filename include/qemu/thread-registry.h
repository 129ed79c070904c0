/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The registry of QEMU's threads: every thread QEMU runs, by host thread
 * id, and what it is for.
 *
 * It is fed where threads start and end: qemu_thread_create()'s start
 * routine adds the new thread, from the new thread, before the thread's
 * own function runs, and removes it when the thread returns or calls
 * qemu_thread_exit(); the process's main thread is there from the start.
 * A thread's role follows from the name its creator gives
 * qemu_thread_create(), the name "-name debug-threads=on" shows ("CPU
 * 0/KVM", "IO iothread0", "TC tc0", "worker", "call_rcu" ...);
 * qemu_init_vcpu() also marks each vCPU's thread with the vCPU's index,
 * whatever its accelerator names it, and the monitor marks its own
 * IOThread.
 *
 * Threads that libraries start with pthread_create() themselves are not
 * registered: they inherit the affinity, and the resctrl group, of the
 * thread that creates them.
 *
 * Thread ids are Linux's (gettid()); elsewhere qemu_get_thread_id() gives
 * the process id, and the registry says little.
 */
#ifndef QEMU_THREAD_REGISTRY_H
#define QEMU_THREAD_REGISTRY_H

typedef enum QemuThreadRole {
    QEMU_THREAD_ROLE_OTHER,             /* none of the below */
    QEMU_THREAD_ROLE_MAIN_LOOP,         /* the main thread */
    QEMU_THREAD_ROLE_VCPU,              /* runs one vCPU, or all (TCG rr) */
    QEMU_THREAD_ROLE_RCU,               /* call_rcu */
    QEMU_THREAD_ROLE_WORKER,            /* the thread pool's workers */
    QEMU_THREAD_ROLE_IOTHREAD,          /* an iothread object's thread */
    QEMU_THREAD_ROLE_MONITOR,           /* the monitor's own IOThread */
    QEMU_THREAD_ROLE_THREAD_CONTEXT,    /* a thread-context object's */
    QEMU_THREAD_ROLE_MIGRATION,         /* migration, either side */
    QEMU_THREAD_ROLE_MEMORY_PREALLOC,   /* touches guest memory in */
    QEMU_THREAD_ROLE__MAX,
} QemuThreadRole;

typedef struct QemuThreadEntry {
    int tid;                    /* host thread id */
    QemuThreadRole role;
    int vcpu_index;             /* the vCPU's (the first's), else -1 */
} QemuThreadEntry;

/* Called by qemu_thread_create()'s start routine, in the new thread */
void qemu_thread_registry_add_self(const char *name);

/* Called as a thread that qemu_thread_create() started ends, in it */
void qemu_thread_registry_remove_self(void);

/*
 * Thread @tid runs vCPU @vcpu_index (with several, e.g. TCG's round robin
 * thread, it keeps the lowest index).  Adds @tid if it is not registered
 * (a vCPU thread started otherwise than by qemu_thread_create()).
 */
void qemu_thread_registry_set_vcpu(int tid, int vcpu_index);

/*
 * Registered thread @tid has role @role (not QEMU_THREAD_ROLE_VCPU: see
 * qemu_thread_registry_set_vcpu()), whatever its name said; nothing if
 * @tid is not registered.  For the creator of a thread whose name tells
 * its role wrongly: the monitor's IOThread is no iothread object.
 */
void qemu_thread_registry_set_role(int tid, QemuThreadRole role);

/*
 * The registered threads now (@emulator_only: the emulator threads, see
 * qemu_thread_role_is_emulator(), at a cost that does not grow with the
 * vCPUs), sorted by thread id, in a new GArray of QemuThreadEntry.
 * Threads may start and end at any time: a thread of the list may have
 * ended by the time the caller looks at it.
 */
GArray *qemu_thread_registry_list(bool emulator_only);

/*
 * Whether a thread of @role is an emulator thread, in libvirt's sense of
 * <emulatorpin>: every QEMU thread that is not a vCPU thread, not an
 * IOThread (libvirt's <iothreadpin> places those; the monitor's internal
 * IOThread, which is no iothread object, is an emulator thread) and not
 * a thread context's thread (placed by its own cpu-affinity and
 * node-affinity).
 */
bool qemu_thread_role_is_emulator(QemuThreadRole role);

/* "vcpu", "main-loop" ...: the role's name, as in QAPI */
const char *qemu_thread_role_name(QemuThreadRole role);

#endif
