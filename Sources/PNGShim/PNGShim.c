// PNGShim.c: libpng behind two plain C calls. libpng signals errors by calling png_error, which
// longjmps back to the setjmp here; nothing in Swift ever sees the jump. Every local that
// changes after setjmp and is read after the jump is volatile (C11 7.13.2.1).
#include "PNGShim.h"
#include <png.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *carve_png_version(void) { return PNG_LIBPNG_VER_STRING; }

void carve_png_free(uint16_t *samples) { free(samples); }

// MARK: - Error plumbing

/// Where libpng's error callback leaves its message before jumping back.
typedef struct {
    char *message;
    size_t size;
} carve_png_error_sink;

static void carve_set_message(char *message, size_t size, const char *text) {
    if (message != NULL && size > 0) {
        snprintf(message, size, "%s", text);
    }
}

static void carve_png_error(png_structp png, png_const_charp text) {
    carve_png_error_sink *sink = (carve_png_error_sink *)png_get_error_ptr(png);
    if (sink != NULL) carve_set_message(sink->message, sink->size, text);
    png_longjmp(png, 1);
}

static void carve_png_warning(png_structp png, png_const_charp text) {
    (void)png;
    (void)text; // Warnings (e.g. a bad ancillary chunk CRC) do not stop reading.
}

// MARK: - Reading

