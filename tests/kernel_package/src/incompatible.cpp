// A kernel module that claims another kernel ABI (set by CMakeLists.txt): its import must fail
// with an ImportError naming both versions, never crash.
#include <nanobind/nanobind.h>
#include <gilfree/python.hpp>

NB_MODULE(MODULE_NAME, m) {
  gilfree::python::import_runtime();
  m.attr("imported") = true;
}
