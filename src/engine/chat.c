#include "chat.h"

#include <string.h>

const char *chat_format_name(chat_format f) {
    return f == CHAT_LLAMA3 ? "llama3" : "chatml";
}

static bool contains(gguf_str s, const char *needle) {
    size_t n = strlen(needle);
    for (size_t i = 0; i + n <= s.len; i++) {
        if (memcmp(s.p + i, needle, n) == 0) {
            return true;
        }
    }
    return false;
}

err_t chat_detect(const gguf *g, const tok *t, chat_format *out) {
    gguf_str tmpl;
    if (gguf_get_str(g, "tokenizer.chat_template", &tmpl) != ERR_OK) {
        if (tok_find(t, "<|im_start|>", 12) >= 0) {
            *out = CHAT_CHATML;
            return ERR_OK;
        }
        return err_fail(ERR_MALFORMED, "model has no chat template");
    }
    if (contains(tmpl, "<|start_header_id|>") && contains(tmpl, "<|eot_id|>")) {
        *out = CHAT_LLAMA3;
        return ERR_OK;
    }
    if (contains(tmpl, "<|im_start|>") && contains(tmpl, "<|im_end|>")) {
        *out = CHAT_CHATML;
        return ERR_OK;
    }
    return err_fail(ERR_MALFORMED, "chat template not recognised (ChatML and Llama 3 supported)");
}

static err_t check_role(const char *role) {
    static const char *const ROLES[] = {"system", "user", "assistant", "tool"};
    for (size_t i = 0; i < sizeof(ROLES) / sizeof(ROLES[0]); i++) {
        if (strcmp(role, ROLES[i]) == 0) {
            return ERR_OK;
        }
    }
    return err_fail(ERR_MALFORMED, "chat role '%.32s' is not allowed", role);
}

static err_t special(const tok *t, const char *text, tok_vec *out) {
    int32_t id = tok_find(t, text, strlen(text));
    if (id < 0) {
        return err_fail(ERR_MALFORMED, "vocabulary has no %s token", text);
    }
    return tok_vec_push(out, id);
}

/* Jinja's trim: strips leading and trailing white space */
static void trimmed(const char *s, size_t *off, size_t *len) {
    size_t a = 0;
    size_t b = strlen(s);
    while (a < b && strchr(" \t\n\r\f\v", s[a])) {
        a++;
    }
    while (b > a && strchr(" \t\n\r\f\v", s[b - 1])) {
        b--;
    }
    *off = a;
    *len = b - a;
}

static err_t text(const tok *t, buf *scratch, tok_vec *out) {
    err_t e = tok_encode(t, (const char *)scratch->data, scratch->len, false, out);
    buf_reset(scratch);
    return e;
}

err_t chat_tokenize(chat_format f, const tok *t, const chat_msg *msgs, size_t n,
                    bool add_generation_prompt, tok_vec *out) {
    buf s;
    buf_init(&s, TOK_MAX_TEXT);
    err_t e = ERR_OK;
    if (f == CHAT_LLAMA3) {
        e = special(t, "<|begin_of_text|>", out);
    }
    for (size_t i = 0; e == ERR_OK && i < n; i++) {
        e = check_role(msgs[i].role);
        if (e != ERR_OK) {
            break;
        }
        if (f == CHAT_CHATML) {
            if ((e = special(t, "<|im_start|>", out)) != ERR_OK ||
                (e = buf_append(&s, msgs[i].role, strlen(msgs[i].role))) != ERR_OK ||
                (e = buf_u8(&s, '\n')) != ERR_OK ||
                (e = buf_append(&s, msgs[i].content, strlen(msgs[i].content))) != ERR_OK ||
                (e = text(t, &s, out)) != ERR_OK || (e = special(t, "<|im_end|>", out)) != ERR_OK ||
                (e = buf_u8(&s, '\n')) != ERR_OK || (e = text(t, &s, out)) != ERR_OK) {
                break;
            }
        } else {
            size_t off;
            size_t len;
            trimmed(msgs[i].content, &off, &len);
            if ((e = special(t, "<|start_header_id|>", out)) != ERR_OK ||
                (e = buf_append(&s, msgs[i].role, strlen(msgs[i].role))) != ERR_OK ||
                (e = text(t, &s, out)) != ERR_OK ||
                (e = special(t, "<|end_header_id|>", out)) != ERR_OK ||
                (e = buf_append(&s, "\n\n", 2)) != ERR_OK ||
                (e = buf_append(&s, msgs[i].content + off, len)) != ERR_OK ||
                (e = text(t, &s, out)) != ERR_OK || (e = special(t, "<|eot_id|>", out)) != ERR_OK) {
                break;
            }
        }
    }
    if (e == ERR_OK && add_generation_prompt) {
        if (f == CHAT_CHATML) {
            if ((e = special(t, "<|im_start|>", out)) == ERR_OK &&
                (e = buf_append(&s, "assistant\n", 10)) == ERR_OK) {
                e = text(t, &s, out);
            }
        } else {
            if ((e = special(t, "<|start_header_id|>", out)) == ERR_OK &&
                (e = buf_append(&s, "assistant", 9)) == ERR_OK &&
                (e = text(t, &s, out)) == ERR_OK &&
                (e = special(t, "<|end_header_id|>", out)) == ERR_OK &&
                (e = buf_append(&s, "\n\n", 2)) == ERR_OK) {
                e = text(t, &s, out);
            }
        }
    }
    buf_free(&s);
    return e;
}

static err_t put(buf *b, const char *s) {
    return buf_append(b, s, strlen(s));
}

err_t chat_render(chat_format f, const chat_msg *msgs, size_t n, bool add_generation_prompt,
                  buf *out) {
    if (f == CHAT_LLAMA3) {
        TRY(put(out, "<|begin_of_text|>"));
    }
    for (size_t i = 0; i < n; i++) {
        TRY(check_role(msgs[i].role));
        if (f == CHAT_CHATML) {
            TRY(put(out, "<|im_start|>"));
            TRY(put(out, msgs[i].role));
            TRY(put(out, "\n"));
            TRY(put(out, msgs[i].content));
            TRY(put(out, "<|im_end|>\n"));
        } else {
            size_t off;
            size_t len;
            trimmed(msgs[i].content, &off, &len);
            TRY(put(out, "<|start_header_id|>"));
            TRY(put(out, msgs[i].role));
            TRY(put(out, "<|end_header_id|>\n\n"));
            TRY(buf_append(out, msgs[i].content + off, len));
            TRY(put(out, "<|eot_id|>"));
        }
    }
    if (add_generation_prompt) {
        TRY(put(out, f == CHAT_CHATML ? "<|im_start|>assistant\n"
                                      : "<|start_header_id|>assistant<|end_header_id|>\n\n"));
    }
    return ERR_OK;
}
