/* TCB evaluation (attestation.md §1.8, §1.9): from a quote whose signatures are verified, the
 * PCK certificate's platform values and checked collateral, Intel's status for the platform.
 * A pure function: no time, no I/O (collateral validity is collateral_check's job). */
#ifndef COCOON_ATTEST_TCB_H
#define COCOON_ATTEST_TCB_H

#include <stdint.h>

#include "attest/collateral.h"
#include "attest/quote.h"
#include "attest/verify.h"
#include "base/err.h"

typedef struct {
    tcb_status status;   /* the final result (Intel's sgx_ql_qv_result_t meaning) */
    tcb_status platform; /* the matched TCB level's own status (TDX level for TDX) */
    tcb_status qe;       /* QE identity TCB status */
    tcb_status module;   /* TDX module status (UpToDate when TEE_TCB_SVN[1] == 0 / SGX) */
    uint64_t advisories; /* union of the matched levels' advisories (collateral_advisory) */
    int64_t tcb_date;    /* tcbDate of the matched platform level */
    size_t level;        /* index of the matched level in collateral_tcb_info()->levels */
} tcb_result;

/* Errors, each its own check:
 *  ERR_COLLATERAL_MISMATCH  TCB info id/version does not fit the quote (TDX/SGX), FMSPC or
 *                           PCE-ID differ from the PCK certificate, QE identity id is not
 *                           TD_QE (TDX) / QE (SGX)
 *  ERR_QE_IDENTITY          QE report MRSIGNER, ISVPRODID, masked MISCSELECT or ATTRIBUTES
 *                           differ, or its ISVSVN is below every QE identity level
 *  ERR_TDX_MODULE           no TDX module identity for TEE_TCB_SVN[1], MRSIGNERSEAM differs,
 *                           SEAMATTRIBUTES not zero or not the identity's attributes
 *  ERR_TCB_NOT_SUPPORTED    no TCB level matches (platform or module) */
MUST_CHECK err_t tcb_evaluate(const quote *q, const attest_pck_info *pck, const collateral *c,
                              tcb_result *out);

#endif
