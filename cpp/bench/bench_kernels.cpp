// Microbenchmarks of the process_numbers kernel (Google Benchmark): every SIMD level this CPU runs,
// the one-element-at-a-time reference loop, and ops::process_numbers on an Executor of 1..N
// threads. Each benchmark counts one item per step (number x iteration), so items_per_second is
// steps per second and time_per_step its inverse.
//
//   cmake -S . -B build/bench -G Ninja -DGILFREE_BUILD_TESTS=OFF -DGILFREE_BUILD_BENCH=ON
//   cmake --build build/bench --target gilfree_bench
//   build/bench/gilfree_bench [--max_threads=N] [--benchmark_filter=...] [--benchmark_min_time=...]
#include <benchmark/benchmark.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "kernels/process_numbers.hpp"
#include "ops.hpp"
#include "runtime/cpu_info.hpp"
#include "runtime/executor.hpp"
#include "runtime/kernel_abi.hpp"

namespace {

namespace kernels = gilfree::kernels;

constexpr std::uint64_t kIterations = 1000;
// Numbers per call: large enough that the per-call cost vanishes, small enough that the slow
// loops finish a call in well under a second.
constexpr std::size_t kKernelNumbers = std::size_t{1} << 16;
// The Python benchmark's size: enough chunks for every worker of a large machine.
constexpr std::size_t kExecutorNumbers = std::size_t{1} << 20;

// The same random int64 for every benchmark (fixed seed), across the whole int64 range.
std::span<const std::int64_t> input(std::size_t count) {
  static const std::vector<std::int64_t> numbers = [] {
    std::mt19937_64 engine(20240601U);
    std::vector<std::int64_t> values(kExecutorNumbers);
    for (auto& value : values) {
      value = static_cast<std::int64_t>(engine());
    }
    return values;
  }();
  return std::span<const std::int64_t>(numbers).first(count);
}

// Steps per call as items, and their inverse as a per-step time.
void count_steps(benchmark::State& state, std::size_t numbers, std::uint64_t iterations) {
  const auto steps = static_cast<std::int64_t>(numbers * iterations);
  state.SetItemsProcessed(state.iterations() * steps);
  state.counters["time_per_step"] =
      benchmark::Counter(static_cast<double>(steps), benchmark::Counter::kIsIterationInvariantRate |
                                                         benchmark::Counter::kInvert);
  state.counters["numbers"] = static_cast<double>(numbers);
  state.counters["iterations"] = static_cast<double>(iterations);
}

void bm_level(benchmark::State& state, kernels::SimdLevel level) {
  const auto in = input(kKernelNumbers);
  std::vector<std::int64_t> out(kKernelNumbers);
  for (auto _ : state) {
    kernels::process_numbers_at(level, in, out, kIterations);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  count_steps(state, kKernelNumbers, kIterations);
}

void bm_reference(benchmark::State& state) {
  const auto in = input(kKernelNumbers);
  std::vector<std::int64_t> out(kKernelNumbers);
  for (auto _ : state) {
    kernels::process_numbers_reference(in, out, kIterations);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  count_steps(state, kKernelNumbers, kIterations);
}

void bm_executor(benchmark::State& state, unsigned threads) {
  gilfree::runtime::Executor executor(threads);
  const auto in = input(kExecutorNumbers);
  std::vector<std::int64_t> out(kExecutorNumbers);
  for (auto _ : state) {
    // Through the C boundary, as gilfree's kernels run; the handle waits for the job as it goes.
    const auto job =
        gilfree::runtime::start_job(executor, gilfree::ops::kProcessNumbers,
                                    gilfree::ops::ProcessNumbers(in, out, kIterations));
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  count_steps(state, kExecutorNumbers, kIterations);
  state.counters["threads"] = threads;
}

// --max_threads=N caps the executor sweep (default: the CPUs this process may use).
unsigned take_max_threads(int& argc, char** argv) {
  unsigned max_threads = gilfree::runtime::usable_cpus();
  constexpr std::string_view kFlag = "--max_threads=";
  int kept = 1;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg(argv[i]);
    if (arg.starts_with(kFlag)) {
      const auto value = std::strtoul(arg.substr(kFlag.size()).data(), nullptr, 10);
      max_threads = value > 0 ? static_cast<unsigned>(value) : max_threads;
    } else {
      argv[kept++] = argv[i];
    }
  }
  argc = kept;
  return max_threads;
}

void register_benchmarks(unsigned max_threads) {
  for (const auto level : kernels::supported_simd_levels()) {
    const std::string name = "process_numbers_at/" + std::string(kernels::simd_level_name(level));
    benchmark::RegisterBenchmark(name.c_str(), bm_level, level)->Unit(benchmark::kMillisecond);
  }
  benchmark::RegisterBenchmark("process_numbers_reference", bm_reference)
      ->Unit(benchmark::kMillisecond);
  for (unsigned threads = 1; threads <= max_threads; ++threads) {
    const std::string name = "ops_process_numbers/threads:" + std::to_string(threads);
    // Wall-clock time: the workers do the work, not the calling thread.
    benchmark::RegisterBenchmark(name.c_str(), bm_executor, threads)
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
  }
}

}  // namespace

int main(int argc, char** argv) {
  const unsigned max_threads = take_max_threads(argc, argv);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) {
    return 1;
  }
  benchmark::AddCustomContext("usable_cpus", std::to_string(gilfree::runtime::usable_cpus()));
  std::string levels;
  for (const auto level : kernels::supported_simd_levels()) {
    if (!levels.empty()) {
      levels += ',';
    }
    levels += kernels::simd_level_name(level);
  }
  benchmark::AddCustomContext("simd_levels", levels);
  register_benchmarks(max_threads);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
