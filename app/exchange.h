// The commands that hand models to other tools and take them in:
// `export` (ONNX, PyTorch), `import` (ONNX) and `parity` (a replay in PyTorch).
#pragma once

#include <string>
#include <vector>

namespace ts::app {

// tensorscope export CHECKPOINT_OR_MODEL --format onnx|pytorch -o PATH
int RunExport(const std::vector<std::string>& words);
// tensorscope import MODEL.onnx -o CHECKPOINT
int RunImport(const std::vector<std::string>& words);
// tensorscope parity MODEL [--steps N]: the first N steps here and in PyTorch,
// both loss curves, the per-step relative difference and a verdict (exit 3 when they differ).
int RunParity(const std::vector<std::string>& words);

}  // namespace ts::app
