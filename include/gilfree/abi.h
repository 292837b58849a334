/* The C boundary between gilfree's runtime (gilfree._core) and kernel modules: a versioned table
 * of C functions exported in a capsule, as NumPy exports its C API.
 *
 * Nothing of C++ crosses it: no types, exceptions, allocators or standard-library objects. A
 * kernel module built with another compiler, other flags or another nanobind than gilfree's
 * talks to the one executor of the process through this table only. Most users never include
 * this file: <gilfree/kernel.hpp> and <gilfree/python.hpp> turn C++ classes and lambdas into it.
 *
 * Versioning. GILFREE_ABI_MAJOR changes when a field changes meaning or moves; a module built
 * against another major fails at import. GILFREE_ABI_MINOR grows when fields are appended to a
 * struct: a module built against an older minor runs on a newer runtime. Every struct that
 * crosses starts with `struct_size`, the size the side that filled it was built with: the runtime
 * reads only the fields a descriptor's struct_size covers (and defaults the rest), a module only
 * calls the table entries the table's struct_size covers. */
#ifndef GILFREE_ABI_H
#define GILFREE_ABI_H

#include <stddef.h>
#include <stdint.h>

#ifndef GILFREE_ABI_MAJOR
#define GILFREE_ABI_MAJOR 1
#endif
#ifndef GILFREE_ABI_MINOR
#define GILFREE_ABI_MINOR 0
#endif

/* The capsule gilfree._core exports, for PyCapsule_Import. */
#define GILFREE_API_CAPSULE "gilfree._core._C_API"

/* Most chunks a stage may ask for: far more than any job could run, far fewer than 2^63. */
#define GILFREE_MAX_CHUNKS ((size_t)0xFFFFFFFFu)

#ifdef __cplusplus
extern "C" {
#endif

struct _object; /* CPython's PyObject */

/* A kernel registered by name: what its jobs are counted under, and the model that corrects
 * their cost estimates from measured CPU time. Owned by the runtime; never freed. */
typedef struct gf_kernel gf_kernel;

/* The context of one run of a chunk (or of one call of next_stage). Valid during that call only. */
typedef struct gf_chunk gf_chunk;

enum {
  GF_OK = 0,
  GF_FAILED = 1 /* the callback reported its error through gf_api.fail */
};

/* What a failure is, for the exception Python code sees. */
enum {
  GF_ERROR_KERNEL = 1,        /* gilfree.KernelError */
  GF_ERROR_INVALID_INPUT = 2, /* gilfree.InvalidInput (with its index, if any) */
  GF_ERROR_NO_MEMORY = 3      /* MemoryError */
};

/* What comes after a stage: `chunks` more (0: the job is done), and the whole job's estimated CPU
 * seconds, now better known (negative: unchanged; more than it was admitted with is ignored).
 * Admission holds the lower cost from then on, and the job's measured CPU time is compared with
 * it. */
typedef struct gf_stage {
  size_t chunks;
  double cost_s;
} gf_stage;

/* One job, as a kernel module describes it. The runtime takes ownership of `state` whatever
 * happens (refused, failed, cancelled, succeeded) and calls `release` exactly once, after every
 * chunk has returned and the result has been built, with the GIL held. */
typedef struct gf_job_desc {
  uint32_t struct_size; /* sizeof(gf_job_desc) as the module was built */
  uint32_t flags;       /* none defined yet: 0 */
  gf_kernel* kernel;
  size_t chunks; /* of the first stage: 1 to GILFREE_MAX_CHUNKS */
  double cost_s; /* estimated CPU seconds of the whole job on one core */
  void* state;
  /* Runs chunk `chunk` of the current stage on a worker, without the GIL. Chunks of one stage run
   * at once on several workers; a chunk that asked to run again is never run twice at once. */
  int (*run_chunk)(void* state, size_t chunk, gf_chunk* context);
  /* Optional (NULL: one stage): once every chunk of stage `finished` has run, plans the next. */
  int (*next_stage)(void* state, size_t finished, gf_stage* next, gf_chunk* context);
  /* Optional (NULL: None): with the GIL, once the job succeeded; a new reference, or NULL with a
   * Python exception set. */
  struct _object* (*build_result)(void* state);
  void (*release)(void* state);
} gf_job_desc;

/* The table gilfree._core exports. */
typedef struct gf_api {
  uint32_t struct_size; /* sizeof(gf_api) as the runtime was built */
  uint16_t abi_major;
  uint16_t abi_minor;
  const char* version; /* gilfree's own version, for messages */

  /* The kernel of that name, registered on first use (the same pointer for the same name, from
   * any module). NULL for an empty name. */
  gf_kernel* (*kernel)(const char* name, size_t name_size);
  /* Estimated CPU seconds of a job of this kernel declared at `cost_s`: the declaration corrected
   * by what the kernel's jobs measured so far. */
  double (*estimate_s)(const gf_kernel* kernel, double cost_s);

  /* From inside a chunk: nonzero once the job is cancelled or past its deadline (return early:
   * the job then ends as cancelled or past its deadline, never as succeeded). */
  int (*stop_requested)(gf_chunk* context);
  /* From inside a chunk: run this chunk again later (it did one slice and keeps its progress). */
  void (*run_again)(gf_chunk* context);
  /* The stage the chunk belongs to (0 for the first). */
  size_t (*stage)(const gf_chunk* context);
  /* Reports why the callback is about to return GF_FAILED. `message` is copied; `index` < 0:
   * none. */
  void (*fail)(gf_chunk* context, int kind, const char* message, size_t message_size,
               int64_t index);

  /* With the GIL: runs the job, a gilfree._core.NativeJob (a new reference) or NULL with a Python
   * exception. On the pool, reporting to `queue` (a gilfree._core.CompletionQueue); or at once on
   * the calling thread when its estimate is a few microseconds (the job is then finished).
   * `timeout_s` <= 0: no deadline. */
  struct _object* (*submit)(const gf_job_desc* job, struct _object* queue, double timeout_s);
  /* With the GIL: runs the job and returns its result (a new reference) or NULL with a Python
   * exception; waits with the GIL released, or runs at once when the estimate is tiny. */
  struct _object* (*call)(const gf_job_desc* job);
} gf_api;

#ifdef __cplusplus
}
#endif

#endif /* GILFREE_ABI_H */
