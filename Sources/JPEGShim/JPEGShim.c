// JPEGShim.c: libjpeg(-turbo) behind one plain C call. libjpeg signals a fatal error through the
// error manager's error_exit, which must not return; ours formats the message and longjmps back
// to the setjmp in carve_jpeg_read, so nothing in Swift ever sees the jump. Every local that
// changes after setjmp and is read after the jump is volatile (C11 7.13.2.1); cinfo is only
// changed through its address, as in libjpeg's own example.c.
#include "JPEGShim.h"
#include <stdio.h> // before jpeglib.h, which uses FILE and size_t
#include <jpeglib.h>
#include <jerror.h>
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

#define CARVE_STRINGIFY_(x) #x
#define CARVE_STRINGIFY(x) CARVE_STRINGIFY_(x)

const char *carve_jpeg_version(void) {
#ifdef LIBJPEG_TURBO_VERSION
    return CARVE_STRINGIFY(LIBJPEG_TURBO_VERSION) " (libjpeg API " CARVE_STRINGIFY(JPEG_LIB_VERSION) ")";
#else
    return "libjpeg API " CARVE_STRINGIFY(JPEG_LIB_VERSION);
#endif
}

void carve_jpeg_free(uint8_t *rgb) { free(rgb); }

// MARK: - Error plumbing

/// libjpeg's error manager plus where to jump, what to say and which status to return.
/// `pub` comes first, so the `err` pointer libjpeg hands back casts to this struct.
typedef struct {
    struct jpeg_error_mgr pub;
    jmp_buf jump;
    char *message;
    size_t message_size;
    int status;
} carve_jpeg_error_mgr;

static void carve_set_message(char *message, size_t size, const char *text) {
    if (message != NULL && size > 0) {
        snprintf(message, size, "%s", text);
    }
}

/// error_exit: record libjpeg's message and a status, then jump back; never returns.
static void carve_jpeg_fail(j_common_ptr cinfo) {
    carve_jpeg_error_mgr *err = (carve_jpeg_error_mgr *)cinfo->err;
    char text[JMSG_LENGTH_MAX + 96];
    cinfo->err->format_message(cinfo, text);
    switch (cinfo->err->msg_code) {
    case JERR_OUT_OF_MEMORY:
        err->status = CARVE_JPEG_OUT_OF_MEMORY;
        break;
    case JERR_NO_BACKING_STORE: // the working-memory cap (max_memory_to_use) was hit
        snprintf(text, sizeof text, "decoding needs more than %ld bytes of working memory",
                 cinfo->mem->max_memory_to_use);
        err->status = CARVE_JPEG_TOO_LARGE;
        break;
    case JERR_IMAGE_TOO_BIG:
    case JERR_WIDTH_OVERFLOW:
        err->status = CARVE_JPEG_TOO_LARGE;
        break;
    default:
        err->status = CARVE_JPEG_CORRUPT;
    }
    carve_set_message(err->message, err->message_size, text);
    longjmp(err->jump, 1);
}

/// emit_message: trace messages (level >= 0) are dropped; a warning that means the decoded
/// pixels differ from what was encoded becomes an error; other warnings are counted only.
/// (libjpeg's default would print to stderr and keep going with grey or garbage pixels.)
static void carve_jpeg_emit(j_common_ptr cinfo, int level) {
    if (level >= 0) return;
    switch (cinfo->err->msg_code) {
    case JWRN_JPEG_EOF:          // truncated file: libjpeg would pad with grey
    case JWRN_HIT_MARKER:        // premature end of a data segment
    case JWRN_HUFF_BAD_CODE:
    case JWRN_ARITH_BAD_CODE:
    case JWRN_MUST_RESYNC:       // restart markers lost: rows shift
    case JWRN_BOGUS_PROGRESSION:
    case JWRN_NOT_SEQUENTIAL:
        carve_jpeg_fail(cinfo);
        break;
    default:                     // extraneous bytes before a marker, bad ICC marker, JFIF revision
        cinfo->err->num_warnings++;
    }
}

// MARK: - Reading

/// x · y / 255 rounded to nearest, exact for x, y in 0...255 (no ties: 255 is odd).
static uint8_t carve_mul255(unsigned x, unsigned y) {
    unsigned t = x * y + 128;
    return (uint8_t)((t + (t >> 8)) >> 8);
}

