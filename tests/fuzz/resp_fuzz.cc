// libFuzzer target: the RESP request parser and the KV command path behind it. Whatever the
// bytes, the parser must either produce commands, ask for more, or report a protocol error —
// never crash, hang or allocate from an unchecked length — and validated commands must
// round-trip through the log encoding; the connection commands (HELLO CLIENT COMMAND ...) must
// answer whatever their arguments. Commands pass the server's permission check first (kv/auth.h,
// with both secrets set, which the corpus knows): a refusal is only ever NOAUTH or NOPERM, and
// access only changes through AUTH / HELLO AUTH.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "kv/auth.h"
#include "kv/connection_commands.h"
#include "kv/kv_commands.h"
#include "kv/kv_store.h"
#include "kv/resp.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace ballot::kv;
    RespLimits limits;
    limits.max_bulk_bytes = 4096;  // small limits reach the limit checks quickly
    limits.max_array_elements = 64;
    RespRequestParser parser(limits);
    KvStore store;
    // Feed in two pieces to exercise resumption at an arbitrary split point.
    std::size_t split = size > 0 ? data[0] % (size + 1) : 0;
    std::string_view all(reinterpret_cast<const char*>(data), size);
    std::vector<std::string> args;
    std::uint64_t seq = 1;
    const AuthConfig secrets{"fuzz-data-pw", "fuzz-admin-pw"};
    ClientState client;
    client.auth = initial_auth(secrets);
    const ClientList clients = [&client] { return std::vector<const ClientState*>{&client}; };
    for (std::string_view piece : {all.substr(0, split), all.substr(split)}) {
        parser.feed(piece);
        for (;;) {
            RespStatus st = parser.next(args);
            if (st != RespStatus::ok) break;
            Validation v = validate(args);
            if (!v.ok()) continue;
            const std::string refused = permission_error(secrets, client.auth, spec_of(v.command.op));
            if (!refused.empty() && !refused.starts_with("-NOAUTH ") && !refused.starts_with("-NOPERM "))
                __builtin_trap();
            if (v.command.kind() == CommandKind::local) {  // never logged
                const Access before = client.auth.granted;
                const bool authenticates = v.command.op == Op::auth || v.command.op == Op::hello;
                if (connection_reply(v.command, client, clients, secrets).empty()) __builtin_trap();
                if (client.auth.granted != before && !authenticates) __builtin_trap();
                continue;
            }
            std::string payload = encode_payload(v.command);
            auto back = decode_payload(payload);
            if (!back || !(*back == v.command)) __builtin_trap();
            if (v.command.kind() == CommandKind::write)
                store.apply(seq, ballot::Command{1, seq, seq, payload});
            else if (v.command.kind() == CommandKind::read)
                store.query(payload);
            ++seq;
        }
    }
    return 0;
}
