// StopPoll: how a long kernel run asks whether it should stop early (no standard library inside).
#pragma once

namespace gilfree::kernels {

// Polled by long kernel runs; true means stop now, leaving the output unfinished.
using StopPoll = bool (*)(const void* context) noexcept;

}  // namespace gilfree::kernels
