// The process's executor: configured, held while reconfigured, shut down and restarted.
#include <gtest/gtest.h>

#include <atomic>
#include <cstddef>

#include "runtime/executor.hpp"
#include "runtime/process_executor.hpp"

namespace {

using gilfree::runtime::ChunkContext;

TEST(ProcessExecutor, ConfigureAndShutdown) {
  gilfree::runtime::configure_process_executor(3);
  EXPECT_EQ(gilfree::runtime::process_executor_threads(), 3U);
  auto held = gilfree::runtime::process_executor();
  gilfree::runtime::configure_process_executor(2);  // the held executor stays usable
  std::atomic<int> ran{0};
  held->run(10, [&](std::size_t, const ChunkContext&) { ran.fetch_add(1); });
  EXPECT_EQ(ran.load(), 10);
  EXPECT_EQ(gilfree::runtime::process_executor()->threads(), 2U);
  gilfree::runtime::shutdown_process_executor();
  EXPECT_EQ(gilfree::runtime::process_executor_threads(),
            2U);  // restarts with the configured count
  EXPECT_EQ(gilfree::runtime::process_executor()->threads(), 2U);
  gilfree::runtime::shutdown_process_executor();
}

}  // namespace
