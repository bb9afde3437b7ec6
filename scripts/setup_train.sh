#!/usr/bin/env bash
# What train/ needs, from Debian only (no pip): PyTorch, NumPy, the regex module, and the corpus.
set -euo pipefail
packages=(python3-torch python3-numpy python3-regex libpython3.11-stdlib libpython3.11-testsuite)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2> /dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd=sudo
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}" > /dev/null
fi
/usr/bin/python3 -c "import torch, numpy, regex; print('train setup: torch', torch.__version__, 'numpy', numpy.__version__)"
