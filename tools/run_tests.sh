#!/usr/bin/env bash
# The whole test suite on a fresh machine: installs what the tests need, then runs pytest.
# Usage: bash tools/run_tests.sh [pytest args...]
set -euo pipefail
cd "$(dirname "$0")/.."

# External peers and dissectors the integration tests compare against (Debian packages).
need=()
for pair in tshark:tshark tcpdump:tcpdump openssl:openssl gnutls-cli:gnutls-bin; do
  cmd=${pair%%:*}; pkg=${pair#*:}
  command -v "$cmd" >/dev/null 2>&1 || need+=("$pkg")
done
# strongSwan (user-space ESP via kernel-libipsec) is the real IPsec peer of the integration tests.
# qemu + Debian's kernel + busybox boot the Linux xfrm peer VM (tools/xfrm_vm.py).
# libssl-dev: OpenSSL's headers, for the native fast lane that `pip install -e .` builds.
for pkg in strongswan-charon strongswan-swanctl libcharon-extra-plugins qemu-system-x86 linux-image-amd64 busybox-static iproute2 libssl-dev gnupg sq dovecot-imapd dovecot-pop3d gpgsm openssh-server openssh-client chromium chromium-driver; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections || true
    apt-get update -qq
    apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "run_tests: missing ${need[*]} (install them, or run as root)" >&2
  fi
fi

python3 -m pip install -q -e '.[test]' 2>&1 | grep -v -E 'WARNING: Running pip as|^$' || true
exec python3 -m pytest -q -p no:cacheprovider "$@"
