#!/bin/sh
# Makes sure Debian's headless-capable `chromium` is on PATH (used by the report screenshot test).
# Installs it with apt-get only when it is missing, and only as root; prints the binary's path on success.
set -eu
if command -v chromium >/dev/null 2>&1; then
  command -v chromium
  exit 0
fi
if [ "$(id -u)" != "0" ]; then
  echo "ensure_chromium: chromium is missing and installing it needs root (apt-get install -y chromium)" >&2
  exit 1
fi
# Serialise with other apt users on this machine.
flock /tmp/apt.lock sh -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium' >&2
command -v chromium
