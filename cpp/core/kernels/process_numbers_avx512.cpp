// process_numbers for the avx512 level: see process_numbers_lanes.inc; CMake sets this file's
// flags.
#define GILFREE_LEVEL avx512
#define GILFREE_VECTOR_BYTES 64
// AVX-512 DQ converts and multiplies 64-bit lanes: the first step is vectorised too.
#define GILFREE_VECTOR_FIRST_STEP 1
#include "kernels/process_numbers_lanes.inc"
