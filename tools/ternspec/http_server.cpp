#include "tools/ternspec/http_server.hpp"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/string_body.hpp>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <list>
#include <map>
#include <mutex>
#include <thread>

#include "ternspec/error.hpp"

namespace ternspec::cli {

namespace http = boost::beast::http;
using Clock = std::chrono::steady_clock;

namespace {

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) ==
                      std::tolower(static_cast<unsigned char>(y));
           });
}

std::string_view sv(boost::beast::string_view v) {
    return {v.data(), v.size()};
}

int remaining_ms(Clock::time_point deadline) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    return static_cast<int>(std::clamp<long long>(left, 0, 1 << 30));
}

std::string status_line(int status) {
    const auto reason = http::obsolete_reason(static_cast<http::status>(status));
    return "HTTP/1.1 " + std::to_string(status) + " " +
           (reason.empty() ? std::string("Status") : std::string(reason.data(), reason.size())) + "\r\n";
}

// `Expect: 100-continue` (curl sends it before large bodies): the client waits for a go-ahead.
bool expects_continue(const http::request<http::string_body>& h) {
    const auto it = h.find(http::field::expect);
    return h.version() >= 11 && it != h.end() && iequals(sv(it->value()), "100-continue");
}

}  // namespace

std::string HttpRequest::header(std::string_view name) const {
    for (const auto& [k, v] : headers)
        if (iequals(k, name)) return v;
    return "";
}

// One open connection as the acceptor sees it: what it is doing, for the choice of which to close when the
// cap is reached.
struct ConnectionSlot {
    enum class State { Idle, Reading, Busy };
    int fd = -1;
    State state = State::Idle;
    Clock::time_point since = Clock::now();
    bool evicted = false;
};

struct HttpServer::Impl {
    HttpLimits limits;
    std::map<std::pair<std::string, std::string>, HttpHandler> routes;  // (method, path)
    std::function<bool(const HttpRequest&, HttpResponder&)> gate;
    HttpErrorBody error_body = [](int, const std::string& message) { return message + "\n"; };
    int listen_fd = -1;
    int stop_fd = -1;  // an eventfd, readable once stop() ran: wakes every poll
    std::atomic<bool> stopping{false};

    std::mutex mu;
    std::condition_variable all_closed;
    std::list<ConnectionSlot> connections;  // guarded by mu; one per thread that serves a connection

    void set_state(std::list<ConnectionSlot>::iterator c, ConnectionSlot::State s) {
        std::lock_guard<std::mutex> lock(mu);
        c->state = s;
        c->since = Clock::now();
    }
    // At the cap: close the connection that waits longest for a request's first byte, else the one that has
    // sent an unfinished request for longest. A connection whose request is being answered is never closed.
    bool evict_one_locked() {
        auto pick = connections.end();
        for (auto state : {ConnectionSlot::State::Idle, ConnectionSlot::State::Reading}) {
            for (auto it = connections.begin(); it != connections.end(); ++it)
                if (!it->evicted && it->state == state &&
                    (pick == connections.end() || it->since < pick->since))
                    pick = it;
            if (pick != connections.end()) break;
        }
        if (pick == connections.end()) return false;
        pick->evicted = true;
        ::shutdown(pick->fd, SHUT_RDWR);  // its thread sees end of file and closes the descriptor
        return true;
    }
    void serve_connection(int fd, std::list<ConnectionSlot>::iterator slot);
};

namespace {

// The socket side of one connection: reads into a buffer that keeps pipelined bytes, writes with deadlines.
class Connection : public HttpResponder {
  public:
    Connection(int fd, const HttpLimits& limits, int stop_fd) : fd_(fd), limits_(limits), stop_fd_(stop_fd) {}

    // Waits for more bytes until `deadline`; false on timeout, end of file, error, or stop.
    bool read_more(Clock::time_point deadline, bool* timed_out) {
        *timed_out = false;
        for (;;) {
            pollfd p[2] = {{fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
            const int wait = remaining_ms(deadline);
            const int r = ::poll(p, 2, wait);
            if (r < 0 && errno == EINTR) continue;
            if (r < 0) return false;
            if (r == 0) {
                *timed_out = true;
                return false;
            }
            if (p[1].revents & POLLIN) return false;
            char tmp[16384];
            const ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
            if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)) continue;
            if (n <= 0) return false;
            buffer_.append(tmp, static_cast<std::size_t>(n));
            return true;
        }
    }

