#!/usr/bin/env bash
# Install Debian's openssh-server for the ssh device tests (the tests start their own sshd on
# 127.0.0.1 with their own keys and config; the system's ssh service is not used). Needs root
# and apt-get; elsewhere it says so and exits 0, and those tests are skipped with the reason.
set -uo pipefail
if command -v sshd >/dev/null 2>&1 || [ -x /usr/sbin/sshd ]; then echo "sshd: installed"; exit 0; fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "sshd: not installed and cannot install it here (needs root and apt-get): the ssh tests will be skipped"
  exit 0
fi
echo "sshd: installing Debian's openssh-server"
(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends openssh-server) \
  >/tmp/fdi-sshd-install.log 2>&1 \
  || echo "sshd: apt-get install failed (see /tmp/fdi-sshd-install.log): the ssh tests will be skipped"
exit 0
