/*
 * producer_state.h - per-partition sequence tracking for idempotent
 * producers (Kafka's producer state): a retried batch that was already
 * appended is answered with its original offset instead of being written
 * twice, and a gap in the sequence is refused.
 *
 * The state lives in memory; after a restart the first batch of each
 * producer is accepted as is (Kafka rebuilds the state from snapshots).
 */
#ifndef STRAND_BROKER_PRODUCER_STATE_H
#define STRAND_BROKER_PRODUCER_STATE_H

#include <stddef.h>
#include <stdint.h>

#define BK_PRODUCER_RECENT_BATCHES 5 /* what max.in.flight allows idempotent producers */

typedef struct bk_producer_batch {
    int32_t first_seq, last_seq;
    int64_t base_offset;
} bk_producer_batch_t;

typedef struct bk_producer {
    int64_t producer_id;
    int16_t epoch;
    int32_t last_seq;
    bk_producer_batch_t recent[BK_PRODUCER_RECENT_BATCHES];
    int recent_count, recent_next;
} bk_producer_t;

typedef struct bk_producers {
    bk_producer_t *items;
    size_t count, cap;
} bk_producers_t;

enum {
    BK_SEQ_APPEND = 0,    /* new batch in order (or first seen): append it */
    BK_SEQ_DUPLICATE = 1, /* already appended at *base_offset */
};

/* The sequence number of a batch's last record (sequences wrap at INT32_MAX). */
static inline int32_t bk_producer_last_seq(int32_t base_sequence, int32_t last_offset_delta)
{
    return (int32_t)(((int64_t)base_sequence + last_offset_delta) % ((int64_t)INT32_MAX + 1));
}

/* Checks a batch's producer id, epoch and sequence range. Returns
 * BK_SEQ_APPEND, BK_SEQ_DUPLICATE, or a negative Kafka error code
 * (-45 OUT_OF_ORDER_SEQUENCE_NUMBER, -47 INVALID_PRODUCER_EPOCH). */
int bk_producers_check(const bk_producers_t *producers, int64_t producer_id, int16_t epoch,
                       int32_t first_seq, int32_t last_seq, int64_t *base_offset);
/* Records an appended batch. Returns 0 or -1 when out of memory (the state
 * then simply does not remember the batch). */
int bk_producers_record(bk_producers_t *producers, int64_t producer_id, int16_t epoch,
                        int32_t first_seq, int32_t last_seq, int64_t base_offset);
void bk_producers_free(bk_producers_t *producers);

#endif
