/* Non-cryptographic checksums: CRC-32 (IEEE 802.3, TL constructor ids). */
#ifndef COCOON_BASE_CRC_H
#define COCOON_BASE_CRC_H

#include <stddef.h>
#include <stdint.h>

uint32_t crc32_ieee(const void *data, size_t n);

#endif
