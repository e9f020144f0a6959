// JPEGShim: the one place Carve touches libjpeg(-turbo). libjpeg reports a fatal error by calling
// the error manager's error_exit, which must not return: the only way back is a longjmp to a
// setjmp in the caller, and Swift can express neither. So the setjmp/longjmp stays in this C
// file, and the entry point returns a status and a message instead.
#ifndef CARVE_JPEG_SHIM_H
#define CARVE_JPEG_SHIM_H

#include <stddef.h>
#include <stdint.h>

/// The libjpeg-turbo version Carve was built against, e.g. "2.1.5 (libjpeg API 62)".
const char *carve_jpeg_version(void);

/// Status codes of carve_jpeg_read (0 is success).
enum {
    CARVE_JPEG_OK = 0,
    CARVE_JPEG_CANNOT_OPEN = 1,   ///< fopen or fread failed; message holds strerror(errno).
    CARVE_JPEG_EMPTY = 2,         ///< the file has zero bytes.
    CARVE_JPEG_NOT_JPEG = 3,      ///< the first 3 bytes are not FF D8 FF.
    CARVE_JPEG_CORRUPT = 4,       ///< libjpeg failed, or found truncated or damaged entropy data; message is libjpeg's.
    CARVE_JPEG_TOO_LARGE = 5,     ///< width * height exceeds max_pixels, or decoding needs too much memory.
    CARVE_JPEG_OUT_OF_MEMORY = 6, ///< malloc failed.
    CARVE_JPEG_UNSUPPORTED = 7,   ///< a colour space other than gray, YCbCr, RGB, CMYK or YCCK.
};

/// Reads a baseline or progressive JPEG into interleaved (HWC) 8-bit RGB.
///
/// Gray JPEGs give three equal channels. CMYK and YCCK JPEGs are converted naively
/// (R = (255 - C)(255 - K) / 255, no colour profile), reading the samples as inverted when an
/// Adobe APP14 marker is present, as Photoshop writes them and as Pillow and browsers read them.
/// Warnings that mean the pixels are not what was encoded (premature end of file, premature end
/// of a data segment, bad Huffman or arithmetic code, resynchronisation, bad progression) are
/// errors here; harmless ones (extraneous bytes before a marker, a bad ICC marker) are not.
///
/// On success *rgb is malloc'ed (free with carve_jpeg_free), holding height * width * 3 bytes.
/// The header's width * height is checked against max_pixels before any pixel memory is
/// allocated, and libjpeg's working memory is capped at 16 bytes per allowed pixel + 64 MiB.
/// On failure *rgb is NULL, the status is returned and message (of message_size bytes) says why.
int carve_jpeg_read(const char *path, uint64_t max_pixels, uint8_t **rgb, int *height, int *width,
                    char *message, size_t message_size);

/// Frees pixels returned by carve_jpeg_read.
void carve_jpeg_free(uint8_t *rgb);

#endif
