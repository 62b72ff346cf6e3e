// Chooses lavapipe's vector width (LP_NATIVE_VECTOR_WIDTH) for this process
// before any Vulkan instance exists; see compute/profile/vector_width.h.
//
// Why child processes: lavapipe reads LP_NATIVE_VECTOR_WIDTH when it
// initialises its code generator, once per load of the driver. A second
// instance in this process does get the new width on this machine (the Vulkan
// loader unloads the driver when the last instance goes, and Mesa
// initialises again on the next load), but that rests on the loader and the
// driver both letting go (a layer, another library or a newer loader that
// keeps the driver loaded would silently measure one width twice), on setenv
// while no other thread reads the environment, and on nothing in the probe's
// driver state (JIT caches, worker threads) leaking into the real instance. A
// child per width starts from nothing, cannot crash the app if 512-bit code
// generation fails, and leaves this process with no driver loaded until the
// choice is made. It costs one process start and a device start-up per width,
// once per CPU (the choice is cached).
#pragma once

namespace ts::app {

// For commands that open a device: leaves a user's LP_NATIVE_VECTOR_WIDTH
// alone; on a CPU with AVX-512 uses the cached choice, or runs the probe at
// 256 and 512 bits in child processes (`tensorscope probe-vector-width`),
// keeps 512 where it is at least 10% faster (else 256) and caches it; then
// sets LP_NATIVE_VECTOR_WIDTH (and a Mesa shader cache of that width's own)
// and records the choice (profile::RecordVectorWidthChoice). Never throws: a
// failed probe leaves the driver's default and says why in the recorded choice.
void ChooseVectorWidth();

// The hidden command `probe-vector-width`: opens the default device at the
// width in the environment and prints one JSON line: {"device", "software",
// "subgroup_size", "probe_us"} (probe_us only for software devices).
int RunVectorWidthProbe();

}  // namespace ts::app
