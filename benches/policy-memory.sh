#!/usr/bin/env bash
# Peak memory (GNU time's maximum resident set size) of `twofold-policy`
# dry-run (table, --json) and diff (nobody changes; everyone changes) over N
# generated users with 25-byte and with 256-byte ids: the figures behind
# MAX_USERS's documentation (crates/twofold-policy-cli/src/users.rs).
#
#   bash benches/policy-memory.sh [N]     (default 2000000; the 256-byte CSV is then 554 MB, in a temporary directory)
#
# Every user is staff or admin without a second factor, first signed in early
# December 2026, so that `diff clinic-optional.toml clinic.toml` changes
# everyone's outcome (allow -> must_enroll) and `diff clinic.toml clinic.toml`
# nobody's.
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-2000000}"
[ -x /usr/bin/time ] || { echo "needs GNU time (/usr/bin/time: apt-get install time)"; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cargo build -q --release -p twofold-policy-cli
bin="${CARGO_TARGET_DIR:-target}/release/twofold-policy"
data=crates/twofold-policy-cli/tests/data

python3 - "$n" "$work" <<'PY'
import sys
n, work = int(sys.argv[1]), sys.argv[2]
for width in (25, 256):
    with open(f"{work}/users-{width}.csv", "w") as f:
        f.write("user,role,methods,backup_codes,first_sign_in,exempt\n")
        rows = []
        for i in range(n):
            uid = f"user-{i:08d}@".ljust(width - len(".example"), "x") + ".example"
            rows.append(f"{uid},{'admin' if i % 20 == 0 else 'staff'},,,2026-12-0{1 + i % 6},\n")
            if len(rows) == 100_000:
                f.write("".join(rows))
                rows = []
        f.write("".join(rows))
PY

printf '%-9s %-10s %-28s %s\n' users "id bytes" command "max RSS MiB"
for width in 25 256; do
  csv="$work/users-$width.csv"
  while IFS='|' read -r label args; do
    # shellcheck disable=SC2086
    /usr/bin/time -f "%M" -o "$work/time" "$bin" $args --users "$csv" \
      --at 2026-12-07T09:00:00Z >/dev/null || true
    kib=$(tail -n 1 "$work/time")
    printf '%-9s %-10s %-28s %s\n' "$n" "$width" "$label" "$(awk "BEGIN{printf \"%.0f\", $kib/1024}")"
  done <<EOT
dry-run (table)|dry-run $data/clinic.toml
dry-run --json|dry-run $data/clinic.toml --json
diff (nobody changes)|diff $data/clinic.toml $data/clinic.toml
diff (everyone changes)|diff $data/clinic-optional.toml $data/clinic.toml
EOT
done
echo "($(nproc) cores, $(uname -m))"
