// Export... in the Model panel: the current run's network as an ONNX file or
// a PyTorch folder (compute/interop), as `tensorscope export` writes them.
//
// The network lives on the training worker's device, so an export asks the
// session for a checkpoint (a temporary file), and the controller hands the
// saved checkpoint to FinishExport, which writes the export and removes it.
#pragma once

#include <string>

#include "ui/app_state.h"

namespace ts::ui {

// The Export... button and its popup (format, path); call inside the Model panel.
void DrawExportButton(AppState& state);

// Called for every kCheckpointSaved event; true when `saved_path` was an
// export's checkpoint (the export is then written, or its error shown).
bool FinishExport(AppState& state, const std::string& saved_path);

}  // namespace ts::ui
