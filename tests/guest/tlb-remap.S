/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tlb-remap: a multiboot guest for a 2-vCPU q35 machine in which one
 * vCPU changes the memory map while the other reads MMIO.
 * tests/guest/tlb-remap.py builds and runs it.
 *
 * The machine has a pci-testdev at 00:03.0.  vCPU 0 moves its BAR0
 * below the PCIe ECAM window, so that the testdev's section comes before
 * ECAM's and the local APIC's in QEMU's dispatch map, and starts vCPU 1.
 * vCPU 1 reads ECAM's first dword (vendor and device of 00:00.0) and its
 * local APIC's ID register, again and again, and counts the reads that
 * do not give the first value; its local APIC timer interrupts it at
 * about 10 kHz, and the handler writes the end of interrupt.  At the
 * end, the timer's vector must not be in service.  Meanwhile vCPU 0
 * turns the testdev's memory decoding off and on TOGGLES times, with
 * stores to its command register in ECAM: each store removes or adds
 * the section, which renumbers the sections after it.
 *
 * QEMU queues the flush of vCPU 1's TLB for each new map; a read that
 * vCPU 1 began before the flush was queued uses its old TLB entry.  A
 * QEMU that looks such an entry's section number up in the new map
 * reads another section (a wrong value) or aborts; one that keeps the
 * section in the entry reads the right one.  A write that goes astray
 * that way is lost: an end-of-interrupt write leaves the timer's vector
 * in service, and the vCPU takes no timer interrupt again, as Linux
 * guests that stalled showed.
 *
 * vCPU 0 prints on COM1, in hexadecimal,
 *   tlb-remap: toggles T ecam M value V expected E apic M value V expected E
 *              ticks K in-service S
 * (M: the reads that gave another value; V: the last such value; K: the
 * timer interrupts taken; S: non-zero if one stayed in service) and
 * writes the result to isa-debug-exit at 0xf4, so QEMU exits with status
 * (code << 1) | 1:
 *   0x10 (33)  every read gave the first value, and no vector stayed
 *              in service
 *   0x11 (35)  some did not, or the timer's vector stayed in service
 *   0x12 (37)  ECAM is not enabled (PCIEXBAR)
 *   0x13 (39)  vCPU 1 did not start
 */

#define CONFIG_ADDRESS  0xcf8
#define CONFIG_DATA     0xcfc
#define CFG(dev, reg)   (0x80000000 | ((dev) << 11) | (reg))
#define TESTDEV         3
#define BAR_LOW         0x10000000
/* the testdev's command register in ECAM: bus 0, device 3, offset 4 */
#define ECAM_CMD        ((TESTDEV << 15) | 0x04)
#ifndef TOGGLES
#define TOGGLES         20000
#endif
#define DEBUG_EXIT      0xf4
#define COM1            0x3f8

#define LAPIC_ID        0xfee00020
#define LAPIC_TPR       0xfee00080
#define LAPIC_EOI       0xfee000b0
#define LAPIC_SVR       0xfee000f0
#define LAPIC_ISR_TIMER (0xfee00100 + 0x10 * (TIMER_VECTOR / 32))
#define LAPIC_LVT_TIMER 0xfee00320
#define LAPIC_TIMER_INIT 0xfee00380
#define LAPIC_TIMER_DIV 0xfee003e0
#define LVT_PERIODIC    0x20000
#define LVT_MASKED      0x10000
#define TIMER_VECTOR    0x40
#define SPURIOUS_VECTOR 0xff
/* about 10 kHz: QEMU's APIC timer counts at 1 GHz (divide by 1) */
#define TIMER_COUNT     100000
#define LAPIC_ICR_LO    0xfee00300
#define LAPIC_ICR_HI    0xfee00310
#define ICR_INIT        0x00004500
#define ICR_STARTUP     0x00004600
/* vCPU 1 starts in real mode at TRAMPOLINE, a page below 1 MiB */
#define TRAMPOLINE      0x8000
/*
 * how many times vCPU 0 looks for vCPU 1's answer before it gives up:
 * the most a register holds, many seconds under TCG, so that a loaded
 * host that runs vCPU 1's thread late does not fail the test
 */
#define WAIT            0xffffffff

/* the fields of ecam_result and apic_result */
#define EXPECT          0
#define MISMATCHES      4
#define VALUE           8

