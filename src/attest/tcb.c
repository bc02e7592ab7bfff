#include "tcb.h"

#include <stdio.h>
#include <string.h>

#include "crypto/ct.h"

/* QVL convergeTcbStatusWithQeTcbStatus (also used for the TDX module status, §1.9 step 4/6):
 * an out-of-date QE or module makes an up-to-date platform out of date; revoked wins. */
static tcb_status converge(tcb_status s, tcb_status other) {
    if (other == TCB_REVOKED) {
        return TCB_REVOKED;
    }
    if (other == TCB_OUT_OF_DATE) {
        if (s == TCB_UP_TO_DATE || s == TCB_SW_HARDENING_NEEDED) {
            return TCB_OUT_OF_DATE;
        }
        if (s == TCB_CONFIGURATION_NEEDED || s == TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED) {
            return TCB_OUT_OF_DATE_CONFIGURATION_NEEDED;
        }
    }
    return s;
}

static uint32_t be32(const uint8_t b[4]) {
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

/* §1.8 (QVL EnclaveReportVerifier): identity fields, then the first level (descending
 * ISVSVN) the QE's ISVSVN reaches. */
static err_t check_qe(const quote *q, const coll_qe_identity *id, tcb_status *st, uint64_t *adv) {
    const quote_sgx_report *r = &q->qe_report;
    const char *want = quote_is_tdx(q) ? "TD_QE" : "QE";
    if (strcmp(id->id, want) != 0) {
        return err_fail(ERR_COLLATERAL_MISMATCH, "QE identity is \"%s\", quote needs \"%s\"",
                        id->id, want);
    }
    if ((r->miscselect & be32(id->miscselect_mask)) != be32(id->miscselect)) {
        return err_fail(ERR_QE_IDENTITY, "QE MISCSELECT does not match");
    }
    for (int i = 0; i < 16; i++) {
        if ((r->attributes[i] & id->attributes_mask[i]) != id->attributes[i]) {
            return err_fail(ERR_QE_IDENTITY, "QE ATTRIBUTES do not match");
        }
    }
    if (memcmp(r->mrsigner, id->mrsigner, 32) != 0) {
        return err_fail(ERR_QE_IDENTITY, "QE MRSIGNER is not the identity's");
    }
    if (r->isvprodid != id->isvprodid) {
        return err_fail(ERR_QE_IDENTITY, "QE ISVPRODID %u, identity says %u",
                        (unsigned)r->isvprodid, (unsigned)id->isvprodid);
    }
    for (size_t i = 0; i < id->nlevels; i++) {
        if (id->levels[i].isvsvn <= r->isvsvn) {
            *st = id->levels[i].status;
            *adv = id->levels[i].adv;
            return ERR_OK;
        }
    }
    return err_fail(ERR_QE_IDENTITY, "QE ISVSVN %u is below every QE identity level",
                    (unsigned)r->isvsvn);
}

/* §1.9 "TDX module identity": TEE_TCB_SVN[1] selects TDX_%02X, or tdxModule when 0. */
static err_t check_module(const quote *q, const coll_tcb_info *t, const coll_tdx_module **out) {
    uint8_t ver = q->td.tee_tcb_svn[1];
    const coll_tdx_module *m = NULL;
    if (ver > 0) {
        char want[16];
        snprintf(want, sizeof(want), "TDX_%02X", (unsigned)ver);
        for (size_t i = 0; i < t->nmodule_ids && !m; i++) {
            if (strcmp(t->module_ids[i].id, want) == 0) {
                m = &t->module_ids[i];
            }
        }
        if (!m) {
            return err_fail(ERR_TDX_MODULE, "no TDX module identity %s in the TCB info", want);
        }
    } else if (t->has_module) {
        m = &t->module;
    } else {
        return err_fail(ERR_TDX_MODULE, "TCB info has no tdxModule");
    }
    if (memcmp(q->td.mrsignerseam, m->mrsigner, 48) != 0) {
        return err_fail(ERR_TDX_MODULE, "MRSIGNERSEAM is not the module identity's");
    }
    uint8_t attrs[8];
    for (int i = 0; i < 8; i++) {
        attrs[i] = (uint8_t)(q->td.seam_attributes >> (8 * i));
    }
    /* QVL TdxModuleCheck: SEAMATTRIBUTES must be zero and equal the identity's attributes
     * (the mask is not applied). */
    static const uint8_t zero[8];
    if (memcmp(attrs, zero, 8) != 0 || memcmp(attrs, m->attributes, 8) != 0) {
        return err_fail(ERR_TDX_MODULE, "SEAMATTRIBUTES are not zero / not the identity's");
    }
    *out = m;
    return ERR_OK;
}

static bool sgx_matches(const coll_tcb_level *L, const attest_pck_info *pck) {
    for (int i = 0; i < 16; i++) {
        if (pck->comp[i] < L->sgx[i]) {
            return false;
        }
    }
    return pck->pcesvn >= L->pcesvn;
}

/* TEE_TCB_SVN against a level's TDX components; bytes 0..1 (module SVN and version) are
 * judged by the module identity instead when the version byte is set. */
static bool tdx_matches(const coll_tcb_level *L, const uint8_t svn[16]) {
    for (int i = svn[1] > 0 ? 2 : 0; i < 16; i++) {
        if (svn[i] < L->tdx[i]) {
            return false;
        }
    }
    return true;
}

static const coll_isv_level *module_level(const coll_tdx_module *m, uint8_t isvsvn) {
    for (size_t i = 0; i < m->nlevels; i++) {
        if (isvsvn >= m->levels[i].isvsvn) {
            return &m->levels[i];
        }
    }
    return NULL;
}

static bool is_config_status(tcb_status s) {
    return s == TCB_CONFIGURATION_NEEDED || s == TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED ||
           s == TCB_OUT_OF_DATE_CONFIGURATION_NEEDED;
}

err_t tcb_evaluate(const quote *q, const attest_pck_info *pck, const collateral *c,
                   tcb_result *out) {
    memset(out, 0, sizeof(*out));
    const coll_tcb_info *t = collateral_tcb_info(c);
    bool tdx = quote_is_tdx(q);
    if (strcmp(t->id, tdx ? "TDX" : "SGX") != 0 || t->version < 3) {
        return err_fail(ERR_COLLATERAL_MISMATCH, "TCB info \"%s\" v%d for a %s quote", t->id,
                        t->version, tdx ? "TDX" : "SGX");
    }
    if (memcmp(t->fmspc, pck->fmspc, 6) != 0) {
        return err_fail(ERR_COLLATERAL_MISMATCH, "TCB info FMSPC is not the PCK certificate's");
    }
    if (memcmp(t->pceid, pck->pceid, 2) != 0) {
        return err_fail(ERR_COLLATERAL_MISMATCH, "TCB info PCE-ID is not the PCK certificate's");
    }
    uint64_t qe_adv = 0;
    TRY(check_qe(q, collateral_qe_identity(c), &out->qe, &qe_adv));

    const coll_tdx_module *m = NULL;
    if (tdx) {
        TRY(check_module(q, t, &m));
    }

    /* §1.9 platform level: the first SGX match, and for TDX the first level matching both. */
    const coll_tcb_level *sgx_level = NULL;
    const coll_tcb_level *level = NULL;
    for (size_t i = 0; i < t->nlevels && !level; i++) {
        const coll_tcb_level *L = &t->levels[i];
        if (!sgx_matches(L, pck)) {
            continue;
        }
        if (!sgx_level) {
            sgx_level = L;
        }
        if (!tdx || tdx_matches(L, q->td.tee_tcb_svn)) {
            level = L;
            out->level = i;
        }
    }
    if (!level) {
        return err_fail(ERR_TCB_NOT_SUPPORTED, "no %s TCB level matches the platform",
                        sgx_level ? "TDX" : "SGX");
    }
    out->platform = level->status;
    out->tcb_date = level->date;
    out->advisories = level->adv | qe_adv;
    tcb_status s = level->status;
    out->module = TCB_UP_TO_DATE;
    if (tdx && q->td.tee_tcb_svn[1] > 0) {
        const coll_isv_level *ml = module_level(m, q->td.tee_tcb_svn[0]);
        if (!ml) {
            return err_fail(ERR_TCB_NOT_SUPPORTED, "TDX module SVN %u below every level",
                            (unsigned)q->td.tee_tcb_svn[0]);
        }
        out->module = ml->status;
        out->advisories |= ml->adv;
        s = converge(s, ml->status);
    }
    /* §1.9 step 5 (QVL TDRelaunchCheck), TD 1.5 bodies only: an out-of-date result caused by
     * the module alone, on a TD whose TEE_TCB_SVN2 (the SEAM it would run after a relaunch)
     * is already current, means "relaunch the TD" rather than "out of date". */
    if (tdx && q->body_type == QUOTE_BODY_TD15 && out->qe != TCB_OUT_OF_DATE &&
        out->qe != TCB_REVOKED &&
        (sgx_level->status == TCB_UP_TO_DATE || sgx_level->status == TCB_SW_HARDENING_NEEDED ||
         sgx_level->status == TCB_CONFIGURATION_NEEDED ||
         sgx_level->status == TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED) &&
        (s == TCB_OUT_OF_DATE || s == TCB_OUT_OF_DATE_CONFIGURATION_NEEDED) &&
        out->module == TCB_OUT_OF_DATE) {
        const uint8_t *svn2 = q->td.tee_tcb_svn2;
        bool current = tdx_matches(&t->levels[0], svn2);
        if (current && svn2[1] > 0) {
            const coll_tdx_module *m2 = NULL;
            char want[16];
            snprintf(want, sizeof(want), "TDX_%02X", (unsigned)svn2[1]);
            for (size_t i = 0; i < t->nmodule_ids && !m2; i++) {
                if (strcmp(t->module_ids[i].id, want) == 0) {
                    m2 = &t->module_ids[i];
                }
            }
            current = m2 && m2->nlevels > 0 && svn2[0] >= m2->levels[0].isvsvn;
        }
        if (current) {
            s = is_config_status(s) ? TCB_TD_RELAUNCH_ADVISED_CONFIGURATION_NEEDED
                                    : TCB_TD_RELAUNCH_ADVISED;
        }
    }
    out->status = converge(s, out->qe);
    return ERR_OK;
}