int carve_jpeg_read(const char *path, uint64_t max_pixels, uint8_t **rgb, int *height, int *width,
                    char *message, size_t message_size) {
    *rgb = NULL;
    FILE *file = fopen(path, "rb");
    if (file == NULL) {
        carve_set_message(message, message_size, strerror(errno));
        return CARVE_JPEG_CANNOT_OPEN;
    }
    unsigned char magic[3];
    size_t got = fread(magic, 1, 3, file);
    if (got == 0 && ferror(file)) { // e.g. a directory (EISDIR)
        int error = errno;
        fclose(file);
        carve_set_message(message, message_size, strerror(error));
        return CARVE_JPEG_CANNOT_OPEN;
    }
    if (got == 0) {
        fclose(file);
        carve_set_message(message, message_size, "the file is empty");
        return CARVE_JPEG_EMPTY;
    }
    if (got < 3 || magic[0] != 0xff || magic[1] != 0xd8 || magic[2] != 0xff) {
        fclose(file);
        carve_set_message(message, message_size, "not a JPEG file (does not start with FF D8 FF)");
        return CARVE_JPEG_NOT_JPEG;
    }
    rewind(file);

    struct jpeg_decompress_struct cinfo;
    carve_jpeg_error_mgr err;
    memset(&cinfo, 0, sizeof cinfo); // so jpeg_destroy_decompress is safe even if create fails
    cinfo.err = jpeg_std_error(&err.pub);
    err.pub.error_exit = carve_jpeg_fail;
    err.pub.emit_message = carve_jpeg_emit;
    err.message = message;
    err.message_size = message_size;
    err.status = CARVE_JPEG_CORRUPT;
    uint8_t *volatile out = NULL;
    uint8_t *volatile cmyk_row = NULL;
    if (setjmp(err.jump)) {
        // A libjpeg error (or ours below): message and status are already set.
        free(out);
        free(cmyk_row);
        jpeg_destroy_decompress(&cinfo);
        fclose(file);
        return err.status;
    }
    jpeg_create_decompress(&cinfo);
    jpeg_stdio_src(&cinfo, file);
    jpeg_read_header(&cinfo, TRUE);

    JDIMENSION w = cinfo.image_width, h = cinfo.image_height;
    if (w == 0 || h == 0 || (uint64_t)w * (uint64_t)h > max_pixels) {
        char text[160];
        snprintf(text, sizeof text, "image of %u x %u pixels exceeds the limit of %llu pixels",
                 (unsigned)w, (unsigned)h, (unsigned long long)max_pixels);
        carve_set_message(message, message_size, text);
        err.status = CARVE_JPEG_TOO_LARGE;
        longjmp(err.jump, 1);
    }
    int cmyk = 0;
    switch (cinfo.jpeg_color_space) {
    case JCS_GRAYSCALE: // libjpeg replicates gray into R, G and B
    case JCS_YCbCr:
    case JCS_RGB:
        cinfo.out_color_space = JCS_RGB;
        break;
    case JCS_CMYK:
    case JCS_YCCK: // libjpeg turns YCCK into CMYK; CMYK into RGB is done below
        cinfo.out_color_space = JCS_CMYK;
        cmyk = 1;
        break;
    default: {
        char text[160];
        snprintf(text, sizeof text,
                 "unsupported colour space (%d components, libjpeg colour space %d); "
                 "only gray, YCbCr, RGB, CMYK and YCCK JPEGs are read",
                 cinfo.num_components, (int)cinfo.jpeg_color_space);
        carve_set_message(message, message_size, text);
        err.status = CARVE_JPEG_UNSUPPORTED;
        longjmp(err.jump, 1);
    }
    }
    // Cap libjpeg's whole-image buffers (progressive JPEGs keep every coefficient: about
    // 2 bytes per sample, at most 4 components): 16 bytes per allowed pixel, plus 64 MiB.
    const uint64_t slack = 64u << 20;
    cinfo.mem->max_memory_to_use = max_pixels > ((uint64_t)LONG_MAX - slack) / 16
        ? LONG_MAX : (long)(16 * max_pixels + slack);
    jpeg_start_decompress(&cinfo);

    size_t row_bytes = (size_t)cinfo.output_width * 3;
    out = malloc(row_bytes * (size_t)cinfo.output_height);
    if (cmyk) cmyk_row = malloc((size_t)cinfo.output_width * 4);
    if (out == NULL || (cmyk && cmyk_row == NULL)) {
        carve_set_message(message, message_size, "out of memory");
        err.status = CARVE_JPEG_OUT_OF_MEMORY;
        longjmp(err.jump, 1);
    }
    // Adobe APP14 marks inverted CMYK (stored = 255 - ink), as Photoshop writes it.
    const int inverted = cinfo.saw_Adobe_marker;
    while (cinfo.output_scanline < cinfo.output_height) {
        uint8_t *dst = out + (size_t)cinfo.output_scanline * row_bytes;
        JSAMPROW target = cmyk ? cmyk_row : dst;
        if (jpeg_read_scanlines(&cinfo, &target, 1) != 1) { // only a suspending source returns 0
            carve_set_message(message, message_size, "libjpeg returned no scanline");
            longjmp(err.jump, 1);
        }
        if (cmyk) {
            for (JDIMENSION x = 0; x < cinfo.output_width; x++) {
                const uint8_t *s = cmyk_row + 4 * (size_t)x;
                // paper = 255 - ink; R = (255 - C)(255 - K) / 255, likewise G (M) and B (Y).
                unsigned k = inverted ? s[3] : 255u - s[3];
                for (int i = 0; i < 3; i++) {
                    dst[3 * (size_t)x + i] = carve_mul255(inverted ? s[i] : 255u - s[i], k);
                }
            }
        }
    }
    jpeg_finish_decompress(&cinfo); // reads up to EOI, so a missing tail is reported too
    *height = (int)cinfo.output_height;
    *width = (int)cinfo.output_width;
    jpeg_destroy_decompress(&cinfo);
    fclose(file);
    free(cmyk_row);
    *rgb = out;
    return CARVE_JPEG_OK;
}