int carve_png_read(const char *path, uint64_t max_pixels, uint16_t **samples, int *channels,
                   int *height, int *width, int *bit_depth, char *message, size_t message_size) {
    *samples = NULL;
    FILE *file = fopen(path, "rb");
    if (file == NULL) {
        carve_set_message(message, message_size, strerror(errno));
        return CARVE_PNG_CANNOT_OPEN;
    }
    png_byte signature[8];
    size_t got = fread(signature, 1, 8, file);
    if (got == 0) {
        fclose(file);
        carve_set_message(message, message_size, "the file is empty");
        return CARVE_PNG_EMPTY;
    }
    if (got < 8 || png_sig_cmp(signature, 0, 8) != 0) {
        fclose(file);
        carve_set_message(message, message_size, "not a PNG file (bad signature)");
        return CARVE_PNG_NOT_PNG;
    }

    carve_png_error_sink sink = {message, message_size};
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &sink, carve_png_error, carve_png_warning);
    png_infop info = png == NULL ? NULL : png_create_info_struct(png);
    if (png == NULL || info == NULL) {
        png_destroy_read_struct(png == NULL ? NULL : &png, NULL, NULL);
        fclose(file);
        carve_set_message(message, message_size, "libpng could not allocate its state");
        return CARVE_PNG_OUT_OF_MEMORY;
    }
    png_byte *volatile raw = NULL;
    png_bytep *volatile rows = NULL;
    uint16_t *volatile out = NULL;
    volatile int status = CARVE_PNG_CORRUPT;
    if (setjmp(png_jmpbuf(png))) {
        // A libpng error: the sink already holds its message; status says which kind.
        free(raw);
        free(rows);
        free(out);
        png_destroy_read_struct(&png, &info, NULL);
        fclose(file);
        return status;
    }
    png_init_io(png, file);
    png_set_sig_bytes(png, 8);
    // libpng's own guards against absurd sizes and huge ancillary chunks.
    png_set_user_limits(png, 0x7fffffff, 0x7fffffff);
    png_set_chunk_malloc_max(png, 64u << 20);
    png_read_info(png, info);

    png_uint_32 w = png_get_image_width(png, info), h = png_get_image_height(png, info);
    if (w == 0 || h == 0 || (uint64_t)w * (uint64_t)h > max_pixels) {
        char text[160];
        snprintf(text, sizeof text, "image of %u x %u pixels exceeds the limit of %llu pixels",
                 (unsigned)w, (unsigned)h, (unsigned long long)max_pixels);
        carve_set_message(message, message_size, text);
        png_destroy_read_struct(&png, &info, NULL);
        fclose(file);
        return CARVE_PNG_TOO_LARGE;
    }

    int color = png_get_color_type(png, info);
    int depth = png_get_bit_depth(png, info);
    if (color == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (color == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    if (png_get_valid(png, info, PNG_INFO_tRNS)) png_set_tRNS_to_alpha(png);
    {
        // 16-bit samples arrive big-endian; swap them to this machine's order.
        const uint16_t probe = 1;
        if (depth == 16 && *(const uint8_t *)&probe == 1) png_set_swap(png);
    }
    (void)png_set_interlace_handling(png);
    png_read_update_info(png, info);

    int ch = png_get_channels(png, info);
    int out_depth = png_get_bit_depth(png, info);
    size_t row_bytes = png_get_rowbytes(png, info);
    raw = malloc(row_bytes * (size_t)h);
    rows = malloc(sizeof(png_bytep) * (size_t)h);
    out = malloc(sizeof(uint16_t) * (size_t)w * (size_t)h * (size_t)ch);
    if (raw == NULL || rows == NULL || out == NULL) {
        status = CARVE_PNG_OUT_OF_MEMORY;
        png_error(png, "out of memory");
    }
    for (png_uint_32 y = 0; y < h; y++) rows[y] = raw + (size_t)y * row_bytes;
    png_read_image(png, rows);
    png_read_end(png, NULL);

    size_t count = (size_t)w * (size_t)h * (size_t)ch;
    if (out_depth == 16) {
        memcpy(out, raw, count * sizeof(uint16_t));
    } else {
        for (size_t i = 0; i < count; i++) out[i] = raw[i];
    }
    free(raw);
    free(rows);
    png_destroy_read_struct(&png, &info, NULL);
    fclose(file);
    *samples = out;
    *channels = ch;
    *height = (int)h;
    *width = (int)w;
    *bit_depth = out_depth;
    return CARVE_PNG_OK;
}

// MARK: - Writing

int carve_png_write(const char *path, const uint16_t *samples, int channels, int height, int width,
                    int bit_depth, char *message, size_t message_size) {
    static const int color_types[5] = {-1, PNG_COLOR_TYPE_GRAY, PNG_COLOR_TYPE_GRAY_ALPHA,
                                       PNG_COLOR_TYPE_RGB, PNG_COLOR_TYPE_RGB_ALPHA};
    if (channels < 1 || channels > 4 || (bit_depth != 8 && bit_depth != 16) || height <= 0 || width <= 0) {
        carve_set_message(message, message_size, "unsupported channels, bit depth or size");
        return CARVE_PNG_BAD_ARGUMENT;
    }
    FILE *file = fopen(path, "wb");
    if (file == NULL) {
        carve_set_message(message, message_size, strerror(errno));
        return CARVE_PNG_CANNOT_OPEN;
    }
    carve_png_error_sink sink = {message, message_size};
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &sink, carve_png_error, carve_png_warning);
    png_infop info = png == NULL ? NULL : png_create_info_struct(png);
    if (png == NULL || info == NULL) {
        png_destroy_write_struct(png == NULL ? NULL : &png, NULL);
        fclose(file);
        remove(path);
        carve_set_message(message, message_size, "libpng could not allocate its state");
        return CARVE_PNG_OUT_OF_MEMORY;
    }
    size_t row_samples = (size_t)width * (size_t)channels;
    size_t row_bytes = row_samples * (size_t)(bit_depth / 8);
    png_byte *volatile row = malloc(row_bytes);
    if (setjmp(png_jmpbuf(png))) {
        free(row);
        png_destroy_write_struct(&png, &info);
        fclose(file);
        remove(path);
        return CARVE_PNG_WRITE_FAILED;
    }
    if (row == NULL) png_error(png, "out of memory");
    png_init_io(png, file);
    png_set_IHDR(png, info, (png_uint_32)width, (png_uint_32)height, bit_depth, color_types[channels],
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int y = 0; y < height; y++) {
        const uint16_t *src = samples + (size_t)y * row_samples;
        if (bit_depth == 8) {
            for (size_t i = 0; i < row_samples; i++) row[i] = (png_byte)src[i];
        } else {
            for (size_t i = 0; i < row_samples; i++) {
                row[2 * i] = (png_byte)(src[i] >> 8); // PNG is big-endian.
                row[2 * i + 1] = (png_byte)(src[i] & 0xff);
            }
        }
        png_write_row(png, row);
    }
    png_write_end(png, NULL);
    free(row);
    png_destroy_write_struct(&png, &info);
    if (fflush(file) != 0 || fclose(file) != 0) {
        carve_set_message(message, message_size, strerror(errno));
        remove(path);
        return CARVE_PNG_WRITE_FAILED;
    }
    return CARVE_PNG_OK;
}
