// The HTTP/1.1 layer under `ternspec serve`: one thread per connection, every read and write bounded by a
// deadline, the request head limited in bytes and in fields, pipelined requests answered in order, and a
// connection cap that, when full, closes the longest-idle or slowest unfinished connection so a new client
// (a health probe, say) is always admitted. Requests are parsed by Boost.Beast's parser; the sockets are
// plain POSIX with poll(), so each limit is explicit here. Why not cpp-httplib: docs/serving.md.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ternspec::cli {

struct HttpLimits {
    std::size_t max_body = 1 << 20;                    // bytes of one request body (413 beyond)
    std::size_t max_header_bytes = 16 << 10;           // request line and header fields together (431 beyond)
    std::size_t max_headers = 100;                     // header fields (431 beyond)
    std::size_t max_connections = 512;                 // open at once; beyond, the most idle one is closed
    std::chrono::milliseconds request_timeout{30000};  // from a request's first byte to its last (408)
    std::chrono::milliseconds keep_alive_timeout{5000};  // waiting for the next request's first byte
    std::chrono::milliseconds write_timeout{30000};      // one write that the client does not drain
};

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

struct HttpRequest {
    std::string method, target, path;  // path: target without its query
    HttpHeaders headers;
    std::string body;
    std::string header(std::string_view name) const;  // case-insensitive; "" when absent
};

// How a handler answers: one whole response, or a stream of chunks. Writes return false once the client is
// gone or stopped reading for write_timeout; the handler then stops (and cancels its work).
class HttpResponder {
  public:
    virtual ~HttpResponder() = default;
    virtual bool send(int status, std::string_view content_type, std::string_view body,
                      const HttpHeaders& extra = {}) = 0;
    virtual bool start_stream(int status, std::string_view content_type, const HttpHeaders& extra = {}) = 0;
    virtual bool write_chunk(std::string_view data) = 0;
    virtual bool end_stream() = 0;
    // The client closed its side (or the socket failed) while the handler works on a reply.
    virtual bool client_gone() const = 0;
};

using HttpHandler = std::function<void(const HttpRequest&, HttpResponder&)>;
// A JSON (or other) body for an error the HTTP layer answers itself: 400, 404, 408, 413, 431, 500.
using HttpErrorBody = std::function<std::string(int status, const std::string& message)>;

class HttpServer {
  public:
    explicit HttpServer(HttpLimits limits);
    ~HttpServer();
    HttpServer(const HttpServer&) = delete;
    HttpServer& operator=(const HttpServer&) = delete;

    // A path ending in "/*" matches that path with one more segment (e.g. "/v1/models/*").
    void route(std::string method, std::string path, HttpHandler handler);
    // Runs before routing; returns true when it answered the request itself (authentication).
    void set_gate(std::function<bool(const HttpRequest&, HttpResponder&)> gate);
    void set_error_body(HttpErrorBody body);
    // Binds and listens (SO_REUSEADDR, not SO_REUSEPORT: a busy port is an error naming host:port).
    void bind(const std::string& host, int port);
    // Serves until stop(); returns once every connection has ended (a running handler finishes first).
    void run();
    void stop();  // from any thread
    // Serves one connected socket on the calling thread until the connection ends, as run() serves each
    // accepted one; the caller keeps ownership of fd. For tests and the fuzzer (no listener needed).
    void serve_socket(int fd);

    struct Impl;

  private:
    std::unique_ptr<Impl> impl_;
};

}  // namespace ternspec::cli
