// process_numbers for the neon level: see process_numbers_lanes.inc; CMake sets this file's flags.
#define GILFREE_LEVEL neon
#define GILFREE_VECTOR_BYTES 16
#include "kernels/process_numbers_lanes.inc"
