#include "PNGShim.h"
#include <png.h>

const char *carve_png_version(void) { return PNG_LIBPNG_VER_STRING; }
