// The server's HTTP layer (tools/ternspec/http_server.cpp) on arbitrary bytes from a client: whatever
// arrives, one connection is served to its end without a crash, a hang or a sanitizer report, and every
// answer it writes starts with a status line. Routes: a plain answer, an echo of the body, a stream of
// chunks.
#include <sys/socket.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "tools/ternspec/http_server.hpp"

using namespace ternspec::cli;

namespace {

HttpServer& server() {
    static HttpServer* s = [] {
        HttpLimits limits;
        limits.max_body = 2048;
        limits.max_header_bytes = 1024;
        limits.max_headers = 16;
        limits.request_timeout = std::chrono::milliseconds(200);
        limits.keep_alive_timeout = std::chrono::milliseconds(200);
        limits.write_timeout = std::chrono::milliseconds(200);
        auto* srv = new HttpServer(limits);
        srv->route("GET", "/health",
                   [](const HttpRequest&, HttpResponder& r) { r.send(200, "text/plain", "ok"); });
        srv->route("POST", "/echo", [](const HttpRequest& q, HttpResponder& r) {
            r.send(200, "application/octet-stream", q.body, {{"X-Path", q.path}});
        });
        srv->route("POST", "/stream", [](const HttpRequest& q, HttpResponder& r) {
            r.start_stream(200, "text/event-stream");
            for (std::size_t i = 0; i < q.body.size() && i < 8; ++i) r.write_chunk(q.body.substr(i, 1));
            r.end_stream();
        });
        return srv;
    }();
    return *s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size > 16384) return 0;  // stays inside the socket buffer: the client writes everything first
    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM, 0, fds) != 0) return 0;
    std::size_t off = 0;
    while (off < size) {
        const ssize_t n = ::write(fds[0], data + off, size - off);
        if (n <= 0) break;
        off += static_cast<std::size_t>(n);
    }
    ::shutdown(fds[0], SHUT_WR);
    server().serve_socket(fds[1]);
    ::close(fds[1]);
    std::string answers;
    char buf[4096];
    for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;)
        answers.append(buf, static_cast<std::size_t>(n));
    ::close(fds[0]);
    if (!answers.empty() && answers.rfind("HTTP/1.1 ", 0) != 0) __builtin_trap();
    return 0;
}
