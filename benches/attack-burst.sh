#!/usr/bin/env bash
# The attack-burst benchmark (benches/benches/attack_burst.rs) on this commit
# and on BASE (default: HEAD^), back to back on this machine, in one run.
# BASE is built in a temporary worktree with this bench file, compiled with
# `--cfg twofold_parent` for the older API.
#
#   bash benches/attack-burst.sh [BASE]
set -euo pipefail
cd "$(dirname "$0")/.."
base="${1:-HEAD^}"
work=$(mktemp -d)
trap 'git worktree remove --force "$work/base" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
git worktree add --detach "$work/base" "$base" >/dev/null
cp benches/benches/attack_burst.rs "$work/base/benches/benches/attack_burst.rs"
cp benches/build.rs "$work/base/benches/build.rs"
manifest="$work/base/benches/Cargo.toml"
grep -q 'tracking-allocator' "$manifest" ||
  sed -i 's/^\[dev-dependencies\]$/[dev-dependencies]\ntracking-allocator = { version = "0.4", default-features = false }/' "$manifest"
grep -q 'name = "attack_burst"' "$manifest" ||
  printf '\n[[bench]]\nname = "attack_burst"\nharness = false\n' >>"$manifest"

echo "== building and running $(git rev-parse --short "$base") (base)"
(cd "$work/base" && CARGO_TARGET_DIR="$work/target" RUSTFLAGS="--cfg twofold_parent" \
  cargo bench -q -p twofold-benches --bench attack_burst 2>/dev/null) | tee "$work/base.txt"
echo
echo "== building and running $(git rev-parse --short HEAD) (this commit)"
cargo bench -q -p twofold-benches --bench attack_burst 2>/dev/null | tee "$work/head.txt"
echo
echo "== side by side (base | this commit)"
paste -d '|' "$work/base.txt" "$work/head.txt" | column -t -s '|'
