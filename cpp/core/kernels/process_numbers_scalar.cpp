// process_numbers for the scalar level: see process_numbers_lanes.inc; CMake sets this file's
// flags.
#define GILFREE_LEVEL scalar
#define GILFREE_VECTOR_BYTES 0
#include "kernels/process_numbers_lanes.inc"
