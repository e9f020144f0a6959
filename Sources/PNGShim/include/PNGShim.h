// PNGShim: the one place Carve touches libpng. libpng reports errors by longjmp; that setjmp
// handling must stay in C, so every entry point here returns a status and a message instead.
#ifndef CARVE_PNG_SHIM_H
#define CARVE_PNG_SHIM_H

#include <stddef.h>
#include <stdint.h>

/// The libpng version Carve was built against, e.g. "1.6.39".
const char *carve_png_version(void);

/// Status codes of carve_png_read / carve_png_write (0 is success).
enum {
    CARVE_PNG_OK = 0,
    CARVE_PNG_CANNOT_OPEN = 1,   ///< fopen failed; message holds strerror(errno).
    CARVE_PNG_EMPTY = 2,         ///< the file has zero bytes.
    CARVE_PNG_NOT_PNG = 3,       ///< the first 8 bytes are not the PNG signature.
    CARVE_PNG_CORRUPT = 4,       ///< libpng failed (bad chunk, CRC, truncated data); message is libpng's.
    CARVE_PNG_TOO_LARGE = 5,     ///< width * height in the header exceeds max_pixels; nothing allocated.
    CARVE_PNG_OUT_OF_MEMORY = 6, ///< malloc failed.
    CARVE_PNG_WRITE_FAILED = 7,  ///< writing failed; the partial file is removed.
    CARVE_PNG_BAD_ARGUMENT = 8,  ///< unsupported channel count or bit depth.
};

/// Reads a PNG of any colour type and bit depth into interleaved (HWC) 16-bit samples.
///
/// Palette images become RGB (RGBA with a tRNS chunk), gray of 1/2/4 bits becomes 8-bit, gray
/// with tRNS becomes gray+alpha. On success *samples is malloc'ed (free with carve_png_free),
/// *channels is 1 (gray), 2 (gray+alpha), 3 (RGB) or 4 (RGBA), and *bit_depth is 8 (samples
/// 0...255) or 16 (samples 0...65535). The header's width * height is checked against
/// max_pixels before anything is allocated. On failure the status is returned and message
/// (of message_size bytes) says why.
int carve_png_read(const char *path, uint64_t max_pixels, uint16_t **samples, int *channels,
                   int *height, int *width, int *bit_depth, char *message, size_t message_size);

/// Frees samples returned by carve_png_read.
void carve_png_free(uint16_t *samples);

/// Writes interleaved (HWC) samples as a PNG with 1 (gray), 2 (gray+alpha), 3 (RGB) or 4 (RGBA)
/// channels at bit depth 8 (samples must be <= 255) or 16. On failure the partial file is
/// removed and message says why.
int carve_png_write(const char *path, const uint16_t *samples, int channels, int height, int width,
                    int bit_depth, char *message, size_t message_size);

#endif
