#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include "CTailcastSystem.h"
#include "optimal_deflate.h"

struct tailcast_deflater {
    z_stream stream;
    int level;
    /// The level zlib is set to; it stays at 9 while the optimal encoder has the stream.
    int zlib_level;
    int window_bits;
    /// From the first message at TAILCAST_DEFLATE_OPTIMAL on; it then remembers every message sent.
    optimal_deflater *optimal;
    /// The optimal encoder sent messages zlib's window does not hold.
    int zlib_behind;
    /// Inflates each optimal message before it is sent: a mistake in the encoder costs a message sent by
    /// zlib instead (counted), never a corrupt stream.
    z_stream check;
    uint8_t *checked;
    unsigned long fallbacks;
};

tailcast_deflater *tailcast_deflater_create(int level, int window_bits, int memory_level) {
    tailcast_deflater *deflater = calloc(1, sizeof(*deflater));
    if (!deflater) return NULL;
    int zlib_level = level == TAILCAST_DEFLATE_OPTIMAL ? 9 : level;
    // Negative window bits: raw deflate, as RFC 7692 sends it.
    if (deflateInit2(&deflater->stream, zlib_level, Z_DEFLATED, -window_bits, memory_level, Z_DEFAULT_STRATEGY) != Z_OK) {
        free(deflater);
        return NULL;
    }
    deflater->level = zlib_level;
    deflater->zlib_level = zlib_level;
    deflater->window_bits = window_bits;
    if (level == TAILCAST_DEFLATE_OPTIMAL && tailcast_deflater_set_level(deflater, level) != 0) {
        tailcast_deflater_destroy(deflater);
        return NULL;
    }
    return deflater;
}

void tailcast_deflater_destroy(tailcast_deflater *deflater) {
    if (!deflater) return;
    deflateEnd(&deflater->stream);
    if (deflater->optimal) {
        optimal_deflater_destroy(deflater->optimal);
        inflateEnd(&deflater->check);
        free(deflater->checked);
    }
    free(deflater);
}

int tailcast_deflater_set_level(tailcast_deflater *deflater, int level) {
    if (level == TAILCAST_DEFLATE_OPTIMAL && !deflater->optimal) {
        deflater->checked = malloc(OPTIMAL_DEFLATE_MAX_INPUT + 1);
        if (!deflater->checked || inflateInit2(&deflater->check, -15) != Z_OK) {
            free(deflater->checked);
            deflater->checked = NULL;
            return -1;
        }
        deflater->optimal = optimal_deflater_create(deflater->window_bits);
        if (!deflater->optimal) {
            inflateEnd(&deflater->check);
            free(deflater->checked);
            deflater->checked = NULL;
            return -1;
        }
    }
    int zlib_level = level == TAILCAST_DEFLATE_OPTIMAL ? 9 : level;
    deflater->level = level;
    if (zlib_level == deflater->zlib_level) return 0;
    // Between messages everything was sync-flushed, so the change applies cleanly from the next byte.
    int result = deflateParams(&deflater->stream, zlib_level, Z_DEFAULT_STRATEGY);
    if (result != Z_OK && result != Z_BUF_ERROR) return -1;
    deflater->zlib_level = zlib_level;
    return 0;
}

size_t tailcast_deflater_bound(tailcast_deflater *deflater, size_t length) {
    // deflateBound covers a whole stream; a sync flush adds at most a few bytes per call. The optimal
    // encoder never exceeds a stored block and the flush (length + 10).
    return deflateBound(&deflater->stream, (uLong)length) + 16;
}

/// Gives zlib the stream's last bytes as its window: the receiver's window holds what the optimal
/// encoder sent, which zlib never saw. A reset first, so nothing older than them stays behind in zlib's.
static int catch_up(tailcast_deflater *deflater, const uint8_t *history, size_t length) {
    if (deflateReset(&deflater->stream) != Z_OK) return -1;
    if (length && deflateSetDictionary(&deflater->stream, history, (uInt)length) != Z_OK) return -1;
    deflater->zlib_behind = 0;
    return 0;
}

static long zlib_compress(tailcast_deflater *deflater, const uint8_t *input, size_t length, uint8_t *output, size_t capacity) {
    z_stream *stream = &deflater->stream;
    stream->next_in = (Bytef *)input;
    stream->avail_in = (uInt)length;
    stream->next_out = output;
    stream->avail_out = (uInt)capacity;
    int result = deflate(stream, Z_SYNC_FLUSH);
    if ((result != Z_OK && result != Z_BUF_ERROR) || stream->avail_in != 0 || stream->avail_out == 0) return -1;
    return (long)(capacity - stream->avail_out);
}

/// Whether `output` inflates to `input` after the window the receiver holds.
static int inflates_back(tailcast_deflater *deflater, const uint8_t *output, long count, const uint8_t *input, size_t length) {
    size_t window;
    const uint8_t *history = optimal_deflater_history_before_last(deflater->optimal, &window);
    z_stream *check = &deflater->check;
    if (inflateReset(check) != Z_OK) return 0;
    if (window && inflateSetDictionary(check, history, (uInt)window) != Z_OK) return 0;
    check->next_in = (Bytef *)output;
    check->avail_in = (uInt)count;
    check->next_out = deflater->checked;
    check->avail_out = OPTIMAL_DEFLATE_MAX_INPUT + 1;
    int result = inflate(check, Z_SYNC_FLUSH);
    size_t produced = OPTIMAL_DEFLATE_MAX_INPUT + 1 - check->avail_out;
    return (result == Z_OK || result == Z_BUF_ERROR) && check->avail_in == 0 && produced == length &&
           memcmp(deflater->checked, input, length) == 0;
}

long tailcast_deflater_compress(tailcast_deflater *deflater, const uint8_t *input, size_t length, uint8_t *output, size_t capacity) {
    size_t window;
    const uint8_t *history;
    if (deflater->level == TAILCAST_DEFLATE_OPTIMAL && length <= OPTIMAL_DEFLATE_MAX_INPUT) {
        long count = optimal_deflater_compress(deflater->optimal, input, length, output, capacity);
        if (count >= 0 && inflates_back(deflater, output, count, input, length)) {
            deflater->zlib_behind = 1;
            return count;
        }
        deflater->fallbacks++;
        // The input is in the optimal encoder's window already; zlib sends it after the window before it.
        history = optimal_deflater_history_before_last(deflater->optimal, &window);
        if (catch_up(deflater, history, window) != 0) return -1;
        return zlib_compress(deflater, input, length, output, capacity);
    }
    if (deflater->zlib_behind) {
        history = optimal_deflater_history(deflater->optimal, &window);
        if (catch_up(deflater, history, window) != 0) return -1;
    }
    long count = zlib_compress(deflater, input, length, output, capacity);
    if (count >= 0 && deflater->optimal) optimal_deflater_remember(deflater->optimal, input, length);
    return count;
}

int tailcast_deflater_reset(tailcast_deflater *deflater) {
    if (deflater->optimal) optimal_deflater_forget(deflater->optimal);
    deflater->zlib_behind = 0;
    return deflateReset(&deflater->stream) == Z_OK ? 0 : -1;
}

unsigned long tailcast_deflater_fallbacks(const tailcast_deflater *deflater) {
    return deflater->fallbacks;
}
