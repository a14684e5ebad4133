#!/usr/bin/env bash
# Installs the outside peers of the end-to-end tests, on Debian or Ubuntu:
# chromium, python3-websockets and nginx with apt-get, then npm ws, wscat
# and playwright-core with npm ci in e2e/. .ci/run calls it; run it once
# for a local run, as root or as a user who may sudo:
#
#	bash e2e/install.sh
#
# Node.js 20 or later must be there already (playwright-core needs it;
# Debian 12's nodejs package is 18): from nodejs.org or NodeSource.
set -euo pipefail
cd "$(dirname "$0")"

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
$SUDO apt-get update -qq
# env, not a prefix: sudo would drop a variable set before it.
$SUDO env DEBIAN_FRONTEND=noninteractive \
	apt-get install -y -qq --no-install-recommends chromium python3-websockets nginx
# nginx_test.go starts its own nginx (PATH or /usr/sbin/nginx) on
# 127.0.0.1: no service is needed.

major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$major" -lt 20 ] || ! command -v npm >/dev/null; then
	echo "e2e/install.sh: Node.js 20 or later with npm is needed (found: $(node --version 2>/dev/null || echo none))" >&2
	exit 1
fi
npm ci --no-audit --no-fund
