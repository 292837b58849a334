// gilfree's public kernel API for Python modules (nanobind): one definition of a job gives a
// gilfree.Kernel, called synchronously or awaited through gilfree.aio, on gilfree's executor.
//
//   NB_MODULE(demo, m) {
//     gilfree::python::import_runtime();  // ImportError if gilfree is incompatible
//     gilfree::python::def_kernel(m, "scores", [](std::vector<std::string> words) {
//       return Scores(std::move(words));  // a job (see <gilfree/kernel.hpp>)
//     }, nb::arg("words"));
//   }
//
// `demo.scores(words)` then runs the job on the pool and blocks with the GIL released;
// `await gilfree.aio.run(demo.scores, words)` awaits it without occupying a Python thread, and
// cancelling the awaiting task cancels the job. The function that makes the job runs with the GIL
// (its arguments are converted by nanobind as usual); the job's result() is converted to Python
// by nanobind's casters (or returned as is when it is a nanobind object).
#pragma once

#include <nanobind/nanobind.h>
#include <nanobind/stl/optional.h>
#include <gilfree/kernel.hpp>

#include <concepts>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

#ifndef GILFREE_HEADERS_VERSION
#define GILFREE_HEADERS_VERSION "unknown"  // set by gilfree's CMake package
#endif

namespace gilfree::python {

namespace detail {

namespace nb = nanobind;

// Raises gilfree.errors.<name>(message[, index]) as the current Python exception.
inline void set_gilfree_error(const char* name, const char* message,
                              std::optional<std::size_t> index = {}) {
  PyObject* errors = PyImport_ImportModule("gilfree.errors");
  if (errors == nullptr) return;  // the import's own error stays set
  PyObject* cls = PyObject_GetAttrString(errors, name);
  Py_DECREF(errors);
  if (cls == nullptr) return;
  PyObject* value = index
                        ? PyObject_CallFunction(cls, "sn", message, static_cast<Py_ssize_t>(*index))
                        : PyObject_CallFunction(cls, "s", message);
  if (value != nullptr) {
    PyErr_SetObject(cls, value);
    Py_DECREF(value);
  }
  Py_DECREF(cls);
}

// The C++ exception being handled, as the Python exception Python code expects.
inline void set_python_error_from_current_exception() noexcept {
  try {
    throw;
  } catch (nb::python_error& e) {
    e.restore();
  } catch (const gilfree::InvalidInput& e) {
    set_gilfree_error("InvalidInput", e.what(), e.index());
  } catch (const std::bad_alloc&) {
    PyErr_NoMemory();
  } catch (const std::exception& e) {
    set_gilfree_error("KernelError", e.what());
  } catch (...) {
    set_gilfree_error("KernelError", "the kernel threw something that is not a std::exception");
  }
}

template <class T>
PyObject* build_result(void* state) noexcept {
  try {
    T& job = *static_cast<T*>(state);
    if constexpr (gilfree::detail::is_lambda_job_v<T>) {
      using Result = std::invoke_result_t<decltype(job.result)>;
      if (!job.result) return nb::none().release().ptr();
      if constexpr (std::is_void_v<Result>) {
        job.result();
        return nb::none().release().ptr();
      } else {
        return nb::cast(job.result(), nb::rv_policy::move).release().ptr();
      }
    } else if constexpr (gilfree::detail::has_result<T>) {
      if constexpr (std::is_void_v<decltype(job.result())>) {
        job.result();
        return nb::none().release().ptr();
      } else {
        return nb::cast(job.result(), nb::rv_policy::move).release().ptr();
      }
    } else {
      return nb::none().release().ptr();
    }
  } catch (...) {
    set_python_error_from_current_exception();
    return nullptr;
  }
}

// The signature of a function object, a function pointer or a member call operator.
template <class F>
struct signature : signature<decltype(&std::remove_cvref_t<F>::operator())> {};
template <class R, class... A>
struct signature<R (*)(A...)> {
  using result = R;
  using args = std::tuple<A...>;
};
template <class R, class... A>
struct signature<R (*)(A...) noexcept> : signature<R (*)(A...)> {};
template <class C, class R, class... A>
struct signature<R (C::*)(A...)> : signature<R (*)(A...)> {};
template <class C, class R, class... A>
struct signature<R (C::*)(A...) const> : signature<R (*)(A...)> {};
template <class C, class R, class... A>
struct signature<R (C::*)(A...) noexcept> : signature<R (*)(A...)> {};
template <class C, class R, class... A>
struct signature<R (C::*)(A...) const noexcept> : signature<R (*)(A...)> {};

// The job type a maker returns: by value, or as a std::unique_ptr.
template <class R>
struct job_of {
  using type = R;
  static std::unique_ptr<R> own(R&& job) { return std::make_unique<R>(std::move(job)); }
};
template <class T>
struct job_of<std::unique_ptr<T>> {
  using type = T;
  static std::unique_ptr<T> own(std::unique_ptr<T>&& job) { return std::move(job); }
};

// nanobind's argument annotations (nb::arg, nb::arg_v in every nanobind version).
template <class E>
concept argument_annotation = requires(const E& e) {
  { e.name_ } -> std::convertible_to<const char*>;
};

template <class E>
auto if_argument(const E& extra) {
  if constexpr (argument_annotation<E>) {
    return std::tuple<const E&>(extra);
  } else {
    return std::tuple<>();
  }
}

inline nb::object steal_or_throw(PyObject* result) {
  if (result == nullptr) throw nb::python_error();
  return nb::steal(result);
}

// `make`'s job described for Python, its ownership handed to the runtime.
template <class Job>
gf_job_desc describe_owned(gf_kernel* kernel, std::unique_ptr<Job>& job) {
  static_assert(JobLike<Job>,
                "a kernel's maker must return a job: a class with "
                "run(std::size_t, gilfree::Chunk&), or a gilfree::Job");
  gf_job_desc desc = gilfree::detail::describe(kernel, job.get());
  desc.build_result = &build_result<Job>;
  job.release();  // from here the runtime owns it, and releases it whatever happens
  return desc;
}

template <class F, class... A>
auto caller(gf_kernel* kernel, F make, std::tuple<A...>*) {
  return [kernel, make = std::move(make)](A... args) -> nb::object {
    using Made = std::invoke_result_t<F&, A...>;
    auto job = job_of<Made>::own(make(std::forward<A>(args)...));
    const gf_job_desc desc = describe_owned(kernel, job);
    return steal_or_throw(gilfree::api().call(&desc));
  };
}

template <class F, class... A>
auto submitter(gf_kernel* kernel, F make, std::tuple<A...>*) {
  return [kernel, make = std::move(make)](nb::handle queue, std::optional<double> timeout_s,
                                          A... args) -> nb::object {
    using Made = std::invoke_result_t<F&, A...>;
    auto job = job_of<Made>::own(make(std::forward<A>(args)...));
    const gf_job_desc desc = describe_owned(kernel, job);
    return steal_or_throw(gilfree::api().submit(&desc, queue.ptr(), timeout_s.value_or(0.0)));
  };
}

}  // namespace detail

// Imports the table of gilfree._core and checks that this module can use it; raises ImportError
// naming both versions when it cannot. Call it first in NB_MODULE. (The first four fields of
// gf_api never move, so they can be read from any gilfree.)
inline void import_runtime() {
  namespace nb = nanobind;
  if (gilfree::has_api()) return;
  const auto* table = static_cast<const gf_api*>(PyCapsule_Import(GILFREE_API_CAPSULE, 0));
  if (table == nullptr) throw nb::python_error();
  const auto at_least = [](unsigned have, unsigned want) { return have >= want; };
  const bool compatible = table->abi_major == GILFREE_ABI_MAJOR &&
                          at_least(table->abi_minor, GILFREE_ABI_MINOR) &&
                          table->struct_size >= offsetof(gf_api, call) + sizeof(table->call);
  if (!compatible) {
    const std::string message =
        "this module was built against gilfree " GILFREE_HEADERS_VERSION " (kernel ABI " +
        std::to_string(GILFREE_ABI_MAJOR) + "." + std::to_string(GILFREE_ABI_MINOR) +
        "), but the gilfree installed here is " + std::string(table->version) + " (kernel ABI " +
        std::to_string(table->abi_major) + "." + std::to_string(table->abi_minor) +
        "): rebuild the module against this gilfree";
    throw nb::import_error(message.c_str());
  }
  gilfree::set_api(table);
  // Exceptions of the functions that make jobs (run with the GIL) reach Python as gilfree's.
  nb::register_exception_translator([](const std::exception_ptr& error, void*) {
    try {
      std::rethrow_exception(error);
    } catch (const gilfree::InvalidInput&) {
      detail::set_python_error_from_current_exception();
    }
  });
}

// Defines `name` in module `m`: a gilfree.Kernel whose jobs `make(args...)` makes, counted under
// `kernel`. `extra` are nanobind's annotations of the arguments (nb::arg) and a docstring.
template <class F, class... Extra>
void def_kernel(nanobind::module_& m, const char* name, Kernel kernel, F&& make,
                const Extra&... extra) {
  namespace nb = nanobind;
  using Signature = detail::signature<std::decay_t<F>>;
  using Args = typename Signature::args;
  gf_kernel* const handle = kernel.handle();
  auto call = detail::caller(handle, std::decay_t<F>(make), static_cast<Args*>(nullptr));
  auto submit = detail::submitter(handle, std::decay_t<F>(std::forward<F>(make)),
                                  static_cast<Args*>(nullptr));

  // Not attached to the module (nb::scope would): the module holds the Kernel that calls them.
  nb::object call_fn = nb::cpp_function(std::move(call), nb::name(name), extra...);
  const std::string submit_name = std::string("submit_") + name;
  constexpr std::size_t named =
      (std::size_t{0} + ... + (detail::argument_annotation<Extra> ? 1 : 0));
  nb::object submit_fn = std::apply(
      [&](const auto&... arguments) {
        if constexpr (named > 0) {
          return nb::cpp_function(std::move(submit), nb::name(submit_name.c_str()),
                                  nb::arg("queue"), nb::arg("timeout_s").none(), arguments...);
        } else {
          return nb::cpp_function(std::move(submit), nb::name(submit_name.c_str()));
        }
      },
      std::tuple_cat(detail::if_argument(extra)...));
  nb::object kernel_class = nb::module_::import_("gilfree.kernel").attr("Kernel");
  m.attr(name) = kernel_class(nb::str(kernel.name.data(), kernel.name.size()), name, call_fn,
                              submit_fn, m.attr("__name__"));
}

// The same, counted under the kernel "<module>.<name>".
template <class F, class... Extra>
  requires(!std::is_same_v<std::remove_cvref_t<F>, Kernel>)
void def_kernel(nanobind::module_& m, const char* name, F&& make, const Extra&... extra) {
  namespace nb = nanobind;
  const std::string full = std::string(nb::str(m.attr("__name__")).c_str()) + "." + name;
  def_kernel(m, name, Kernel{full}, std::forward<F>(make), extra...);
}

}  // namespace gilfree::python
