#!/usr/bin/env bash
# Installs, with apt-get, whichever of the Debian packages named as arguments
# are not installed yet; does nothing when all are. Used by tensorscope.sh
# (build and test dependencies) and tests/bench/run.sh (the peers' packages).
#   assets/scripts/install-missing.sh PACKAGE...
set -euo pipefail

missing=()
for package in "$@"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0
echo "Installing: ${missing[*]}"
sudo=""
[[ $(id -u) -eq 0 ]] || sudo="sudo"
# Another apt-get (a second build, an unattended upgrade) may hold the lock: wait for it.
$sudo apt-get -o DPkg::Lock::Timeout=600 update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}"