    bool write_all(std::string_view data) {
        if (broken_) return false;
        const auto deadline = Clock::now() + limits_.write_timeout;
        while (!data.empty()) {
            const ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
            if (n > 0) {
                data.remove_prefix(static_cast<std::size_t>(n));
                continue;
            }
            if (n < 0 && errno == EINTR) continue;
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                pollfd p{fd_, POLLOUT, 0};
                const int wait = remaining_ms(deadline);
                if (wait > 0 && ::poll(&p, 1, wait) > 0 && !(p.revents & (POLLERR | POLLHUP))) continue;
            }
            broken_ = true;
            return false;
        }
        return true;
    }

    std::string head(int status, std::string_view content_type, const HttpHeaders& extra) const {
        std::string h = status_line(status);
        if (!content_type.empty()) h.append("Content-Type: ").append(content_type).append("\r\n");
        for (const auto& [k, v] : extra) h.append(k).append(": ").append(v).append("\r\n");
        if (close_after_) h.append("Connection: close\r\n");
        return h;
    }

    bool send(int status, std::string_view content_type, std::string_view body,
              const HttpHeaders& extra) override {
        answered_ = true;
        std::string out = head(status, content_type, extra);
        out.append("Content-Length: ").append(std::to_string(body.size())).append("\r\n\r\n");
        if (!head_only_) out.append(body);
        return write_all(out);
    }
    bool start_stream(int status, std::string_view content_type, const HttpHeaders& extra) override {
        answered_ = true;
        streaming_ = true;
        if (http10_)
            close_after_ = true;  // HTTP/1.0 has no chunked encoding: the body ends with the connection
        std::string out = head(status, content_type, extra);
        if (!http10_) out.append("Transfer-Encoding: chunked\r\n");
        out.append("\r\n");
        return write_all(out);
    }
    bool write_chunk(std::string_view data) override {
        if (data.empty()) return !broken_;
        if (http10_) return write_all(data);
        char size[32];
        std::snprintf(size, sizeof size, "%zx\r\n", data.size());
        std::string out(size);
        out.append(data).append("\r\n");
        return write_all(out);
    }
    bool end_stream() override {
        streaming_ = false;
        return http10_ ? !broken_ : write_all("0\r\n\r\n");
    }
    bool client_gone() const override {
        if (broken_) return true;
        pollfd p{fd_, POLLRDHUP, 0};
        return ::poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR));
    }

    // For the next request on this connection.
    void reset(bool close_after, bool http10, bool head_only) {
        answered_ = streaming_ = false;
        close_after_ = close_after;
        http10_ = http10;
        head_only_ = head_only;
    }
    // An error answer closes the connection: the rest of what the client sent is not a request boundary.
    void fail(int status, const std::string& body) {
        close_after_ = true;
        send(status, "application/json", body, {});
    }
    // Close as nginx's lingering close does: stop writing, then read (and drop) what the client still sends
    // for a moment, so that closing with unread bytes does not reset the connection before the client has
    // read the answer.
    void linger_close() {
        ::shutdown(fd_, SHUT_WR);
        const auto deadline = Clock::now() + std::chrono::milliseconds(500);
        std::size_t drained = 0;
        char tmp[16384];
        while (drained < (1u << 20)) {
            pollfd p{fd_, POLLIN, 0};
            if (::poll(&p, 1, remaining_ms(deadline)) <= 0) break;
            const ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
            if (n <= 0) break;
            drained += static_cast<std::size_t>(n);
        }
    }

    std::string& buffer() { return buffer_; }
    bool answered() const { return answered_; }
    bool streaming() const { return streaming_; }
    bool close_after() const { return close_after_ || broken_; }
    bool broken() const { return broken_; }

  private:
    int fd_;
    const HttpLimits& limits_;
    int stop_fd_;
    std::string buffer_;
    bool answered_ = false, streaming_ = false, close_after_ = false, broken_ = false, http10_ = false,
         head_only_ = false;
};

}  // namespace