#define MB_MAGIC        0x1badb002
#define MB_FLAGS        0

    .section .multiboot, "a"
    .align 4
    .long MB_MAGIC
    .long MB_FLAGS
    .long -(MB_MAGIC + MB_FLAGS)

    .text
    .code32
    .globl _start
_start:
    cli
    mov $stack_top, %esp

    /* ECAM's base, from the MCH's PCIEXBAR (00:00.0, 0x60) */
    mov $CFG(0, 0x60), %eax
    mov $CONFIG_ADDRESS, %dx
    out %eax, %dx
    mov $CONFIG_DATA, %dx
    in %dx, %eax
    test $1, %eax
    jz no_ecam
    and $0xf0000000, %eax
    mov %eax, ecam
    mov %eax, %esi

    /* the testdev's BAR0 below ECAM, with memory decoding on */
    mov $CFG(TESTDEV, 0x10), %eax
    mov $CONFIG_ADDRESS, %dx
    out %eax, %dx
    mov $BAR_LOW, %eax
    mov $CONFIG_DATA, %dx
    out %eax, %dx
    mov $CFG(TESTDEV, 0x04), %eax
    mov $CONFIG_ADDRESS, %dx
    out %eax, %dx
    mov $2, %ax
    mov $CONFIG_DATA, %dx
    out %ax, %dx

    mov (%esi), %eax
    mov %eax, ecam_result + EXPECT

    /* vCPU 1: the trampoline below 1 MiB, then INIT and STARTUP */
    mov $trampoline, %esi
    mov $TRAMPOLINE, %edi
    mov $(trampoline_end - trampoline), %ecx
    cld
    rep movsb
    movl $(1 << 24), LAPIC_ICR_HI
    movl $ICR_INIT, LAPIC_ICR_LO
    movl $(1 << 24), LAPIC_ICR_HI
    movl $(ICR_STARTUP | (TRAMPOLINE >> 12)), LAPIC_ICR_LO
    mov $WAIT, %ecx
1:
    cmpl $0, ap_ready
    jne 2f
    dec %ecx
    jnz 1b
    mov $0x13, %al
    jmp done
2:
    /* change the map under vCPU 1's reads */
    mov ecam, %esi
    mov $TOGGLES, %ecx
3:
    xor %eax, %eax
    movw %ax, ECAM_CMD(%esi)
    mov $2, %ax
    movw %ax, ECAM_CMD(%esi)
    dec %ecx
    jnz 3b

    movl $1, stop
    mov $WAIT, %ecx
4:
    cmpl $0, ap_done
    jne 5f
    dec %ecx
    jnz 4b
5:
    mov $msg_toggles, %esi
    call puts
    mov $TOGGLES, %eax
    call puthex
    mov $msg_ecam, %esi
    mov $ecam_result, %edi
    call put_result
    mov $msg_apic, %esi
    mov $apic_result, %edi
    call put_result
    mov $msg_ticks, %esi
    call puts
    mov ticks, %eax
    call puthex
    mov $msg_in_service, %esi
    call puts
    mov timer_in_service, %eax
    call puthex
    mov $msg_nl, %esi
    call puts

    mov $0x10, %al
    mov ecam_result + MISMATCHES, %ecx
    or apic_result + MISMATCHES, %ecx
    or timer_in_service, %ecx
    jz done
    mov $0x11, %al
    jmp done
no_ecam:
    mov $0x12, %al
done:
    out %al, $DEBUG_EXIT
6:
    hlt
    jmp 6b

/*
 * vCPU 1, in protected mode: read ECAM and the local APIC's ID until
 * vCPU 0 says stop
 */
ap_main:
    mov $0x10, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    mov $ap_stack_top, %esp

    /* every vector to an iret, the timer's to timer_handler */
    mov $idt, %edi
    mov $ignore_handler, %eax
    mov $256, %ecx
1:
    call set_gate
    add $8, %edi
    dec %ecx
    jnz 1b
    mov $(idt + 8 * TIMER_VECTOR), %edi
    mov $timer_handler, %eax
    call set_gate
    lidt idt_desc

    /* the local APIC timer, periodic, with interrupts on */
    movl $(0x100 | SPURIOUS_VECTOR), LAPIC_SVR
    movl $0, LAPIC_TPR
    movl $0xb, LAPIC_TIMER_DIV
    movl $(LVT_PERIODIC | TIMER_VECTOR), LAPIC_LVT_TIMER
    movl $TIMER_COUNT, LAPIC_TIMER_INIT
    sti

    mov ecam, %esi
    mov $LAPIC_ID, %edi
    mov (%edi), %eax
    mov %eax, apic_result + EXPECT
    lock incl ap_ready
