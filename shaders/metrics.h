// Push constants of metrics.comp (shared by GLSL and C++).
#ifndef TENSORSCOPE_SHADERS_METRICS_H
#define TENSORSCOPE_SHADERS_METRICS_H
#include "shared_types.h"
TS_SHADER_NAMESPACE_BEGIN

struct MetricsParams {
  uint rows;  // rows in the batch; the step's valid_rows (at most rows) are summed
};
TS_CHECK_PUSH_LAYOUT(MetricsParams, 1)

TS_SHADER_NAMESPACE_END
#endif
