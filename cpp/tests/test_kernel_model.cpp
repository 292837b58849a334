// KernelModel: the correction of a kernel's declared costs by what its jobs measured, and the
// process-wide registry of kernels.
#include <gtest/gtest.h>

#include <string>

#include "runtime/executor.hpp"
#include "runtime/kernel_model.hpp"

namespace {

using gilfree::runtime::JobStatus;
using gilfree::runtime::KernelModel;

TEST(KernelModel, DeclarationsCountAsTheyAreUntilAJobHasFinished) {
  KernelModel model("fresh");
  EXPECT_DOUBLE_EQ(model.correction(), 1.0);
  EXPECT_DOUBLE_EQ(model.estimate_s(0.25), 0.25);
}

TEST(KernelModel, ADeclarationTenTimesTooLowIsCorrectedByTheFirstJob) {
  for (const double wrong_by : {10.0, 0.1}) {
    KernelModel model("wrong");
    // Jobs of various sizes, each measuring wrong_by times its declaration, give or take 10%.
    const double declared[] = {1e-3, 4e-3, 2e-4, 1e-3};
    const double noise[] = {1.1, 0.9, 1.05, 0.95};
    for (int i = 0; i < 4; ++i) {
      model.observe_finished(declared[i], declared[i] * wrong_by * noise[i]);
      EXPECT_NEAR(model.correction() / wrong_by, 1.0, 0.2) << "after job " << i + 1;
    }
  }
}

TEST(KernelModel, AKernelWhoseCostChangesIsFollowedWithinAFewJobs) {
  KernelModel model("changing");
  for (int i = 0; i < 10; ++i) model.observe_finished(1e-3, 1e-3);
  EXPECT_NEAR(model.correction(), 1.0, 1e-12);
  int jobs = 0;
  while (model.correction() < 1.8 && jobs < 20) {
    model.observe_finished(1e-3, 2e-3);  // twice as costly from now on
    ++jobs;
  }
  EXPECT_LE(jobs, 6);
}

TEST(KernelModel, ARunningJobRaisesTheCorrectionAtOnceButNeverLowersIt) {
  KernelModel model("running");
  model.observe_running(1e-3, 0.5e-3);  // within its estimate: nothing learnt yet
  EXPECT_DOUBLE_EQ(model.correction(), 1.0);
  model.observe_running(1e-3, 5e-3);  // already five times its whole estimate
  EXPECT_DOUBLE_EQ(model.correction(), 5.0);
  model.observe_running(1e-3, 2e-3);
  EXPECT_DOUBLE_EQ(model.correction(), 5.0);
  // The finished job's full measure then sets it.
  model.observe_finished(1e-3, 8e-3);
  EXPECT_DOUBLE_EQ(model.correction(), 8.0);
}

TEST(KernelModel, TheCorrectionStaysWithinItsBounds) {
  KernelModel model("absurd");
  model.observe_finished(1.0, 1e12);
  EXPECT_DOUBLE_EQ(model.correction(), KernelModel::kMaxCorrection);
  KernelModel tiny("tiny");
  tiny.observe_finished(1.0, 0.0);
  EXPECT_DOUBLE_EQ(tiny.correction(), KernelModel::kMinCorrection);
  KernelModel ignored("ignored");
  ignored.observe_finished(0.0, 1.0);  // nothing declared: nothing to correct
  ignored.observe_running(0.0, 1.0);
  EXPECT_DOUBLE_EQ(ignored.correction(), 1.0);
}

TEST(KernelModel, CountsOutcomesAndCosts) {
  KernelModel model("counted");
  model.count_submitted();
  model.count_inline();
  model.count_rejected();
  model.count_finished(JobStatus::kSucceeded, 1.0, 2.0, 3.0);
  model.count_finished(JobStatus::kCancelled, 0.5, 0.5, 0.25);
  model.count_finished(JobStatus::kDeadlineExceeded, 0, 0, 0);
  model.count_finished(JobStatus::kFailed, 0, 0, 0);
  const auto s = model.stats();
  EXPECT_EQ(s.name, "counted");
  EXPECT_EQ(s.submitted, 1U);
  EXPECT_EQ(s.inline_runs, 1U);
  EXPECT_EQ(s.rejected, 1U);
  EXPECT_EQ(s.succeeded, 1U);
  EXPECT_EQ(s.cancelled, 1U);
  EXPECT_EQ(s.deadline_exceeded, 1U);
  EXPECT_EQ(s.failed, 1U);
  EXPECT_DOUBLE_EQ(s.declared_cpu_s, 1.5);
  EXPECT_DOUBLE_EQ(s.estimated_cpu_s, 2.5);
  EXPECT_DOUBLE_EQ(s.measured_cpu_s, 3.25);
}

TEST(KernelRegistry, OneModelPerNameForTheLifeOfTheProcess) {
  KernelModel& a = gilfree::runtime::kernel_model("test.registry.a");
  EXPECT_EQ(&a, &gilfree::runtime::kernel_model("test.registry.a"));
  EXPECT_NE(&a, &gilfree::runtime::kernel_model("test.registry.b"));
  bool listed = false;
  for (const KernelModel* model : gilfree::runtime::kernel_models()) listed |= model == &a;
  EXPECT_TRUE(listed);
  EXPECT_EQ(gilfree::runtime::unnamed_kernel().name(), "unnamed");
}

}  // namespace