1:
    mov (%esi), %eax
    cmp ecam_result + EXPECT, %eax
    je 2f
    incl ecam_result + MISMATCHES
    mov %eax, ecam_result + VALUE
2:
    mov (%edi), %eax
    cmp apic_result + EXPECT, %eax
    je 3f
    incl apic_result + MISMATCHES
    mov %eax, apic_result + VALUE
3:
    cmpl $0, stop
    je 1b

    /*
     * Here, outside the handler, no interrupt can be in service unless
     * its end-of-interrupt write was lost
     */
    cli
    mov LAPIC_ISR_TIMER, %eax
    and $(1 << (TIMER_VECTOR % 32)), %eax
    mov %eax, timer_in_service
    movl $(LVT_MASKED | TIMER_VECTOR), LAPIC_LVT_TIMER
    movl $0, LAPIC_TIMER_INIT
    lock incl ap_done
4:
    hlt
    jmp 4b

/* set_gate: a 32-bit interrupt gate to %eax at %edi */
set_gate:
    mov %eax, %edx
    and $0xffff, %edx
    or $(0x08 << 16), %edx
    mov %edx, (%edi)
    mov %eax, %edx
    and $0xffff0000, %edx
    or $0x8e00, %edx
    mov %edx, 4(%edi)
    ret

timer_handler:
    incl ticks
    movl $0, LAPIC_EOI
ignore_handler:
    iret

/* put_result: the string at %esi, then the result at %edi, on COM1 */
put_result:
    call puts
    mov MISMATCHES(%edi), %eax
    call puthex
    mov $msg_value, %esi
    call puts
    mov VALUE(%edi), %eax
    call puthex
    mov $msg_expect, %esi
    call puts
    mov EXPECT(%edi), %eax
    call puthex
    ret

/* puts: the NUL-terminated string at %esi on COM1 */
puts:
    mov $COM1, %dx
1:
    lodsb
    test %al, %al
    jz 2f
    out %al, %dx
    jmp 1b
2:
    ret

/* puthex: %eax as 8 hexadecimal digits on COM1 */
puthex:
    mov %eax, %ebx
    mov $8, %ecx
    mov $COM1, %dx
1:
    rol $4, %ebx
    mov %bl, %al
    and $0xf, %al
    add $'0', %al
    cmp $'9', %al
    jbe 2f
    add $('a' - '9' - 1), %al
2:
    out %al, %dx
    dec %ecx
    jnz 1b
    ret

/* copied to TRAMPOLINE; vCPU 1 starts here with CS = TRAMPOLINE >> 4 */
    .code16
trampoline:
    cli
    lgdtl %cs:(gdt_desc - trampoline)
    mov %cr0, %eax
    or $1, %eax
    mov %eax, %cr0
    ljmpl $0x08, $ap_main
gdt_desc:
    .word gdt_end - gdt - 1
    .long gdt
trampoline_end:
    .code32

    .data
    .align 8
gdt:
    .quad 0
    .quad 0x00cf9a000000ffff        /* 0x08: flat 32-bit code */
    .quad 0x00cf92000000ffff        /* 0x10: flat 32-bit data */
gdt_end:
    .align 4
ecam:       .long 0
ap_ready:   .long 0
stop:       .long 0
ap_done:    .long 0
ticks:      .long 0
timer_in_service: .long 0
idt_desc:
    .word 256 * 8 - 1
    .long idt
/* what vCPU 1 read: the first value, the other reads, the last other */
ecam_result: .long 0, 0, 0
apic_result: .long 0, 0, 0
msg_toggles:    .asciz "tlb-remap: toggles "
msg_ecam:       .asciz " ecam "
msg_apic:       .asciz " apic "
msg_value:      .asciz " value "
msg_expect:     .asciz " expected "
msg_ticks:      .asciz " ticks "
msg_in_service: .asciz " in-service "
msg_nl:         .asciz "\n"

    .bss
    .align 16
    .space 4096
stack_top:
    .space 4096
ap_stack_top:
    .align 8
idt:
    .space 256 * 8
