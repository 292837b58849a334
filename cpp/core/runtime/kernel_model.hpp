// KernelModel: what the runtime knows of one kernel: its jobs' outcomes and how far their declared
// costs are from the CPU time they measured, which corrects the estimates admission counts.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace gilfree::runtime {

enum class JobStatus : std::uint8_t;

// How finished jobs ended (an executor's, or a kernel's).
struct Outcomes {
  std::uint64_t succeeded = 0;
  std::uint64_t failed = 0;
  std::uint64_t cancelled = 0;
  std::uint64_t deadline_exceeded = 0;
  void count(JobStatus status) noexcept;
};

struct KernelStats : Outcomes {
  std::string name;
  std::uint64_t submitted = 0;    // jobs admitted to the workers
  std::uint64_t inline_runs = 0;  // jobs run at once on the calling thread
  std::uint64_t rejected = 0;
  double declared_cpu_s = 0;   // of finished jobs, as their kernel declared them
  double estimated_cpu_s = 0;  // of finished jobs, as admission estimated them
  double measured_cpu_s = 0;   // of finished jobs, measured on the threads that ran them
  double correction = 1.0;     // measured / declared, as admission now applies it
};

// Process-wide and never destroyed: executors come and go, a kernel's history stays.
class KernelModel {
 public:
  explicit KernelModel(std::string name) : name_(std::move(name)) {}
  KernelModel(const KernelModel&) = delete;
  KernelModel& operator=(const KernelModel&) = delete;

  [[nodiscard]] const std::string& name() const noexcept { return name_; }

  // measured / declared: 1 until a job has finished; applied to every declared cost.
  [[nodiscard]] double correction() const noexcept {
    return correction_.load(std::memory_order_relaxed);
  }
  [[nodiscard]] double estimate_s(double declared_s) const noexcept {
    return declared_s * correction();
  }

  // A job that ran to the end: its measured CPU time against its declared cost. The correction
  // becomes the ratio of the two, summed over the recent jobs (each weighted by its size, older
  // ones fading by kFade per job), so one job corrects a wrong declaration and a kernel whose
  // cost changes is followed within a few jobs.
  void observe_finished(double declared_s, double measured_s) noexcept;
  // A running job has used `measured_s` so far: when that is already more than the estimate of
  // the whole job, the correction rises at once (a lower bound until the job finishes), so a
  // kernel that declares far too little cannot flood the queue before its first job ends.
  void observe_running(double declared_s, double measured_s) noexcept;

  void count_submitted() noexcept { submitted_.fetch_add(1, std::memory_order_relaxed); }
  void count_inline() noexcept { inline_runs_.fetch_add(1, std::memory_order_relaxed); }
  void count_rejected() noexcept { rejected_.fetch_add(1, std::memory_order_relaxed); }
  // A finished job (queued or inline): its outcome and costs.
  void count_finished(JobStatus status, double declared_s, double estimated_s,
                      double measured_s) noexcept;

  [[nodiscard]] KernelStats stats() const;

  // How much of the weight of each earlier job remains at the next.
  static constexpr double kFade = 0.75;
  // The correction stays within these: a declaration a million times off is a bug, not a guess.
  static constexpr double kMinCorrection = 1e-6;
  static constexpr double kMaxCorrection = 1e6;

 private:
  const std::string name_;
  std::atomic<double> correction_{1.0};
  std::atomic<std::uint64_t> submitted_{0}, inline_runs_{0}, rejected_{0};

  mutable std::mutex mu_;
  double faded_declared_ = 0;  // guarded by mu_, as the rest
  double faded_measured_ = 0;
  Outcomes outcomes_;
  double declared_total_ = 0, estimated_total_ = 0, measured_total_ = 0;
};

// The kernel of that name, created on first use (the same object for the same name from then on,
// for the life of the process).
[[nodiscard]] KernelModel& kernel_model(std::string_view name);
// Every kernel created so far, in the order they were created.
[[nodiscard]] std::vector<KernelModel*> kernel_models();
// The kernel jobs without one of their own are counted under ("unnamed").
[[nodiscard]] KernelModel& unnamed_kernel();

}  // namespace gilfree::runtime
