// A test upstream that speaks vLLM's OpenAI-compatible HTTP/SSE format exactly
// (../shared/reference/openai-sse.md): JSON answers with usage, SSE streams with a role chunk,
// content chunks, a finish chunk, a usage chunk only when stream_options.include_usage, then
// `data: [DONE]`; errors as vLLM's {"object":"error",...}. The answer is deterministic: the words
// of "echo: <last user message>" one per chunk. Test hooks, keyed on the prompt text:
//   "FAIL_FIRST"  the first such request has its connection dropped before any byte
//   "SLOW"        50 ms between chunks, 200 chunks (for cancellation)
//   opts.headDelayMs  every answer waits that long (a deliberately slow upstream)
//   opts.down         503 on every request while true (a backend that is down)
//   "HOLD"        the answer head waits 1.5 s (stats.holding counts requests waiting)
// GET /fixture/stats reports counters and the last request body the fixture saw.
// It is a test fixture only: the product never ships a fake model.
'use strict';
const http = require('http');

function makeFixture(model, opts = {}) {
  const stats = { requests: 0, completed: 0, cancelled: 0, failed_first: 0, holding: 0, last_body: null, last_sent: null };
  let failedOnce = false;
  const server = http.createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/fixture/stats') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(stats));
      return;
    }
    if (opts.down && req.url !== '/fixture/stats') {
      // A backend that is down (loading, crashed behind a proxy): 503 on everything.
      stats.refused_down = (stats.refused_down || 0) + 1;
      res.writeHead(503, { 'content-type': 'text/plain' });
      res.end('down');
      return;
    }
    if (req.method === 'GET' && req.url === '/v1/models') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ object: 'list', data: [{ id: model, object: 'model', created: 0, owned_by: 'vllm' }] }));
      return;
    }
    const chunks = [];
    req.on('data', (d) => chunks.push(d));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      if (opts.headDelayMs) setTimeout(() => handle(req, res, text), opts.headDelayMs);
      else handle(req, res, text);
    });
  });

  function vllmError(res, code, msg) {
    res.writeHead(code, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ object: 'error', message: msg, type: 'BadRequestError', param: null, code }));
  }

  function handle(req, res, text, held) {
    if (held) req.holdDone = true;
    stats.requests++;
    let body;
    try {
      body = JSON.parse(text);
    } catch (e) {
      return vllmError(res, 400, 'invalid JSON');
    }
    stats.last_body = body;
    const chat = req.url === '/v1/chat/completions';
    if (!chat && req.url !== '/v1/completions') {
      return vllmError(res, 404, 'not found');
    }
    if (body.model !== model) {
      return vllmError(res, 404, `The model \`${body.model}\` does not exist.`);
    }
    let prompt = chat ? ((body.messages || []).slice(-1)[0] || {}).content || '' : String(body.prompt || '');
    if (prompt.includes('FAIL_FIRST') && !failedOnce) {
      failedOnce = true;
      stats.failed_first++;
      req.socket.destroy();
      return;
    }
    if (prompt.includes('HOLD') && !req.holdDone) {
      req.holdDone = true;
      stats.holding++;
      setTimeout(() => {
        stats.holding--;
        if (!res.destroyed && !req.socket.destroyed) handle(req, res, text, true);
      }, 1500);
      stats.requests--;
      return;
    }
    const slow = prompt.includes('SLOW');
    let words = ('echo: ' + prompt).split(' ');
    if (slow) {
      words = Array.from({ length: 200 }, (_, i) => 'w' + i);
    }
    const maxTokens = body.max_tokens ?? body.max_completion_tokens;
    let finish = 'stop';
    if (typeof maxTokens === 'number' && words.length > maxTokens) {
      words = words.slice(0, maxTokens);
      finish = 'length';
    }
    const pieces = words.map((w, i) => (i === 0 ? w : ' ' + w));
    const usage = { prompt_tokens: prompt.split(' ').length + 5, total_tokens: 0, completion_tokens: pieces.length, prompt_tokens_details: null };
    usage.total_tokens = usage.prompt_tokens + usage.completion_tokens;
    const id = (chat ? 'chatcmpl-' : 'cmpl-') + 'fixture' + stats.requests;
    const created = 1732492800;
    const object = chat ? 'chat.completion' : 'text_completion';
    if (!body.stream) {
      const content = pieces.join('');
      const choice = chat
        ? { index: 0, message: { role: 'assistant', content }, logprobs: null, finish_reason: finish }
        : { index: 0, text: content, logprobs: null, finish_reason: finish };
      res.writeHead(200, { 'content-type': 'application/json' });
      stats.last_sent = JSON.stringify({ id, object, created, model, choices: [choice], usage });
      res.end(stats.last_sent);
      stats.completed++;
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' });
    const cobj = chat ? 'chat.completion.chunk' : 'text_completion';
    let sent = '';
    const ev = (o) => {
      const line = 'data: ' + JSON.stringify(o) + '\n\n';
      sent += line;
      res.write(line);
    };
    const chunk = (delta, fr) =>
      chat
        ? { id, object: cobj, created, model, choices: [{ index: 0, delta, logprobs: null, finish_reason: fr }] }
        : { id, object: cobj, created, model, choices: [{ index: 0, text: delta.content || '', logprobs: null, finish_reason: fr }] };
    let closed = false;
    res.on('close', () => {
      if (!res.writableFinished) {
        closed = true;
        stats.cancelled++;
      }
    });
    if (chat) ev(chunk({ role: 'assistant', content: '' }, null));
    let i = 0;
    const step = () => {
      if (closed) return;
      if (i < pieces.length) {
        ev(chunk({ content: pieces[i++] }, null));
        return setTimeout(step, slow ? 50 : 0);
      }
      ev(chunk({ content: '' }, finish));
      if (body.stream_options && body.stream_options.include_usage) {
        ev({ id, object: cobj, created, model, choices: [], usage });
      }
      res.write('data: [DONE]\n\n');
      stats.last_sent = sent + 'data: [DONE]\n\n';
      res.end();
      stats.completed++;
    };
    step();
  }
  return { server, stats };
}

module.exports = { makeFixture };

if (require.main === module) {
  const model = process.argv[2] || 'fortune-llama-7m';
  const { server } = makeFixture(model);
  server.listen(Number(process.argv[3] || 0), '127.0.0.1', () => {
    console.log(`upstream: http://127.0.0.1:${server.address().port}/v1`);
  });
}
