#!/usr/bin/env bash
# Cold `cargo build --tests` of a small crate that depends on async-testkit (default
# features), against the same crate depending only on the kit's own default dependencies
# (tokio with the same features, tokio-test, futures-core, and syn/quote/proc-macro2 for
# the attributes).
#
#   bash benches/cold_build.sh [rounds]      # default 3 rounds, medians reported
#
# Each round builds both crates from an empty target directory, one after the other.
# Needs the registry already fetched (run `cargo fetch` in the repository first).
set -euo pipefail
# Each crate builds into its own target directory: a CARGO_TARGET_DIR from the caller's
# shell would send both builds into one warm directory and time nothing cold.
unset CARGO_TARGET_DIR
rounds=${1:-3}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tokio_features=$(sed -n 's/^tokio = { version = "\([^"]*\)", features = \(\[[^]]*\]\) }$/\2/p' "$root/Cargo.toml" | head -1)

make_crate() { # name, dev-dependencies
  mkdir -p "$work/$1/src" "$work/$1/tests"
  cat > "$work/$1/Cargo.toml" <<TOML
[package]
name = "$1"
version = "0.1.0"
edition = "2024"

[dev-dependencies]
$2
TOML
  echo 'pub fn answer() -> u32 { 42 }' > "$work/$1/src/lib.rs"
}
make_crate with_kit "async-testkit = { path = \"$root\" }
tokio = { version = \"1\", features = [\"sync\"] }"
# The kit is a path dependency here, and cargo builds path dependencies incrementally
# (slower from cold); from crates.io it is not. Build it as a registry crate would be.
cat >> "$work/with_kit/Cargo.toml" <<'TOML'

[profile.dev.package.async-testkit]
incremental = false

[profile.dev.package.async-testkit-macros]
incremental = false
TOML
cat > "$work/with_kit/tests/t.rs" <<'RS'
#[async_testkit::test]
async fn answers() {
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    assert_eq!(with_kit::answer(), 42);
}
RS
make_crate baseline "tokio = { version = \"1\", features = $tokio_features }
tokio-test = \"0.4\"
futures-core = \"0.3\"
syn = { version = \"2\", features = [\"full\", \"visit\"] }
quote = \"1\"
proc-macro2 = \"1\""
sed -i 's/^tokio = { version = "1", features = \[/tokio = { version = "1", features = ["sync", /' "$work/baseline/Cargo.toml"
cat > "$work/baseline/tests/t.rs" <<'RS'
#[test]
fn answers() {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().start_paused(true).build().unwrap();
    rt.block_on(async { tokio::time::sleep(std::time::Duration::from_secs(1)).await });
    assert_eq!(baseline::answer(), 42);
}
RS
# Share the lock file so both resolve the same versions.
cp "$root/Cargo.lock" "$work/with_kit/Cargo.lock"
cp "$root/Cargo.lock" "$work/baseline/Cargo.lock"

time_build() { # crate -> seconds
  rm -rf "$work/$1/target"
  local start end
  start=$(date +%s.%N)
  (cd "$work/$1" && cargo build --tests --offline -q 2>/dev/null || cargo build --tests -q)
  end=$(date +%s.%N)
  echo "$end - $start" | bc
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

kit=(); base=()
for _ in $(seq "$rounds"); do
  kit+=("$(time_build with_kit)")
  base+=("$(time_build baseline)")
done
k=$(printf '%s\n' "${kit[@]}" | median)
b=$(printf '%s\n' "${base[@]}" | median)
printf 'cold cargo build --tests, median of %s rounds\n' "$rounds"
printf '  with async-testkit      %6.1f s   (%s)\n' "$k" "${kit[*]}"
printf '  kit dependencies only   %6.1f s   (%s)\n' "$b" "${base[*]}"
printf '  ratio                   %6.2fx\n' "$(echo "$k / $b" | bc -l)"
