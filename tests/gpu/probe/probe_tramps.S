// The probe's trampolines (cuda_probe.c): slot i at probe_tramp_base + 16*i pushes i and joins
// probe_common, which saves the argument registers, asks probe_on_enter for the real entry (it logs the
// call and keeps the caller's return address), then jumps there with the stack as the caller left it
// except for the return address, which now leads to probe_return, which logs the result and returns to
// the caller. x86-64 System V only.
        .text
        .globl probe_tramp_base
        .hidden probe_tramp_base
        .balign 16
probe_tramp_base:
        .set i, 0
        .rept 8192
        .balign 16
        pushq $i
        jmp probe_common
        .set i, i+1
        .endr

probe_common:
        pushq %rdi
        pushq %rsi
        pushq %rdx
        pushq %rcx
        pushq %r8
        pushq %r9
        pushq %rax
        subq $136, %rsp
        movdqu %xmm0, 0(%rsp)
        movdqu %xmm1, 16(%rsp)
        movdqu %xmm2, 32(%rsp)
        movdqu %xmm3, 48(%rsp)
        movdqu %xmm4, 64(%rsp)
        movdqu %xmm5, 80(%rsp)
        movdqu %xmm6, 96(%rsp)
        movdqu %xmm7, 112(%rsp)
        movq 192(%rsp), %rdi          // slot
        leaq 136(%rsp), %rsi          // saved rax..rdi
        movq 200(%rsp), %rdx          // return address
        call probe_on_enter
        movq %rax, %r11
        movdqu 0(%rsp), %xmm0
        movdqu 16(%rsp), %xmm1
        movdqu 32(%rsp), %xmm2
        movdqu 48(%rsp), %xmm3
        movdqu 64(%rsp), %xmm4
        movdqu 80(%rsp), %xmm5
        movdqu 96(%rsp), %xmm6
        movdqu 112(%rsp), %xmm7
        addq $136, %rsp
        popq %rax
        popq %r9
        popq %r8
        popq %rcx
        popq %rdx
        popq %rsi
        popq %rdi
        addq $8, %rsp                 // the slot
        leaq probe_return(%rip), %r10
        movq %r10, (%rsp)
        jmp *%r11

probe_return:
        pushq %rax
        pushq %rdx
        subq $16, %rsp
        movdqu %xmm0, (%rsp)
        movq %rax, %rdi
        call probe_on_exit
        movq %rax, %r11
        movdqu (%rsp), %xmm0
        addq $16, %rsp
        popq %rdx
        popq %rax
        jmp *%r11
        .section .note.GNU-stack,"",@progbits
