// The gilfree._kernels extension module: gilfree's own kernels, built as any kernel module is
// (gilfree_add_kernel_module) and reaching the runtime in gilfree._core only through its C table.
#include <nanobind/nanobind.h>
#include <gilfree/python.hpp>

namespace nb = nanobind;

namespace gilfree::bindings {
void bind_kernels(nb::module_& m);
void bind_wire(nb::module_& m);
void bind_arrow(nb::module_& m);
}  // namespace gilfree::bindings

NB_MODULE(_kernels, m) {
  m.doc() = "gilfree's own kernels (internal: use the gilfree package).";
  gilfree::python::import_runtime();
  gilfree::bindings::bind_kernels(m);
  gilfree::bindings::bind_wire(m);
  gilfree::bindings::bind_arrow(m);
}
