// PNGShim: the one place Carve touches libpng. libpng reports errors by longjmp; that setjmp
// handling must stay in C, so every entry point here returns a status and a message instead.
#ifndef CARVE_PNG_SHIM_H
#define CARVE_PNG_SHIM_H

/// The libpng version Carve was built against, e.g. "1.6.39".
const char *carve_png_version(void);

#endif
