#version 450
// C = op(A) op(B), or C += op(A) op(B): every dense layer's forward pass and
// both backward forms. All matrices are row-major fp32; op(A) is M x K, op(B)
// is K x N, C is M x N (see compute/kernels/matmul.h).
//
// Two variants, chosen by kVariant:
//  - register-blocked: each invocation computes an RM x RN block of C straight
//    from global memory, accumulating in registers. No shared memory, no
//    barriers. Fastest on lavapipe, where every storage-buffer or shared-memory
//    load is a slow per-lane loop and only fewer loads per FMA pay.
//  - shared-tiled: the workgroup stages TK-deep tiles of op(A) and op(B) in
//    shared memory (global reads coalesced), and each invocation computes an
//    RM x RN block from them. The classic GPU kernel.
//
// Specialization constants fix the tiling, the transposes, which loads may be
// vec4s and whether C is accumulated into; only the sizes are push constants.
// lavapipe runs both sides of every branch (masked), uniform or not, so a
// choice made with a push constant would cost every path on every iteration.
// Fixing `accumulate` also spares the common C = op(A) op(B) pipelines the
// code that reads C, which is most of their LLVM compile time (0.5 s instead
// of 1.5 s). A dense layer uses a few fixed forms, so pipelines stay few.
// The body is in matmul_impl.glsl, shared with matmul_f16.comp.
#include "matmul_impl.glsl"
