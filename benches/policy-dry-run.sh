#!/usr/bin/env bash
# `twofold-policy dry-run` over 10,000 and 100,000 generated users: wall time
# and peak memory (GNU time's maximum resident set size), table and --json,
# output to /dev/null, side by side so the scaling shows as a ratio.
#
#   bash benches/policy-dry-run.sh [RUNS]     (default 3 runs each; the best wall time, the largest RSS)
#
# The CSVs are deterministic (a fixed linear congruential generator): mostly
# staff, some admins and owners, a few roles the clinic policy does not name
# (so the run exits 1: someone would be blocked), a mix of methods, backup
# codes, exemptions and first sign-ins as dates, RFC 3339 and Unix seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-3}"
[ -x /usr/bin/time ] || { echo "needs GNU time (/usr/bin/time: apt-get install time)"; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cargo build -q --release -p twofold-policy-cli
bin="${CARGO_TARGET_DIR:-target}/release/twofold-policy"
policy=crates/twofold-policy-cli/tests/data/clinic.toml

generate() { # generate N FILE
  python3 - "$1" "$2" <<'PY'
import sys
n, path = int(sys.argv[1]), sys.argv[2]
state = 20261207
def rand(k):
    global state
    state = (state * 6364136223846793005 + 1442695040888963407) % 2**64
    return (state >> 33) % k
with open(path, "w") as f:
    f.write("user,role,methods,backup_codes,first_sign_in,exempt\n")
    for i in range(n):
        r = rand(1000)
        role = ("owner" if r < 10 else "admin" if r < 60 else
                ("member", "contractor")[r % 2] if r < 65 else "staff")
        methods = ("", "", "totp", "passkey", "totp;passkey")[rand(5)]
        backup = ("yes", "") [rand(2)] if methods else ""
        f_ = rand(4)
        first = ("", f"2026-12-{1 + rand(7):02d}", f"2026-12-0{1 + rand(6)}T{rand(24):02d}:00:00Z",
                 str(1796500000 + rand(200000)))[f_]
        exempt = "yes" if rand(200) == 0 else ""
        f.write(f"user-{i:06d}@clinic.example,{role},{methods},{backup},{first},{exempt}\n")
PY
}

measure() { # measure FILE [--json] -> "wall_s rss_kib status"
  local best="" rss=0 status=0
  for _ in $(seq "$runs"); do
    status=0
    # GNU time's %e has 10 ms steps, too coarse for 10,000 users: the wall
    # time is bash's microsecond clock around the same run.
    start=$EPOCHREALTIME
    /usr/bin/time -f "%e %M" -o "$work/time" "$bin" dry-run "$policy" --users "$1" \
      --at 2026-12-07T09:00:00Z ${2:-} >/dev/null || status=$?
    end=$EPOCHREALTIME
    # GNU time writes "Command exited with non-zero status 1" first when it did.
    read -r _ kib < <(tail -n 1 "$work/time")
    wall=$(awk "BEGIN{printf \"%.4f\", $end - $start}")
    if [ -z "$best" ] || awk "BEGIN{exit !($wall < $best)}"; then best=$wall; fi
    [ "$kib" -gt "$rss" ] && rss=$kib
  done
  echo "$best $rss $status"
}

printf '%-8s %-9s %-6s %-8s %-13s %s\n' users "csv" format "wall s" "max RSS MiB" "exit"
declare -A wall rss
for n in 10000 100000; do
  generate "$n" "$work/users-$n.csv"
  size=$(stat -c %s "$work/users-$n.csv")
  for format in table json; do
    flag=""; [ "$format" = json ] && flag=--json
    read -r w k s < <(measure "$work/users-$n.csv" $flag)
    wall[$n$format]=$w; rss[$n$format]=$k
    printf '%-8s %-9s %-6s %-8s %-13s %s\n' "$n" "$(awk "BEGIN{printf \"%.1f MiB\", $size/1048576}")" \
      "$format" "$w" "$(awk "BEGIN{printf \"%.1f\", $k/1024}")" "$s"
  done
done
for format in table json; do
  awk -v f="$format" -v w1="${wall[10000$format]}" -v w2="${wall[100000$format]}" \
    -v r1="${rss[10000$format]}" -v r2="${rss[100000$format]}" \
    'BEGIN{printf "100,000 / 10,000 users (%s): wall x%.1f, max RSS x%.1f\n", f, (w1 > 0 ? w2/w1 : 0), r2/r1}'
done
echo "($runs runs each: the best wall time and the largest RSS; $(nproc) cores, $(uname -m))"
