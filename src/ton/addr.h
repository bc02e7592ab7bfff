/* TON account addresses: raw "wc:hex" and user-friendly (TEP-2: tag, workchain, hash,
 * CRC16-XMODEM, base64 or base64url; ../shared/reference/contracts.md §C.3), plus their
 * MsgAddressInt encoding in cells (addr_std$10 anycast:0 workchain_id:int8 address:bits256). */
#ifndef COCOON_TON_ADDR_H
#define COCOON_TON_ADDR_H

#include <stdbool.h>
#include <stdint.h>

#include "base/err.h"
#include "cell.h"

typedef struct {
    int32_t wc; /* -128..127 in addr_std; raw text accepts the same range */
    uint8_t hash[32];
} ton_addr;

/* Flags carried by a user-friendly address. */
typedef struct {
    bool friendly; /* false: the input was raw */
    bool bounceable;
    bool testnet;
    bool url_safe;
} ton_addr_flags;

#define TON_ADDR_FRIENDLY_LEN 48
#define TON_ADDR_RAW_MAX 70 /* "-128:" + 64 hex + NUL */

/* CRC-16/XMODEM (poly 0x1021, init 0). */
uint16_t ton_crc16(const uint8_t *data, size_t n);

/* Raw ("0:<64 hex>", hex in either case) or user-friendly (48 chars of base64 or base64url).
 * ERR_BAD_ENCODING for bad text or a wrong checksum, ERR_MALFORMED for an unknown tag or a
 * workchain out of range. flags may be NULL. */
MUST_CHECK err_t ton_addr_parse(const char *text, ton_addr *out, ton_addr_flags *flags);
/* "wc:<64 lowercase hex>" */
void ton_addr_to_raw(const ton_addr *a, char out[TON_ADDR_RAW_MAX]);
/* 48 chars + NUL; requires -128 <= wc <= 127 (always true for a parsed address). */
void ton_addr_to_friendly(const ton_addr *a, bool bounceable, bool testnet, bool url_safe,
                          char out[TON_ADDR_FRIENDLY_LEN + 1]);
bool ton_addr_equal(const ton_addr *a, const ton_addr *b);

/* MsgAddressInt addr_std without anycast (267 bits). */
MUST_CHECK err_t tb_addr(ton_builder *b, const ton_addr *a);
/* addr_none$00 */
MUST_CHECK err_t tb_addr_none(ton_builder *b);
/* MsgAddress: addr_std (no anycast) sets *present=true; addr_none sets it false. Anycast,
 * addr_var and addr_extern are ERR_MALFORMED (the COCOON contracts never produce them). */
MUST_CHECK err_t ts_addr(ton_slice *s, ton_addr *out, bool *present);

#endif