void HttpServer::Impl::serve_connection(int fd, std::list<ConnectionSlot>::iterator slot) {
    Connection conn(fd, limits, stop_fd);
    auto& buf = conn.buffer();
    for (;;) {
        http::request_parser<http::string_body> parser;
        parser.header_limit(
            static_cast<std::uint32_t>(std::min<std::size_t>(limits.max_header_bytes, UINT32_MAX)));
        parser.body_limit(static_cast<std::uint64_t>(limits.max_body));
        // Beast's header_limit bounds what one put() call scans, not the head as a whole (fields already
        // parsed are consumed), so the head's bytes are counted here: the parser returns when the head is
        // complete (eager off), and reads the body eagerly after that.
        parser.eager(false);
        std::size_t head_bytes = 0;
        // Idle until the first byte of the next request (which may already be here, pipelined).
        auto deadline = Clock::now() + limits.keep_alive_timeout;
        bool started = false, sent_continue = false;
        int fail_status = 0;
        std::string fail_message;
        for (;;) {
            if (!buf.empty() && !started) {
                started = true;
                deadline = Clock::now() + limits.request_timeout;
                set_state(slot, ConnectionSlot::State::Reading);
            }
            if (!buf.empty()) {
                boost::system::error_code ec;
                const bool in_head = !parser.is_header_done();
                const std::size_t used = parser.put(boost::asio::buffer(buf.data(), buf.size()), ec);
                buf.erase(0, used);
                if (in_head) {
                    head_bytes += used;
                    if (parser.is_header_done()) parser.eager(true);
                }
                const bool head_too_big = in_head && head_bytes + (parser.is_header_done() ? 0 : buf.size()) >
                                                         limits.max_header_bytes;
                if (ec == http::error::header_limit || head_too_big) {
                    fail_status = 431;
                    fail_message = "the request head is larger than " +
                                   std::to_string(limits.max_header_bytes) + " bytes (--max-header-bytes)";
                } else if (ec == http::error::body_limit) {
                    fail_status = 413;
                    fail_message = "the request body is larger than " + std::to_string(limits.max_body) +
                                   " bytes (--max-body)";
                } else if (ec && ec != http::error::need_more) {
                    fail_status = 400;
                    fail_message = "malformed HTTP request: " + ec.message();
                }
                if (!fail_status && parser.is_header_done()) {
                    const auto& h = parser.get();
                    if (static_cast<std::size_t>(std::distance(h.begin(), h.end())) > limits.max_headers) {
                        fail_status = 431;
                        fail_message = "the request has more than " + std::to_string(limits.max_headers) +
                                       " header fields (--max-headers)";
                    }
                }
                if (fail_status || parser.is_done()) break;
                if (parser.is_header_done() && !sent_continue && expects_continue(parser.get())) {
                    sent_continue = true;
                    if (!conn.write_all("HTTP/1.1 100 Continue\r\n\r\n")) break;
                }
                if (used > 0 && !buf.empty()) continue;
            }
            bool timed_out = false;
            if (!conn.read_more(deadline, &timed_out)) {
                if (timed_out && started) {
                    fail_status = 408;
                    fail_message = "the request did not arrive within " +
                                   std::to_string(limits.request_timeout.count() / 1000.0).substr(0, 5) +
                                   " s (--request-timeout)";
                }
                break;
            }
        }
        if (fail_status) {
            conn.fail(fail_status, error_body(fail_status, fail_message));
            conn.linger_close();
            return;
        }
        if (!parser.is_done()) return;  // closed, idle timeout, or stopping

        set_state(slot, ConnectionSlot::State::Busy);
        auto msg = parser.release();
        HttpRequest req;
        req.method = std::string(sv(msg.method_string()));
        req.target = std::string(sv(msg.target()));
        req.path = req.target.substr(0, req.target.find('?'));
        for (const auto& f : msg)
            req.headers.emplace_back(std::string(sv(f.name_string())), std::string(sv(f.value())));
        req.body = std::move(msg.body());
        const bool http10 = msg.version() < 11;
        conn.reset(!msg.keep_alive() || stopping.load(), http10, req.method == "HEAD");
        try {
            if (!(gate && gate(req, conn))) {
                const std::string method = req.method == "HEAD" ? "GET" : req.method;
                auto it = routes.find({method, req.path});
                // "/v1/models/*" serves "/v1/models/<one more segment>".
                if (const auto slash = req.path.rfind('/');
                    it == routes.end() && slash != std::string::npos && slash + 1 < req.path.size())
                    it = routes.find({method, req.path.substr(0, slash) + "/*"});
                if (it == routes.end()) {
                    const int status = 404;
                    conn.send(status, "application/json",
                              error_body(status, "no such endpoint: " + req.method + " " + req.path), {});
                } else {
                    it->second(req, conn);
                }
            }
            if (!conn.answered()) {
                conn.fail(500, error_body(500, "the handler sent no response"));
            }
        } catch (const std::exception& e) {
            if (conn.answered()) return;  // mid-stream: all the client can learn is that the stream ended
            conn.fail(500, error_body(500, e.what()));
        }
        if (conn.streaming() || conn.close_after() || stopping.load()) {
            if (!conn.broken()) conn.linger_close();
            return;
        }
        set_state(slot, ConnectionSlot::State::Idle);
    }
}

HttpServer::HttpServer(HttpLimits limits) : impl_(std::make_unique<Impl>()) {
    impl_->limits = limits;
    impl_->stop_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (impl_->stop_fd < 0) throw Error(std::string("serve: eventfd: ") + std::strerror(errno));
}

