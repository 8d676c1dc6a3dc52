#!/usr/bin/env bash
# Fuzz throughput: cases per second of the property suites in fuzz/ (release
# build, proptest generation included, one test thread), for the wire (framing),
# the dispatcher, whole sessions and the state-machine model test (one case is a
# sequence of up to 48 steps). Run by ci/bench; alone:
#   benches/fuzz_rate.sh [CASES]      (default 2000 per property; the model 200)
# Prints a markdown table.
set -euo pipefail
cd "$(dirname "$0")/.."
cases=${1:-2000}
case "$cases" in ''|*[!0-9]*) echo "fuzz_rate.sh: CASES must be a number, not '$cases'" >&2; exit 2 ;; esac
model_cases=$(( cases / 10 > 0 ? cases / 10 : 1 ))

cargo test --release --locked --test fuzz --no-run 2>/dev/null

echo "| property | what | cases | seconds | cases/s |"
echo "|---|---|---:|---:|---:|"
measure() {
    local name=$1 what=$2 n=$3 start end
    start=$(date +%s.%N)
    PROPTEST_CASES=$n cargo test --release --locked --test fuzz -q -- --exact "$name" --test-threads 1 >/dev/null 2>&1 \
        || { echo "fuzz_rate.sh: $name failed; run ci/fuzz --cases $n $name" >&2; exit 1; }
    end=$(date +%s.%N)
    python3 -c "import sys; n,s,e=int(sys.argv[1]),float(sys.argv[2]),float(sys.argv[3]); print(f'| \`{sys.argv[4]}\` | {sys.argv[5]} | {n} | {e-s:.1f} | {n/(e-s):.0f} |')" \
        "$n" "$start" "$end" "$name" "$what"
}
measure framing::framing_arbitrary_bytes_never_panic "wire: splitter, 0-512 random bytes" "$cases"
measure resync::resync_probe_on_its_own_line_is_answered "wire + engine: malformed prefix then a probe" "$cases"
measure dispatch::dispatch_one_response_per_message "dispatcher: up to 8 table requests" "$cases"
measure session::session_one_response_per_request_with_its_id_in_order "session: 2 clients, up to 12 requests and HMP lines" "$cases"
measure model::model_engine_agrees_with_the_reference "model test: sequences of up to 48 steps" "$model_cases"
