// The process's kernels: their cost corrections (faded ratios of measured to declared CPU time)
// and the counters of their jobs.
#include "runtime/kernel_model.hpp"

#include <algorithm>
#include <deque>
#include <unordered_map>

#include "runtime/executor.hpp"

namespace gilfree::runtime {

void KernelModel::observe_finished(double declared_s, double measured_s) noexcept {
  if (!(declared_s > 0) || !(measured_s >= 0)) return;
  std::lock_guard lock(mu_);
  faded_declared_ = faded_declared_ * kFade + declared_s;
  faded_measured_ = faded_measured_ * kFade + measured_s;
  const double ratio = faded_measured_ / faded_declared_;
  correction_.store(std::clamp(ratio, kMinCorrection, kMaxCorrection), std::memory_order_relaxed);
}

void KernelModel::observe_running(double declared_s, double measured_s) noexcept {
  if (!(declared_s > 0)) return;
  const double floor = std::min(measured_s / declared_s, kMaxCorrection);
  double current = correction_.load(std::memory_order_relaxed);
  while (floor > current &&
         !correction_.compare_exchange_weak(current, floor, std::memory_order_relaxed)) {
  }
}

void Outcomes::count(JobStatus status) noexcept {
  switch (status) {
    case JobStatus::kSucceeded:
      ++succeeded;
      break;
    case JobStatus::kFailed:
      ++failed;
      break;
    case JobStatus::kCancelled:
      ++cancelled;
      break;
    case JobStatus::kDeadlineExceeded:
      ++deadline_exceeded;
      break;
    case JobStatus::kQueued:
    case JobStatus::kRunning:
      break;
  }
}

void KernelModel::count_finished(JobStatus status, double declared_s, double estimated_s,
                                 double measured_s) noexcept {
  std::lock_guard lock(mu_);
  outcomes_.count(status);
  declared_total_ += declared_s;
  estimated_total_ += estimated_s;
  measured_total_ += measured_s;
}

KernelStats KernelModel::stats() const {
  KernelStats s;
  s.name = name_;
  s.submitted = submitted_.load(std::memory_order_relaxed);
  s.inline_runs = inline_runs_.load(std::memory_order_relaxed);
  s.rejected = rejected_.load(std::memory_order_relaxed);
  s.correction = correction();
  std::lock_guard lock(mu_);
  static_cast<Outcomes&>(s) = outcomes_;
  s.declared_cpu_s = declared_total_;
  s.estimated_cpu_s = estimated_total_;
  s.measured_cpu_s = measured_total_;
  return s;
}

namespace {

struct Registry {
  std::mutex mu;
  std::deque<KernelModel> models;  // stable addresses
  std::unordered_map<std::string, KernelModel*> by_name;
};

Registry& registry() {
  static auto* r = new Registry();  // never destroyed: jobs may finish during exit
  return *r;
}

}  // namespace

KernelModel& kernel_model(std::string_view name) {
  Registry& r = registry();
  std::lock_guard lock(r.mu);
  const auto found = r.by_name.find(std::string(name));
  if (found != r.by_name.end()) return *found->second;
  KernelModel& model = r.models.emplace_back(std::string(name));
  r.by_name.emplace(model.name(), &model);
  return model;
}

std::vector<KernelModel*> kernel_models() {
  Registry& r = registry();
  std::lock_guard lock(r.mu);
  std::vector<KernelModel*> out;
  out.reserve(r.models.size());
  for (auto& model : r.models) out.push_back(&model);
  return out;
}

KernelModel& unnamed_kernel() {
  static KernelModel& model = kernel_model("unnamed");
  return model;
}

}  // namespace gilfree::runtime
