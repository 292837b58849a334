// Build facts, baked in by CMake at compile time.
#include "build_info.hpp"

#ifndef GILFREE_VERSION
#define GILFREE_VERSION "0.0.0+unknown"
#endif
#ifndef GILFREE_BUILD_TYPE
#define GILFREE_BUILD_TYPE "unknown"
#endif

namespace gilfree {

BuildInfo build_info() {
#if defined(__clang__)
  const std::string compiler = std::string("clang ") + __clang_version__;
#elif defined(__GNUC__)
  const std::string compiler = std::string("gcc ") + __VERSION__;
#else
  const std::string compiler = "unknown";
#endif
  return BuildInfo{GILFREE_VERSION, compiler, GILFREE_BUILD_TYPE};
}

}  // namespace gilfree
