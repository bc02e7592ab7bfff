/* A fast OpenAI-compatible upstream for bench/net: answers every POST at once, in vLLM's
 * shapes (a chat.completion JSON with usage, or an SSE stream of a role chunk, four content
 * chunks, a finish chunk, a usage chunk and `data: [DONE]` when the body asks for a stream).
 * One libevent loop on 127.0.0.1, keep-alive. A benchmark fixture only: never shipped.
 *
 *   net_upstream PORT_FILE      (binds 127.0.0.1:0, writes the port to PORT_FILE, runs until
 *                                SIGTERM/SIGINT) */
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char JSON_ANSWER[] =
    "{\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion\",\"created\":1732492800,"
    "\"model\":\"bench-model\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
    "\"content\":\"one two three four\"},\"logprobs\":null,\"finish_reason\":\"stop\"}],"
    "\"usage\":{\"prompt_tokens\":9,\"total_tokens\":13,\"completion_tokens\":4}}";

#define CHUNK(delta, fin)                                                                          \
    "data: "                                                                                       \
    "{\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion.chunk\",\"created\":1732492800,"      \
    "\"model\":\"bench-model\",\"choices\":[{\"index\":0,\"delta\":" delta ",\"logprobs\":null,"   \
    "\"finish_reason\":" fin "}]}\n\n"

static const char SSE_ANSWER[] = CHUNK("{\"role\":\"assistant\",\"content\":\"\"}", "null") CHUNK(
    "{\"content\":\"one\"}", "null") CHUNK("{\"content\":\" two\"}", "null")
    CHUNK("{\"content\":\" three\"}", "null") CHUNK("{\"content\":\" four\"}", "null") CHUNK(
        "{\"content\":\"\"}",
        "\"stop\"") "data: {\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion.chunk\","
                    "\"created\":1732492800,\"model\":\"bench-model\",\"choices\":[],\"usage\":{"
                    "\"prompt_tokens\":9,\"total_tokens\":13,\"completion_tokens\":4}}\n\n"
                    "data: [DONE]\n\n";

static void on_req(struct evhttp_request *req, void *arg) {
    (void)arg;
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t n = evbuffer_get_length(in);
    char body[4096];
    size_t take = n < sizeof(body) - 1 ? n : sizeof(body) - 1;
    evbuffer_copyout(in, body, take);
    body[take] = 0;
    bool stream = strstr(body, "\"stream\":true") != NULL;
    struct evbuffer *out = evbuffer_new();
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    if (stream) {
        evhttp_add_header(h, "Content-Type", "text/event-stream; charset=utf-8");
        evbuffer_add(out, SSE_ANSWER, sizeof(SSE_ANSWER) - 1);
    } else {
        evhttp_add_header(h, "Content-Type", "application/json");
        evbuffer_add(out, JSON_ANSWER, sizeof(JSON_ANSWER) - 1);
    }
    evhttp_send_reply(req, 200, "OK", out);
    evbuffer_free(out);
}

static void on_signal(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    event_base_loopbreak(arg);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: net_upstream PORT_FILE\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    struct event_base *base = event_base_new();
    struct evhttp *http = base ? evhttp_new(base) : NULL;
    if (!http) {
        return 1;
    }
    evhttp_set_gencb(http, on_req, NULL);
    struct evhttp_bound_socket *bs = evhttp_bind_socket_with_handle(http, "127.0.0.1", 0);
    if (!bs) {
        fprintf(stderr, "net_upstream: cannot listen\n");
        return 1;
    }
    struct sockaddr_in sa;
    socklen_t sl = sizeof(sa);
    getsockname(evhttp_bound_socket_get_fd(bs), (struct sockaddr *)&sa, &sl);
    FILE *f = fopen(argv[1], "w");
    if (!f) {
        return 1;
    }
    fprintf(f, "%u\n", ntohs(sa.sin_port));
    fclose(f);
    struct event *s1 = evsignal_new(base, SIGTERM, on_signal, base);
    struct event *s2 = evsignal_new(base, SIGINT, on_signal, base);
    event_add(s1, NULL);
    event_add(s2, NULL);
    event_base_dispatch(base);
    event_free(s1);
    event_free(s2);
    evhttp_free(http);
    event_base_free(base);
    return 0;
}
