/*
 * Internals shared by the files of ictal-train (not installed, not public API).
 */
#ifndef ICTAL_TRAIN_INTERNAL_H
#define ICTAL_TRAIN_INTERNAL_H

#include "ictal/train.h"

/* Non-zero when the item has a seizure of positive length. */
int ictal__item_has_seizure(const ictal_corpus_item *it);

/*
 * Deals the items with subset[i] set (all when subset is NULL) into k folds, stratified
 * by ictal__item_has_seizure after a shuffle seeded by seed; items outside subset get
 * fold -1. Returns k or ICTAL_ENOMEM.
 */
int ictal__deal_folds(const ictal_corpus *c, const uint8_t *subset, int k, unsigned seed,
                      int *fold_of_item);

#endif
