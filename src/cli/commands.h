/* Subcommands of the `cocoon` binary. Each takes the arguments after its own name
 * (argv[0] is the subcommand name) and returns a process exit code:
 * 0 success, 1 failure reported on stderr, 2 usage error. */
#ifndef COCOON_CLI_COMMANDS_H
#define COCOON_CLI_COMMANDS_H

/* X(name, function, one-line help) */
#define CLI_COMMANDS(X)                                                                            \
    X(attest, cmd_attest, "generate, show and verify RA-TLS certificates and quotes")              \
    X(channel, cmd_channel, "attested channel between two processes (listen / connect)")           \
    X(run, cmd_run, "generate text with the built-in engine from a GGUF model")                    \
    X(model, cmd_model, "GGUF model files: quantize to q8_0/q4_0, show metadata")                  \
    X(ton, cmd_ton, "TON addresses, BOCs and accounts (HTTP API v2, localton faucet)")             \
    X(proxy, cmd_proxy, "proxy daemon: attested worker and client ports, request relay")           \
    X(worker, cmd_worker, "worker daemon: serves a model from an OpenAI-compatible upstream")      \
    X(client, cmd_client, "client daemon: OpenAI-compatible HTTP API in front of the network")     \
    X(up, cmd_up, "a complete local network on loopback (proxy, two workers, client)")

#define CLI_DECL_(name, fn, help) int fn(int argc, char **argv);
CLI_COMMANDS(CLI_DECL_)
#undef CLI_DECL_

#endif
