#ifndef C_TAILCAST_OPTIMAL_DEFLATE_H
#define C_TAILCAST_OPTIMAL_DEFLATE_H
#include <stddef.h>
#include <stdint.h>

/// A raw-deflate encoder that spends CPU on size: every match a hash chain offers is weighed by a
/// shortest-path parse against the costs of the block's own Huffman codes, a few rounds over. Meant for
/// the small messages a slow job sends, where zlib's greedy-lazy parse and one dynamic tree per message
/// leave 5-10% on the table. It keeps its own copy of the stream's recent bytes (what the receiver's
/// window holds), so it can take over from zlib, and hand back, at any message boundary.
typedef struct optimal_deflater optimal_deflater;

/// The largest input `optimal_deflater_compress` takes in one call.
#define OPTIMAL_DEFLATE_MAX_INPUT 65535

optimal_deflater *optimal_deflater_create(int window_bits);
void optimal_deflater_destroy(optimal_deflater *deflater);
/// Adds bytes another encoder sent to the window this one may refer back into.
void optimal_deflater_remember(optimal_deflater *deflater, const uint8_t *input, size_t length);
/// The most recent bytes of the stream, at most 32 KiB: a dictionary for handing over to zlib.
const uint8_t *optimal_deflater_history(const optimal_deflater *deflater, size_t *length);
/// The same as it stood before the last `compress`: for checking that message, or sending it another way.
const uint8_t *optimal_deflater_history_before_last(const optimal_deflater *deflater, size_t *length);
/// Forgets the window (no context takeover).
void optimal_deflater_forget(optimal_deflater *deflater);
/// Compresses `input` (at most OPTIMAL_DEFLATE_MAX_INPUT bytes) as one block and a sync flush, and
/// remembers it. Returns the output length, or -1 when `capacity` is too small. The input is remembered
/// either way: a caller that sends it another way must not remember it again.
long optimal_deflater_compress(optimal_deflater *deflater, const uint8_t *input, size_t length, uint8_t *output,
                               size_t capacity);

#endif
