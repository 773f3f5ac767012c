#include <stdlib.h>
#include <zlib.h>
#include "CTailcastSystem.h"

struct tailcast_deflater {
    z_stream stream;
    int level;
};

tailcast_deflater *tailcast_deflater_create(int level, int window_bits, int memory_level) {
    tailcast_deflater *deflater = calloc(1, sizeof(*deflater));
    if (!deflater) return NULL;
    // Negative window bits: raw deflate, as RFC 7692 sends it.
    if (deflateInit2(&deflater->stream, level, Z_DEFLATED, -window_bits, memory_level, Z_DEFAULT_STRATEGY) != Z_OK) {
        free(deflater);
        return NULL;
    }
    deflater->level = level;
    return deflater;
}

void tailcast_deflater_destroy(tailcast_deflater *deflater) {
    if (!deflater) return;
    deflateEnd(&deflater->stream);
    free(deflater);
}

int tailcast_deflater_set_level(tailcast_deflater *deflater, int level) {
    if (level == deflater->level) return 0;
    // Between messages everything was sync-flushed, so the change applies cleanly from the next byte.
    int result = deflateParams(&deflater->stream, level, Z_DEFAULT_STRATEGY);
    if (result != Z_OK && result != Z_BUF_ERROR) return -1;
    deflater->level = level;
    return 0;
}

size_t tailcast_deflater_bound(tailcast_deflater *deflater, size_t length) {
    // deflateBound covers a whole stream; a sync flush adds at most a few bytes per call.
    return deflateBound(&deflater->stream, (uLong)length) + 16;
}

long tailcast_deflater_compress(tailcast_deflater *deflater, const uint8_t *input, size_t length, uint8_t *output, size_t capacity) {
    z_stream *stream = &deflater->stream;
    stream->next_in = (Bytef *)input;
    stream->avail_in = (uInt)length;
    stream->next_out = output;
    stream->avail_out = (uInt)capacity;
    int result = deflate(stream, Z_SYNC_FLUSH);
    if ((result != Z_OK && result != Z_BUF_ERROR) || stream->avail_in != 0 || stream->avail_out == 0) return -1;
    return (long)(capacity - stream->avail_out);
}

int tailcast_deflater_reset(tailcast_deflater *deflater) {
    return deflateReset(&deflater->stream) == Z_OK ? 0 : -1;
}
