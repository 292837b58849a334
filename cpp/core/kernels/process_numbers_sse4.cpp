// process_numbers for the sse4 level: see process_numbers_lanes.inc; CMake sets this file's flags.
#define GILFREE_LEVEL sse4
#define GILFREE_VECTOR_BYTES 16
#include "kernels/process_numbers_lanes.inc"
