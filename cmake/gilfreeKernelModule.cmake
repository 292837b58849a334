# gilfree_add_kernel_module(NAME sources... [nanobind_add_module options]): a Python extension
# module of kernels for gilfree's runtime, as nanobind_add_module makes one, compiled against
# gilfree's public kernel API (gilfree::kernel_api) and optimised for speed (NOMINSIZE: kernels
# are CPU-bound code, not glue). Used by gilfree's own build and by its CMake package alike.
function(gilfree_add_kernel_module name)
  if(NOT COMMAND nanobind_add_module)
    message(FATAL_ERROR "gilfree_add_kernel_module needs nanobind: find_package(nanobind CONFIG "
                        "REQUIRED) first (and list nanobind in the build requirements)")
  endif()
  nanobind_add_module(${name} NOMINSIZE ${ARGN})
  target_link_libraries(${name} PRIVATE gilfree::kernel_api)
  target_compile_features(${name} PRIVATE cxx_std_20)
endfunction()
