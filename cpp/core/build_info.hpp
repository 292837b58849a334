// Facts about this build of the core: version, compiler, build type.
#pragma once

#include <string>

namespace gilfree {

struct BuildInfo {
  std::string version;
  std::string compiler;
  std::string build_type;
};

[[nodiscard]] BuildInfo build_info();

}  // namespace gilfree
