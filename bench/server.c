/*
 * bench/server.c: the minimal loopback HTTP/1.1 server the benchmark measures
 * every client against. One thread, epoll, non-blocking sockets, keep-alive,
 * pipelining-safe. Bound to 127.0.0.1 only; pinned to CPU 0 when there are 2+ CPUs.
 *
 *   usage: server [--port N] [--max-seconds S]
 *
 * Prints "listening on http://127.0.0.1:PORT" once it accepts connections.
 *
 *   GET /text-to-sound/<id>   200 {"status":"SUCCESS","run_id":4242} for ids starting
 *                             with "t"; 404 {"detail":"Task not found"} otherwise
 *   GET /_bench/stats         200 {"accepted":N,"open":N,"requests":N}
 *   GET /_bench/quit          200, then exits
 *   anything else             404 {"detail":"Not Found"}
 *
 * Every reply has Content-Length and keeps the connection open (unless the request
 * said "Connection: close" or was HTTP/1.0). At exit (quit, SIGTERM, SIGINT or the
 * --max-seconds bound, default 900) it prints its counters to stderr.
 */
#define _GNU_SOURCE

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { IN_CAP = 16384, OUT_CAP = 65536, MAX_EVENTS = 64 };

struct conn {
    int fd;
    size_t in_len;
    size_t out_len, out_off;
    bool close_after;
    char in[IN_CAP];
    char out[OUT_CAP];
};

static unsigned long long accepted, open_conns, requests;
static volatile sig_atomic_t stop;
static bool quitting;

static const char OK_BODY[] = "{\"status\":\"SUCCESS\",\"run_id\":4242}";
static const char NOT_FOUND_BODY[] = "{\"detail\":\"Task not found\"}";
static const char NO_ROUTE_BODY[] = "{\"detail\":\"Not Found\"}";

static void on_signal(int sig) {
    (void)sig;
    stop = 1;
}

static void pin_to_cpu0(void) {
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    if (cpus < 2) {
        fprintf(stderr, "server: 1 CPU, not pinned\n");
        return;
    }
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(0, &set);
    if (sched_setaffinity(0, sizeof set, &set) != 0) {
        perror("server: sched_setaffinity");
    }
}

static void close_conn(int ep, struct conn *c) {
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    free(c);
    open_conns--;
}

/* Appends one reply to the connection's output buffer. */
static bool add_reply(struct conn *c, int code, const char *body, size_t body_len) {
    const char *reason = code == 200 ? "OK" : "Not Found";
    int n = snprintf(c->out + c->out_len, OUT_CAP - c->out_len,
                     "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\n%s\r\n",
                     code, reason, body_len, c->close_after ? "Connection: close\r\n" : "");
    if (n < 0 || (size_t)n + body_len > OUT_CAP - c->out_len) {
        return false;
    }
    memcpy(c->out + c->out_len + (size_t)n, body, body_len);
    c->out_len += (size_t)n + body_len;
    return true;
}

/* A header's value (case-insensitive name) within [headers, end), or NULL. */
static const char *find_header(const char *headers, const char *end, const char *name,
                               size_t *len) {
    size_t name_len = strlen(name);
    const char *line = headers;
    while (line < end) {
        const char *eol = memmem(line, (size_t)(end - line), "\r\n", 2);
        if (eol == NULL) {
            eol = end;
        }
        if ((size_t)(eol - line) > name_len && line[name_len] == ':' &&
            strncasecmp(line, name, name_len) == 0) {
            const char *v = line + name_len + 1;
            while (v < eol && (*v == ' ' || *v == '\t')) {
                v++;
            }
            *len = (size_t)(eol - v);
            return v;
        }
        line = eol + 2;
    }
    return NULL;
}

