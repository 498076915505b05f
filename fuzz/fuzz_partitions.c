/* Fuzzes the partition list of ictal worker --partitions (src/server/natsdev.h). The
 * input's first byte chooses the partition count (1..256), the rest is the list. */
#include "server/natsdev.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    int count = 1 + data[0];
    char *text = malloc(size);
    if (text == NULL)
        return 0;
    memcpy(text, data + 1, size - 1);
    text[size - 1] = 0;
    uint8_t owned[ICTAL__NATS_PARTITIONS_MAX];
    ictal_diag d;
    ictal_diag_init(&d);
    int n = ictal__nats_partitions_parse(text, count, owned, &d);
    if (n < 0 && d.message[0] == 0)
        abort(); /* every error says what */
    if (n == 0 || n > count)
        abort(); /* an accepted list owns 1..count partitions */
    if (n > 0) {
        int set = 0;
        for (int k = 0; k < count; k++)
            set += owned[k] == 1;
        if (set != n)
            abort(); /* the count returned is the partitions marked */
    }
    free(text);
    return 0;
}
