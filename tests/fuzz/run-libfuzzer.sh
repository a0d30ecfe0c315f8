#!/bin/sh
# run-libfuzzer.sh FUZZER SEEDS DICT ARTIFACTS — one time-boxed libFuzzer run.
#
# libFuzzer adds the inputs it finds to the folder it is given, so it gets a
# copy of the seeds in a temporary folder: the source tree is never written.
# Crashing inputs go to ARTIFACTS (the build folder) so a failure can be
# replayed with `FUZZER crash-…`.
set -eu
fuzzer=$1 seeds=$2 dict=$3 artifacts=$4
work=$(mktemp -d "${TMPDIR:-/tmp}/paldiff-fuzz-XXXXXX")
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT TERM
cp "$seeds"/* "$work"/
"$fuzzer" -max_total_time=30 -rss_limit_mb=2048 -timeout=10 -max_len=8192 \
    -print_final_stats=1 -dict="$dict" -artifact_prefix="$artifacts/" "$work"
