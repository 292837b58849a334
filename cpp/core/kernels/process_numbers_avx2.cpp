// process_numbers for the avx2 level: see process_numbers_lanes.inc; CMake sets this file's flags.
#define GILFREE_LEVEL avx2
#define GILFREE_VECTOR_BYTES 32
#include "kernels/process_numbers_lanes.inc"