/* Handles every complete request in the input buffer. False: close the connection. */
static bool handle_requests(struct conn *c) {
    size_t off = 0;
    while (!c->close_after) {
        char *start = c->in + off;
        size_t avail = c->in_len - off;
        char *hdr_end = memmem(start, avail, "\r\n\r\n", 4);
        if (hdr_end == NULL) {
            break;
        }
        size_t head_len = (size_t)(hdr_end - start) + 4;
        char *line_end = memmem(start, head_len, "\r\n", 2);
        const char *headers = line_end + 2;
        size_t vlen = 0;
        size_t body_len = 0;
        const char *v = find_header(headers, hdr_end, "content-length", &vlen);
        if (v != NULL) {
            body_len = strtoul(v, NULL, 10);
        }
        if (head_len + body_len > avail) {
            if (head_len + body_len > IN_CAP) {
                return false;
            }
            break; /* wait for the body */
        }
        v = find_header(headers, hdr_end, "connection", &vlen);
        bool http10 = memmem(start, (size_t)(line_end - start), "HTTP/1.0", 8) != NULL;
        if ((v != NULL && vlen == 5 && strncasecmp(v, "close", 5) == 0) || http10) {
            c->close_after = true;
        }
        requests++;
        /* request line: METHOD SP PATH SP VERSION */
        char *sp1 = memchr(start, ' ', (size_t)(line_end - start));
        char *path = sp1 ? sp1 + 1 : line_end;
        char *sp2 = memchr(path, ' ', (size_t)(line_end - path));
        size_t path_len = sp2 ? (size_t)(sp2 - path) : 0;
        bool get = sp1 != NULL && sp1 - start == 3 && memcmp(start, "GET", 3) == 0;
        static const char prefix[] = "/text-to-sound/";
        bool ok;
        if (get && path_len > sizeof prefix - 1 && memcmp(path, prefix, sizeof prefix - 1) == 0) {
            if (path[sizeof prefix - 1] == 't') {
                ok = add_reply(c, 200, OK_BODY, sizeof OK_BODY - 1);
            } else {
                ok = add_reply(c, 404, NOT_FOUND_BODY, sizeof NOT_FOUND_BODY - 1);
            }
        } else if (get && path_len == 13 && memcmp(path, "/_bench/stats", 13) == 0) {
            char body[160];
            int n = snprintf(body, sizeof body, "{\"accepted\":%llu,\"open\":%llu,\"requests\":%llu}",
                             accepted, open_conns, requests);
            ok = add_reply(c, 200, body, (size_t)n);
        } else if (get && path_len == 12 && memcmp(path, "/_bench/quit", 12) == 0) {
            quitting = true;
            c->close_after = true;
            ok = add_reply(c, 200, "{}", 2);
        } else {
            ok = add_reply(c, 404, NO_ROUTE_BODY, sizeof NO_ROUTE_BODY - 1);
        }
        if (!ok) {
            return false;
        }
        off += head_len + body_len;
    }
    if (off > 0) {
        memmove(c->in, c->in + off, c->in_len - off);
        c->in_len -= off;
    }
    return c->in_len < IN_CAP;
}

/* Writes what is pending. False: the connection failed or is done. */
static bool flush_out(int ep, struct conn *c) {
    while (c->out_off < c->out_len) {
        ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
        if (n > 0) {
            c->out_off += (size_t)n;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
            epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
            return true;
        } else {
            return false;
        }
    }
    bool had_pending = c->out_len > 0;
    c->out_len = c->out_off = 0;
    if (c->close_after) {
        return false;
    }
    if (had_pending) {
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
    }
    return true;
}

static bool on_readable(int ep, struct conn *c) {
    for (int rounds = 0; rounds < 64; rounds++) {
        if (c->in_len == IN_CAP) {
            return false;
        }
        size_t room = IN_CAP - c->in_len;
        ssize_t n = recv(c->fd, c->in + c->in_len, room, 0);
        if (n > 0) {
            c->in_len += (size_t)n;
            if ((size_t)n < room) {
                break; /* short read: the socket is drained */
            }
        } else if (n == 0) {
            return false;
        } else if (errno == EINTR) {
            continue;
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            break;
        } else {
            return false;
        }
    }
    if (!handle_requests(c)) {
        return false;
    }
    return flush_out(ep, c);
}

int main(int argc, char **argv) {
    int port = 0;
    int max_seconds = 900;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--port") == 0 && i + 1 < argc) {
            port = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--max-seconds") == 0 && i + 1 < argc) {
            max_seconds = atoi(argv[++i]);
        } else {
            fprintf(stderr, "usage: %s [--port N] [--max-seconds S]\n", argv[0]);
            return 2;
        }
    }
    pin_to_cpu0();
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(lfd, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(lfd, 1024) != 0) {
        perror("server: bind/listen");
        return 1;
    }
    socklen_t alen = sizeof addr;
    getsockname(lfd, (struct sockaddr *)&addr, &alen);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event lev = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &lev);
    printf("listening on http://127.0.0.1:%d\n", ntohs(addr.sin_port));
    fflush(stdout);

    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    struct epoll_event events[MAX_EVENTS];
    while (!stop && !quitting) {
        int n = epoll_wait(ep, events, MAX_EVENTS, 500);
        if (n < 0 && errno != EINTR) {
            perror("server: epoll_wait");
            break;
        }
        for (int i = 0; i < n; i++) {
            struct conn *c = events[i].data.ptr;
            if (c == NULL) {
                for (int k = 0; k < 1024; k++) {
                    int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                    if (fd < 0) {
                        break;
                    }
                    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    struct conn *nc = malloc(sizeof *nc);
                    if (nc == NULL) {
                        close(fd);
                        continue;
                    }
                    nc->fd = fd;
                    nc->in_len = nc->out_len = nc->out_off = 0;
                    nc->close_after = false;
                    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = nc};
                    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
                    accepted++;
                    open_conns++;
                }
                continue;
            }
            bool keep = (events[i].events & (EPOLLERR | EPOLLHUP)) == 0;
            if (keep && (events[i].events & EPOLLOUT)) {
                keep = flush_out(ep, c);
            }
            if (keep && (events[i].events & EPOLLIN)) {
                keep = on_readable(ep, c);
            }
            if (!keep) {
                close_conn(ep, c);
            }
        }
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - t0.tv_sec > max_seconds) {
            fprintf(stderr, "server: --max-seconds %d reached\n", max_seconds);
            break;
        }
    }
    fprintf(stderr, "server: exit: accepted connections %llu, requests %llu, open %llu\n",
            accepted, requests, open_conns);
    return 0;
}
