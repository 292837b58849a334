// process_numbers for the avx512 level: see process_numbers_lanes.inc; CMake sets this file's
// flags.
#define GILFREE_LEVEL avx512
#define GILFREE_VECTOR_BYTES 64
#include "kernels/process_numbers_lanes.inc"