HttpServer::~HttpServer() {
    if (impl_->listen_fd >= 0) ::close(impl_->listen_fd);
    ::close(impl_->stop_fd);
}

void HttpServer::route(std::string method, std::string path, HttpHandler handler) {
    impl_->routes[{std::move(method), std::move(path)}] = std::move(handler);
}
void HttpServer::set_gate(std::function<bool(const HttpRequest&, HttpResponder&)> gate) {
    impl_->gate = std::move(gate);
}
void HttpServer::set_error_body(HttpErrorBody body) {
    impl_->error_body = std::move(body);
}

constexpr int kListenBacklog = 1024;

void HttpServer::bind(const std::string& host, int port) {
    const std::string where = host + ":" + std::to_string(port);
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    addrinfo* found = nullptr;
    const int rc = ::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found);
    if (rc != 0) throw InputError("cannot listen on " + where + ": " + ::gai_strerror(rc));
    std::string why = "no address";
    for (addrinfo* a = found; a; a = a->ai_next) {
        const int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0) continue;
        const int yes = 1;
        ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
        if (::bind(fd, a->ai_addr, a->ai_addrlen) == 0 && ::listen(fd, kListenBacklog) == 0) {
            impl_->listen_fd = fd;
            break;
        }
        why = std::strerror(errno);
        ::close(fd);
    }
    ::freeaddrinfo(found);
    if (impl_->listen_fd < 0) throw InputError("cannot listen on " + where + ": " + why);
}

void HttpServer::run() {
    auto& s = *impl_;
    while (!s.stopping.load()) {
        pollfd p[2] = {{s.listen_fd, POLLIN, 0}, {s.stop_fd, POLLIN, 0}};
        if (::poll(p, 2, -1) < 0) {
            if (errno == EINTR) continue;
            spdlog::error("serve: poll: {}", std::strerror(errno));
            break;
        }
        if (p[1].revents & POLLIN) break;
        const int fd = ::accept4(s.listen_fd, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE) {
                // Out of descriptors: make room as at the cap, and wait a moment rather than spin.
                std::lock_guard<std::mutex> lock(s.mu);
                s.evict_one_locked();
            }
            if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
                std::this_thread::sleep_for(std::chrono::milliseconds(10));
            continue;
        }
        const int yes = 1;
        // Responses go out as several writes (head, body, each event): with Nagle's algorithm against the
        // client's delayed ACK the second one waited about 40 ms.
        ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof yes);
        std::list<ConnectionSlot>::iterator slot;
        bool refused = false;
        {
            std::lock_guard<std::mutex> lock(s.mu);
            std::size_t open = 0;
            for (const auto& c : s.connections) open += !c.evicted;
            refused = open >= s.limits.max_connections && !s.evict_one_locked();
            if (!refused) {
                s.connections.push_back(ConnectionSlot{fd});
                slot = std::prev(s.connections.end());
            }
        }
        if (refused) {  // every connection is being answered: this one gets a 503 at once rather than a wait
            Connection(fd, s.limits, s.stop_fd)
                .fail(503, s.error_body(503, "the server has --max-connections requests open"));
            ::close(fd);
            continue;
        }
        try {
            std::thread([&s, fd, slot] {
                try {
                    s.serve_connection(fd, slot);
                } catch (const std::exception& e) {
                    spdlog::error("serve: connection: {}", e.what());
                }
                std::lock_guard<std::mutex> lock(s.mu);
                ::close(fd);
                s.connections.erase(slot);
                s.all_closed.notify_all();  // under the lock: the server may be destroyed right after
            }).detach();
        } catch (const std::system_error& e) {  // no thread to be had: refuse this connection only
            spdlog::warn("serve: cannot start a connection thread: {}", e.what());
            std::lock_guard<std::mutex> lock(s.mu);
            ::close(fd);
            s.connections.erase(slot);
        }
    }
    ::close(s.listen_fd);
    s.listen_fd = -1;
    std::unique_lock<std::mutex> lock(s.mu);
    s.all_closed.wait(lock, [&] { return s.connections.empty(); });
}

void HttpServer::serve_socket(int fd) {
    auto& s = *impl_;
    std::list<ConnectionSlot>::iterator slot;
    {
        std::lock_guard<std::mutex> lock(s.mu);
        s.connections.push_back(ConnectionSlot{fd});
        slot = std::prev(s.connections.end());
    }
    s.serve_connection(fd, slot);
    std::lock_guard<std::mutex> lock(s.mu);
    s.connections.erase(slot);
}

void HttpServer::stop() {
    impl_->stopping = true;
    const std::uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(impl_->stop_fd, &one, sizeof one);
}

}  // namespace ternspec::cli
