// The stored types of the convolution kernels' activation tensors, shared by
// conv2d_impl.glsl, conv2d_back_data_impl.glsl and conv2d_back_filter_impl.glsl.
// fp16 storage (mixed precision) under CONV2D_FP16: those tensors are
// float16_t (f16vec4 for the vec4 views, which are then aligned to 8 bytes),
// converted to fp32 on every load and rounded on every store; all arithmetic
// is fp32. The texel views are then RGBA16F (texelFetch still returns a vec4).
#ifdef CONV2D_FP16
#define CONV2D_STORED float16_t
#define CONV2D_STORED4 f16vec4
#else
#define CONV2D_STORED float
#define CONV2D_STORED4 vec4
#endif
