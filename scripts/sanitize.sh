#!/usr/bin/env bash
# Runs torchimage's tests under sanitizers (docs/reliability.md), with clang:
#   asan: build-asan (TORCHIMAGE_SANITIZE=address,undefined): the whole ctest
#         suite except the Python tests, the README's examples and the consumer
#         projects (they load or build an uninstrumented torchimage),
#         LeakSanitizer on;
#   tsan: build-tsan (TORCHIMAGE_SANITIZE=thread): the writer, file-sink and parallel-parts
#         tests and the SummaryWriter's (test_writer, test_writer_faults, test_parallel_parts,
#         test_file_sink, test_summary_writer).
# LibTorch is not instrumented: its intra-op thread pool is limited to one
# thread under TSan (OMP_NUM_THREADS=1), so that every thread TSan sees is
# ours; suppressions (tests/sanitizers/*.supp) name only LibTorch frames.
#   scripts/sanitize.sh [asan|tsan|all]     (default all)
# Build folders: ASAN_BUILD_DIR (build-asan), TSAN_BUILD_DIR (build-tsan).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
what=${1:-all}
case "$what" in asan|tsan|all) ;; *) echo "usage: $0 [asan|tsan|all]" >&2; exit 2 ;; esac
jobs=$(nproc)
scripts/install-deps.sh

configure() {  # build-dir sanitizers
  CC=clang CXX=clang++ cmake -S . -B "$1" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DTORCHIMAGE_SANITIZE="$2" -DTORCHIMAGE_BUILD_EXAMPLES=OFF \
    -DTORCHIMAGE_BUILD_BENCHMARKS=OFF -DTORCHIMAGE_BUILD_PYTHON=OFF >/dev/null
}

status=0
if [ "$what" != tsan ]; then
  dir=${ASAN_BUILD_DIR:-build-asan}
  echo "sanitize: ASan + UBSan in $dir" >&2
  configure "$dir" address,undefined
  cmake --build "$dir" -j"$jobs"
  export ASAN_OPTIONS="detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1:check_initialization_order=1:abort_on_error=0"
  export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
  export LSAN_OPTIONS="suppressions=$root/tests/sanitizers/lsan.supp:print_suppressions=0"
  (cd "$dir" && ctest --output-on-failure -j"$jobs" -E '^(python_tests|readme_.*|consumer_.*|example_.*)$') || status=1
fi
if [ "$what" != asan ]; then
  dir=${TSAN_BUILD_DIR:-build-tsan}
  echo "sanitize: TSan in $dir" >&2
  configure "$dir" thread
  cmake --build "$dir" -j"$jobs" --target torchimage_thread_tests
  export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:suppressions=$root/tests/sanitizers/tsan.supp"
  export OMP_NUM_THREADS=1
  for t in test_writer test_writer_faults test_file_sink test_parallel_parts test_summary_writer; do
    echo "sanitize: TSan $t" >&2
    filter=()  # the CLI is not built under TSan: its tests run in the other builds
    [ "$t" = test_summary_writer ] && filter=('--gtest_filter=-SummaryWriterCli.*')
    "$dir/tests/$t" --gtest_brief=1 "${filter[@]}" || status=1
  done
fi
exit "$status"
