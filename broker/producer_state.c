/*
 * producer_state.c - idempotent producer sequence checks (see the header).
 */
#include "producer_state.h"

#include <string.h>

#include "base/alloc.h"

static bk_producer_t *find(const bk_producers_t *producers, int64_t producer_id)
{
    for (size_t i = 0; i < producers->count; i++)
        if (producers->items[i].producer_id == producer_id)
            return &producers->items[i];
    return NULL;
}

static int32_t next_seq(int32_t seq) { return seq == INT32_MAX ? 0 : seq + 1; }

int bk_producers_check(const bk_producers_t *producers, int64_t producer_id, int16_t epoch,
                       int32_t first_seq, int32_t last_seq, int64_t *base_offset)
{
    const bk_producer_t *p = find(producers, producer_id);
    if (!p)
        return BK_SEQ_APPEND;
    if (epoch < p->epoch)
        return -47;
    if (epoch > p->epoch)
        return first_seq == 0 ? BK_SEQ_APPEND : -45;
    for (int i = 0; i < p->recent_count; i++) {
        const bk_producer_batch_t *b = &p->recent[i];
        if (b->first_seq == first_seq && b->last_seq == last_seq) {
            *base_offset = b->base_offset;
            return BK_SEQ_DUPLICATE;
        }
    }
    return first_seq == next_seq(p->last_seq) ? BK_SEQ_APPEND : -45;
}

int bk_producers_record(bk_producers_t *producers, int64_t producer_id, int16_t epoch,
                        int32_t first_seq, int32_t last_seq, int64_t base_offset)
{
    bk_producer_t *p = find(producers, producer_id);
    if (!p) {
        if (producers->count == producers->cap) {
            size_t cap = producers->cap ? producers->cap * 2 : 8;
            bk_producer_t *grown = sd_realloc(producers->items, cap * sizeof *grown);
            if (!grown)
                return -1;
            producers->items = grown;
            producers->cap = cap;
        }
        p = &producers->items[producers->count++];
        memset(p, 0, sizeof *p);
        p->producer_id = producer_id;
        p->epoch = epoch;
    }
    if (epoch != p->epoch) {
        p->epoch = epoch;
        p->recent_count = p->recent_next = 0;
    }
    p->last_seq = last_seq;
    p->recent[p->recent_next] = (bk_producer_batch_t){first_seq, last_seq, base_offset};
    p->recent_next = (p->recent_next + 1) % BK_PRODUCER_RECENT_BATCHES;
    if (p->recent_count < BK_PRODUCER_RECENT_BATCHES)
        p->recent_count++;
    return 0;
}

void bk_producers_free(bk_producers_t *producers)
{
    sd_free(producers->items);
    memset(producers, 0, sizeof *producers);
}
