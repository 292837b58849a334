// Usable CPUs (affinity and cgroup v2 quota) and the CPU's SIMD sets, read at run time.
#include "runtime/cpu_info.hpp"

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#if defined(__linux__)
#include <pthread.h>
#include <sched.h>
#endif

namespace gilfree::runtime {
namespace {

unsigned affinity_cpus() {
  const std::vector<unsigned> cpus = affinity_cpu_list();
  if (!cpus.empty()) return static_cast<unsigned>(cpus.size());
  return std::max(1U, std::thread::hardware_concurrency());
}

std::optional<std::string> read_file(const std::filesystem::path& path) {
  std::ifstream file(path);
  if (!file) return std::nullopt;
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

// The smallest cgroup v2 quota from this process's cgroup up to the root, if any.
std::optional<unsigned> cgroup_quota_cpus() {
  const auto membership = read_file("/proc/self/cgroup");
  if (!membership) return std::nullopt;
  // cgroup v2 has a single line "0::/path".
  std::istringstream lines(*membership);
  std::string line;
  std::optional<std::string> relative;
  while (std::getline(lines, line)) {
    if (line.rfind("0::", 0) == 0) relative = line.substr(3);
  }
  if (!relative) return std::nullopt;
  std::optional<unsigned> best;
  std::filesystem::path dir = std::filesystem::path("/sys/fs/cgroup") / relative->substr(1);
  for (;;) {
    if (const auto text = read_file(dir / "cpu.max")) {
      if (const auto cpus = parse_cpu_max(*text)) best = best ? std::min(*best, *cpus) : *cpus;
    }
    if (dir == "/sys/fs/cgroup" || !dir.has_parent_path() || dir.parent_path() == dir) break;
    dir = dir.parent_path();
  }
  return best;
}

}  // namespace

std::vector<unsigned> affinity_cpu_list() {
  std::vector<unsigned> cpus;
#if defined(__linux__)
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    for (unsigned cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
      if (CPU_ISSET(cpu, &set)) cpus.push_back(cpu);
    }
  }
#endif
  return cpus;
}

bool pin_thread(std::thread& thread, unsigned cpu) noexcept {
#if defined(__linux__)
  if (cpu >= CPU_SETSIZE) return false;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  return pthread_setaffinity_np(thread.native_handle(), sizeof(set), &set) == 0;
#else
  (void)thread;
  (void)cpu;
  return false;
#endif
}

std::optional<unsigned> parse_cpu_max(std::string_view text) {
  const auto space = text.find(' ');
  if (space == std::string_view::npos) return std::nullopt;
  const std::string_view quota_text = text.substr(0, space);
  std::string_view period_text = text.substr(space + 1);
  while (!period_text.empty() && (period_text.back() == '\n' || period_text.back() == ' ')) {
    period_text.remove_suffix(1);
  }
  if (quota_text == "max") return std::nullopt;
  unsigned long long quota = 0;
  unsigned long long period = 0;
  const auto q = std::from_chars(quota_text.data(), quota_text.data() + quota_text.size(), quota);
  const auto p =
      std::from_chars(period_text.data(), period_text.data() + period_text.size(), period);
  if (q.ec != std::errc{} || p.ec != std::errc{} ||
      q.ptr != quota_text.data() + quota_text.size() ||
      p.ptr != period_text.data() + period_text.size() || period == 0 || quota == 0) {
    return std::nullopt;
  }
  const unsigned long long cpus = (quota + period - 1) / period;
  return static_cast<unsigned>(std::min<unsigned long long>(cpus, 1U << 20));
}

unsigned usable_cpus() {
  unsigned cpus = affinity_cpus();
  if (const auto quota = cgroup_quota_cpus()) cpus = std::min(cpus, *quota);
  return std::max(1U, cpus);
}

std::vector<std::string> simd_features() {
  std::vector<std::string> found;
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("sse4.2")) found.emplace_back("sse4.2");
  if (__builtin_cpu_supports("avx2")) found.emplace_back("avx2");
  if (__builtin_cpu_supports("avx512f")) found.emplace_back("avx512f");
  if (__builtin_cpu_supports("avx512bw")) found.emplace_back("avx512bw");
  if (__builtin_cpu_supports("avx512vl")) found.emplace_back("avx512vl");
#elif defined(__aarch64__)
  found.emplace_back("neon");
#endif
  return found;
}

}  // namespace gilfree::runtime
