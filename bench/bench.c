/*
 * bench/bench.c: libcamb against libcurl and a raw socket, in one process, against
 * one loopback server (bench/server.c), pinned to CPU 1 (the server is on CPU 0).
 *
 *   usage: bench --url http://127.0.0.1:PORT [--calls N] [--kv FILE]
 *          bench --url http://127.0.0.1:PORT --only NAME [--calls N] [--kv FILE]
 *
 * The second form runs one part alone. NAME: camb, curl or raw is that client's
 * status-call loop (1000 warm-up calls, then N), with its latency and CPU time per
 * call (camb's is the figure next to Python's); create is camb_client_new + free
 * N times; latency is section 1, batch section 6; syscalls times the system calls
 * libcamb's HTTP layer makes per call.
 * Each serves a profiler (scripts/bench.sh runs them so), e.g.
 *   valgrind --tool=callgrind --toggle-collect=camb_client_get_task_status \
 *       bench --url URL --only camb --calls 2000
 * (toggle-collect curl_easy_perform or raw_call for the others; add
 * --toggle-collect=camb_task_free to count the free of each call's camb_task too).
 * Only 127.0.0.1 is accepted as the host. Every loop is bounded by a count.
 *
 * Interposed functions: getaddrinfo and pthread_create are defined here, count
 * their calls and forward to libc (dlsym RTLD_NEXT), so the benchmark can say how
 * many name lookups and threads a stretch of libcamb calls caused. A lookup of
 * "localhost" is restricted to IPv4, so only 127.0.0.1 is ever contacted.
 */
#define _GNU_SOURCE

#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "camb.h"

#define API_KEY "bench-api-key-0123456789"
#define TASK_OK "t42"

/* ---------------------------------------------------------------- interposers */

static atomic_ulong getaddrinfo_calls;
static atomic_ulong pthread_create_calls;

int getaddrinfo(const char *restrict node, const char *restrict service,
                const struct addrinfo *restrict hints, struct addrinfo **restrict res) {
    typedef int (*fn)(const char *, const char *, const struct addrinfo *, struct addrinfo **);
    static _Atomic(fn) real;
    fn f = atomic_load(&real);
    if (f == NULL) {
        void *sym = dlsym(RTLD_NEXT, "getaddrinfo");
        memcpy(&f, &sym, sizeof f); /* POSIX: dlsym results are function pointers */
        atomic_store(&real, f);
    }
    atomic_fetch_add(&getaddrinfo_calls, 1);
    struct addrinfo v4;
    if (node != NULL && strcmp(node, "localhost") == 0) {
        if (hints != NULL) {
            v4 = *hints;
        } else {
            memset(&v4, 0, sizeof v4);
        }
        v4.ai_family = AF_INET;
        hints = &v4;
    }
    return f(node, service, hints, res);
}

int pthread_create(pthread_t *restrict thread, const pthread_attr_t *restrict attr,
                   void *(*start)(void *), void *restrict arg) {
    typedef int (*fn)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);
    static _Atomic(fn) real;
    fn f = atomic_load(&real);
    if (f == NULL) {
        void *sym = dlsym(RTLD_NEXT, "pthread_create");
        memcpy(&f, &sym, sizeof f); /* POSIX: dlsym results are function pointers */
        atomic_store(&real, f);
    }
    atomic_fetch_add(&pthread_create_calls, 1);
    return f(thread, attr, start, arg);
}

/* ---------------------------------------------------------------- helpers */

static char base_url[128];
static int port;
static FILE *kv;

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void die(const char *what, const char *detail) {
    fprintf(stderr, "bench: %s: %s\n", what, detail ? detail : "");
    exit(1);
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

struct summary {
    double p50, p90, p99, mean; /* in the samples' unit */
};

/* Sorts `v` in place. Percentile q: the sample at index (n-1)*q. */
static struct summary summarize(uint64_t *v, size_t n) {
    qsort(v, n, sizeof *v, cmp_u64);
    double sum = 0;
    for (size_t i = 0; i < n; i++) {
        sum += (double)v[i];
    }
    struct summary s = {
        .p50 = (double)v[(size_t)((double)(n - 1) * 0.50)],
        .p90 = (double)v[(size_t)((double)(n - 1) * 0.90)],
        .p99 = (double)v[(size_t)((double)(n - 1) * 0.99)],
        .mean = sum / (double)n,
    };
    return s;
}

static double median_d(double *v, size_t n) {
    for (size_t i = 1; i < n; i++) { /* insertion sort: n is tiny */
        double x = v[i];
        size_t j = i;
        for (; j > 0 && v[j - 1] > x; j--) {
            v[j] = v[j - 1];
        }
        v[j] = x;
    }
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void pin_to_cpu1(void) {
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    if (cpus < 2) {
        printf("(1 CPU: not pinned)\n");
        return;
    }
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(1, &set);
    if (sched_setaffinity(0, sizeof set, &set) != 0) {
        perror("bench: sched_setaffinity");
    }
}

/* ---------------------------------------------------------------- raw socket */

static int raw_connect(void) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        die("socket", strerror(errno));
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        die("connect", strerror(errno));
    }
    return fd;
}

/* Writes `req`, reads one reply by its Content-Length into buf (headers and body).
 * Returns the HTTP status; *body points into buf. */
static int raw_exchange(int fd, const char *req, size_t req_len, char *buf, size_t cap,
                        const char **body, size_t *body_len) {
    size_t off = 0;
    while (off < req_len) {
        ssize_t n = write(fd, req + off, req_len - off);
        if (n <= 0) {
            die("raw write", strerror(errno));
        }
        off += (size_t)n;
    }
    size_t len = 0;
    char *hdr_end = NULL;
    while (hdr_end == NULL) {
        ssize_t n = read(fd, buf + len, cap - 1 - len);
        if (n <= 0) {
            die("raw read", n == 0 ? "closed" : strerror(errno));
        }
        len += (size_t)n;
        hdr_end = memmem(buf, len, "\r\n\r\n", 4);
        if (hdr_end == NULL && len >= cap - 1) {
            die("raw read", "headers too large");
        }
    }
    buf[len] = 0;
    int status = atoi(buf + 9); /* "HTTP/1.1 200" */
    const char *cl = strcasestr(buf, "\r\ncontent-length:");
    if (cl == NULL || cl > hdr_end) {
        die("raw read", "no Content-Length");
    }
    size_t want = strtoul(cl + 17, NULL, 10);
    size_t head = (size_t)(hdr_end - buf) + 4;
    if (head + want > cap - 1) {
        die("raw read", "reply too large");
    }
    while (len < head + want) {
        ssize_t n = read(fd, buf + len, head + want - len);
        if (n <= 0) {
            die("raw read body", n == 0 ? "closed" : strerror(errno));
        }
        len += (size_t)n;
    }
    *body = buf + head;
    *body_len = want;
    return status;
}

struct raw_client {
    int fd;
    char req[256];
    size_t req_len;
    char buf[4096];
};

static void raw_init(struct raw_client *r, const char *task) {
    r->fd = raw_connect();
    int n = snprintf(r->req, sizeof r->req,
                     "GET /text-to-sound/%s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                     "x-api-key: " API_KEY "\r\nAccept: application/json\r\n\r\n",
                     task, port);
    r->req_len = (size_t)n;
}

__attribute__((noinline)) static void raw_call(struct raw_client *r) {
    const char *body;
    size_t body_len;
    if (raw_exchange(r->fd, r->req, r->req_len, r->buf, sizeof r->buf, &body, &body_len) != 200) {
        die("raw call", "status not 200");
    }
}

/* The server's accepted-connections counter, over a control connection opened once. */
static int ctl_fd = -1;
static unsigned long long server_accepted(void) {
    if (ctl_fd < 0) {
        ctl_fd = raw_connect();
    }
    static const char req[] = "GET /_bench/stats HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    char buf[1024];
    const char *body;
    size_t body_len;
    raw_exchange(ctl_fd, req, sizeof req - 1, buf, sizeof buf, &body, &body_len);
    const char *a = strstr(body, "\"accepted\":");
    return a ? strtoull(a + 11, NULL, 10) : 0;
}

/* ---------------------------------------------------------------- libcurl */

struct curl_client {
    CURL *h;
    struct curl_slist *headers;
    char buf[4096];
    size_t len;
    bool json_check;
};

static size_t curl_write(char *data, size_t size, size_t nmemb, void *user) {
    struct curl_client *c = user;
    size_t n = size * nmemb;
    if (n > sizeof c->buf - 1 - c->len) {
        return 0; /* too large: abort the transfer */
    }
    memcpy(c->buf + c->len, data, n);
    c->len += n;
    return n;
}

static void curl_init_client(struct curl_client *c, bool json_check) {
    c->h = curl_easy_init();
    if (c->h == NULL) {
        die("curl_easy_init", "NULL");
    }
    c->headers = curl_slist_append(NULL, "x-api-key: " API_KEY);
    c->headers = curl_slist_append(c->headers, "Accept: application/json");
    char url[256];
    snprintf(url, sizeof url, "%s/text-to-sound/" TASK_OK, base_url);
    curl_easy_setopt(c->h, CURLOPT_URL, url);
    curl_easy_setopt(c->h, CURLOPT_HTTPHEADER, c->headers);
    curl_easy_setopt(c->h, CURLOPT_WRITEFUNCTION, curl_write);
    curl_easy_setopt(c->h, CURLOPT_WRITEDATA, c);
    curl_easy_setopt(c->h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c->h, CURLOPT_PROXY, ""); /* no proxy from the environment */
    curl_easy_setopt(c->h, CURLOPT_TIMEOUT_MS, 60000L); /* as libcamb's default */
    c->json_check = json_check;
    c->len = 0;
}

static void curl_free_client(struct curl_client *c) {
    curl_easy_cleanup(c->h);
    curl_slist_free_all(c->headers);
}

/* The "minimal JSON check" of the libcurl+JSON variant: the status string is
 * SUCCESS and run_id is 4242, found by string search (no validation of the rest). */
static bool minimal_json_check(const char *body, size_t len) {
    (void)len;
    const char *s = strstr(body, "\"status\":\"");
    if (s == NULL || strncmp(s + 10, "SUCCESS\"", 8) != 0) {
        return false;
    }
    const char *r = strstr(body, "\"run_id\":");
    return r != NULL && strtoll(r + 9, NULL, 10) == 4242;
}

__attribute__((noinline)) static void curl_call(struct curl_client *c) {
    c->len = 0;
    CURLcode rc = curl_easy_perform(c->h);
    if (rc != CURLE_OK) {
        die("curl_easy_perform", curl_easy_strerror(rc));
    }
    long code = 0;
    curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &code);
    if (code != 200 || c->len == 0) {
        die("curl call", "status not 200 or empty body");
    }
    if (c->json_check) {
        c->buf[c->len] = 0;
        if (!minimal_json_check(c->buf, c->len)) {
            die("curl call", "JSON check failed");
        }
    }
}

/* ---------------------------------------------------------------- libcamb */

static camb_client *camb_make(const char *url) {
    camb_client_builder *b = camb_client_builder_new();
    if (b == NULL || camb_client_builder_set_api_key(b, API_KEY) != CAMB_RESULT_OK ||
        camb_client_builder_set_base_url(b, url) != CAMB_RESULT_OK) {
        die("camb builder", camb_last_error());
    }
    camb_client *c = NULL;
    if (camb_client_builder_build(b, &c) != CAMB_RESULT_OK) {
        die("camb_client_builder_build", camb_last_error());
    }
    return c;
}

/* One status call as a C program makes it: the call, a look at the task,
 * and camb_task_free (the task is the caller's). */
__attribute__((noinline)) static void camb_call(camb_client *c, const char *task_id) {
    camb_task *task = NULL;
    camb_result r = camb_client_get_task_status(c, task_id, NULL, &task);
    if (r != CAMB_RESULT_OK) {
        die("camb_client_get_task_status", camb_last_error());
    }
    int64_t run_id = 0;
    bool ok = camb_task_status(task) == CAMB_STATUS_SUCCESS && camb_task_run_id(task, &run_id) &&
              run_id == 4242;
    camb_task_free(task);
    if (!ok) {
        die("camb call", "unexpected status");
    }
}

/* ---------------------------------------------------------------- 1. latency */

enum { CLIENTS = 4 };
static const char *client_names[CLIENTS] = {
    "raw socket (floor)", "libcurl, no parse", "libcurl + JSON check", "libcamb (C ABI)"};

static struct summary lat[CLIENTS];

static double cpu_us(const struct timeval *tv) {
    return (double)tv->tv_sec * 1e6 + (double)tv->tv_usec;
}

/* only < 0: the four clients interleaved; otherwise that client alone. */
static void latency(int calls, int only) {
    bool alone = only >= 0;
    int rounds = 20;
    int per_round = calls / rounds;
    calls = per_round * rounds;
    int warm = 1000;
    struct raw_client *raw = malloc(sizeof *raw);
    struct curl_client *cu = malloc(sizeof *cu);
    struct curl_client *cj = malloc(sizeof *cj);
    uint64_t *samples[CLIENTS];
    for (int k = 0; k < CLIENTS; k++) {
        samples[k] = malloc(sizeof(uint64_t) * (size_t)calls);
    }
    camb_client *camb = only < 0 || only == 3 ? camb_make(base_url) : NULL;
    if (only < 0 || only == 0) {
        raw_init(raw, TASK_OK);
    }
    if (only < 0 || only == 1) {
        curl_init_client(cu, false);
    }
    if (only < 0) {
        curl_init_client(cj, true);
    }
    int first = alone ? only : 0;
    int nclients = alone ? 1 : CLIENTS;
    struct rusage ru0, ru1;
    getrusage(RUSAGE_SELF, &ru0);
    size_t filled[CLIENTS] = {0};
    /* round 0 is the warm-up; the starting client rotates each round */
    for (int round = 0; round <= rounds; round++) {
        for (int j = 0; j < nclients; j++) {
            int k = first + (j + round) % nclients;
            int count = round == 0 ? warm : per_round;
            for (int i = 0; i < count; i++) {
                uint64_t t0 = now_ns();
                switch (k) {
                case 0: raw_call(raw); break;
                case 1: curl_call(cu); break;
                case 2: curl_call(cj); break;
                default: camb_call(camb, TASK_OK); break;
                }
                uint64_t t = now_ns() - t0;
                if (round > 0) {
                    samples[k][filled[k]++] = t;
                }
            }
        }
    }
    getrusage(RUSAGE_SELF, &ru1);
    if (alone) {
        int k = only;
        lat[k] = summarize(samples[k], (size_t)calls);
        double n = calls + warm;
        printf("   C, %s alone, %d calls after %d warm-up: p50 %.2f  p99 %.2f  mean %.2f us;"
               " CPU per call: user %.2f us, system %.2f us\n",
               client_names[k], calls, warm, lat[k].p50 / 1e3, lat[k].p99 / 1e3, lat[k].mean / 1e3,
               (cpu_us(&ru1.ru_utime) - cpu_us(&ru0.ru_utime)) / n,
               (cpu_us(&ru1.ru_stime) - cpu_us(&ru0.ru_stime)) / n);
        if (kv && k == 3) {
            fprintf(kv, "camb_p50_ns=%.0f\ncamb_p99_ns=%.0f\n", lat[3].p50, lat[3].p99);
        }
        if (only == 0) {
            close(raw->fd);
        } else if (only == 1) {
            curl_free_client(cu);
        }
        for (int k = 0; k < CLIENTS; k++) {
            free(samples[k]);
        }
        camb_client_free(camb);
        free(raw);
        free(cu);
        free(cj);
        return;
    }
    printf("== 1. status call latency: keep-alive, %d calls per client after %d warm-up calls,\n"
           "      interleaved in %d rounds (starting client rotates), microseconds\n",
           calls, warm, rounds);
    printf("   %-24s %9s %9s %9s\n", "client", "p50", "p99", "mean");
    for (int k = first; k < CLIENTS; k++) {
        lat[k] = summarize(samples[k], (size_t)calls);
        printf("   %-24s %9.2f %9.2f %9.2f\n", client_names[k], lat[k].p50 / 1e3,
               lat[k].p99 / 1e3, lat[k].mean / 1e3);
        free(samples[k]);
    }
    if (kv) {
        fprintf(kv, "camb_p50_ns=%.0f\ncamb_p99_ns=%.0f\n", lat[3].p50, lat[3].p99);
    }
    {
        printf("   libcamb / floor           p50 %.2fx   p99 %.2fx   mean %.2fx\n",
               lat[3].p50 / lat[0].p50, lat[3].p99 / lat[0].p99, lat[3].mean / lat[0].mean);
        printf("   libcamb / libcurl         p50 %.2fx   p99 %.2fx   mean %.2fx\n",
               lat[3].p50 / lat[1].p50, lat[3].p99 / lat[1].p99, lat[3].mean / lat[1].mean);
        printf("   libcamb / libcurl+JSON    p50 %.2fx   p99 %.2fx   mean %.2fx\n",
               lat[3].p50 / lat[2].p50, lat[3].p99 / lat[2].p99, lat[3].mean / lat[2].mean);
        printf("   libcurl / floor           p50 %.2fx   p99 %.2fx\n", lat[1].p50 / lat[0].p50,
               lat[1].p99 / lat[0].p99);
        close(raw->fd);
        curl_free_client(cu);
        curl_free_client(cj);
    }
    camb_client_free(camb);
    free(raw);
    free(cu);
    free(cj);
}

/* ---------------------------------------------------------------- 2. first call */

static void first_call(int iterations) {
    uint64_t *s[3];
    for (int k = 0; k < 3; k++) {
        s[k] = malloc(sizeof(uint64_t) * (size_t)iterations);
    }
    for (int i = 0; i < iterations; i++) {
        for (int j = 0; j < 3; j++) {
            int k = (i + j) % 3;
            uint64_t t0 = now_ns();
            if (k == 0) {
                struct raw_client r;
                raw_init(&r, TASK_OK);
                raw_call(&r);
                s[k][i] = now_ns() - t0;
                close(r.fd);
            } else if (k == 1) {
                struct curl_client c;
                curl_init_client(&c, false);
                curl_call(&c);
                s[k][i] = now_ns() - t0;
                curl_free_client(&c);
            } else {
                camb_client *c = camb_make(base_url);
                camb_call(c, TASK_OK);
                s[k][i] = now_ns() - t0;
                camb_client_free(c);
            }
        }
    }
    printf("== 2. first call including connect: new client/handle/socket each time\n"
           "      (create + connect + one call; freeing not timed), %d each, interleaved, us\n",
           iterations);
    const char *names[3] = {"raw socket (floor)", "libcurl, new easy handle",
                            "libcamb, new client"};
    struct summary sm[3];
    for (int k = 0; k < 3; k++) {
        sm[k] = summarize(s[k], (size_t)iterations);
        printf("   %-26s median %8.1f   p90 %8.1f\n", names[k], sm[k].p50 / 1e3, sm[k].p90 / 1e3);
        free(s[k]);
    }
    printf("   libcamb / floor %.2fx, libcamb / libcurl %.2fx (medians)\n", sm[2].p50 / sm[0].p50,
           sm[2].p50 / sm[1].p50);
}

/* ---------------------------------------------------------------- 3. create+free */

static double create_free_ns;

static void create_free(int iterations) {
    enum { VARIANTS = 3, ROUNDS = 10 };
    int per_round = iterations / ROUNDS;
    iterations = per_round * ROUNDS;
    uint64_t *s[VARIANTS + 1];
    for (int v = 0; v <= VARIANTS; v++) {
        s[v] = malloc(sizeof(uint64_t) * (size_t)iterations);
    }
    size_t filled[VARIANTS + 1] = {0};
    /* the variants (and the clock alone) interleaved in rounds, as in section 1 */
    for (int round = 0; round < ROUNDS; round++) {
        for (int j = 0; j <= VARIANTS; j++) {
            int v = (j + round) % (VARIANTS + 1);
            for (int i = 0; i < per_round; i++) {
                uint64_t t0 = now_ns();
                if (v == 0) {
                    camb_client *c = NULL;
                    if (camb_client_new(API_KEY, &c) != CAMB_RESULT_OK) {
                        die("camb_client_new", camb_last_error());
                    }
                    camb_client_free(c);
                } else if (v == 1) {
                    camb_client_free(camb_make(base_url));
                } else if (v == 2) {
                    CURL *h = curl_easy_init();
                    curl_easy_cleanup(h);
                } /* v == 3: the cost of reading the clock twice */
                s[v][filled[v]++] = now_ns() - t0;
            }
        }
    }
    double clock_ns = summarize(s[VARIANTS], (size_t)iterations).p50;
    printf("== 3. create + free, median of %d each, each timed alone, interleaved in %d rounds\n"
           "      (reading the clock twice costs %.0f ns, not subtracted)\n",
           iterations, ROUNDS, clock_ns);
    const char *names[VARIANTS] = {"camb_client_new(key) + camb_client_free",
                                   "builder new/set key/set url/build + free",
                                   "libcurl: curl_easy_init + curl_easy_cleanup"};
    for (int v = 0; v < VARIANTS; v++) {
        struct summary sm = summarize(s[v], (size_t)iterations);
        printf("   %-44s median %7.0f ns   p90 %7.0f ns\n", names[v], sm.p50, sm.p90);
        if (v == 0) {
            create_free_ns = sm.p50;
        }
    }
    for (int v = 0; v <= VARIANTS; v++) {
        free(s[v]);
    }
}

/* ---------------------------------------------------------------- 4. threads */

struct thread_arg {
    camb_client *camb; /* shared; NULL: libcurl */
    int calls;
    pthread_barrier_t *go;
};

static void *thread_body(void *p) {
    struct thread_arg *a = p;
    struct curl_client *cu = NULL;
    if (a->camb == NULL) {
        cu = malloc(sizeof *cu);
        curl_init_client(cu, false);
    }
    for (int i = 0; i < 50; i++) { /* warm-up: connections made before the clock starts */
        if (cu) {
            curl_call(cu);
        } else {
            camb_call(a->camb, TASK_OK);
        }
    }
    pthread_barrier_wait(a->go);
    for (int i = 0; i < a->calls; i++) {
        if (cu) {
            curl_call(cu);
        } else {
            camb_call(a->camb, TASK_OK);
        }
    }
    if (cu) {
        curl_free_client(cu);
        free(cu);
    }
    return NULL;
}

/* calls/s of `threads` threads making `total` calls between them. */
static double run_threads(camb_client *camb, int threads, int total) {
    pthread_t t[8];
    struct thread_arg args[8];
    pthread_barrier_t go;
    pthread_barrier_init(&go, NULL, (unsigned)threads + 1);
    for (int i = 0; i < threads; i++) {
        args[i] = (struct thread_arg){.camb = camb, .calls = total / threads, .go = &go};
        if (pthread_create(&t[i], NULL, thread_body, &args[i]) != 0) {
            die("pthread_create", strerror(errno));
        }
    }
    pthread_barrier_wait(&go);
    uint64_t t0 = now_ns();
    for (int i = 0; i < threads; i++) {
        pthread_join(t[i], NULL);
    }
    uint64_t dt = now_ns() - t0;
    pthread_barrier_destroy(&go);
    return (double)(total / threads * threads) / ((double)dt / 1e9);
}

static double eight_thread_ratio, eight_camb_cps, eight_curl_cps;

static void threads_bench(int total, int reps) {
    printf("== 4. throughput, threads sharing ONE libcamb client vs libcurl with one easy handle\n"
           "      per thread; %d calls split between the threads; median of %d alternated runs\n",
           total, reps);
    camb_client *camb = camb_make(base_url);
    int counts[3] = {1, 2, 8};
    for (int c = 0; c < 3; c++) {
        int n = counts[c];
        double rc[8], ru[8];
        for (int r = 0; r < reps; r++) {
            rc[r] = run_threads(camb, n, total);
            ru[r] = run_threads(NULL, n, total);
        }
        double mc = median_d(rc, (size_t)reps), mu = median_d(ru, (size_t)reps);
        printf("   %d thread%s  libcamb %8.0f calls/s   libcurl %8.0f calls/s   libcamb/libcurl "
               "%.2fx\n",
               n, n == 1 ? " " : "s", mc, mu, mc / mu);
        if (n == 8) {
            eight_thread_ratio = mc / mu;
            eight_camb_cps = mc;
            eight_curl_cps = mu;
        }
    }
    camb_client_free(camb);
}

/* ---------------------------------------------------------------- 5. connections */

static unsigned long long reconnects = 1000000;
static unsigned long per_call_threads = 1000000, per_call_lookups = 1000000;

static void connections(int calls) {
    unsigned long long before = server_accepted();
    unsigned long th0 = atomic_load(&pthread_create_calls);
    unsigned long dns0 = atomic_load(&getaddrinfo_calls);
    camb_client *c = camb_make(base_url);
    int ok = 0, not_found = 0;
    char id[32];
    for (int i = 0; i < calls; i++) {
        if (i % 5 == 4) {
            snprintf(id, sizeof id, "missing-%d", i);
            camb_task *task = NULL;
            camb_result r = camb_client_get_task_status(c, id, NULL, &task);
            camb_task_free(task); /* NULL after a failure; freed in case it was not */
            if (r != CAMB_RESULT_NOT_FOUND || camb_last_http_status() != 404) {
                die("404 call", camb_last_error());
            }
            not_found++;
        } else {
            snprintf(id, sizeof id, "t%d", i);
            camb_call(c, id);
            ok++;
        }
    }
    unsigned long threads = atomic_load(&pthread_create_calls) - th0;
    unsigned long lookups = atomic_load(&getaddrinfo_calls) - dns0;
    unsigned long long accepted = server_accepted() - before;
    camb_client_free(c);
    printf("== 5. connections: %d libcamb calls on one new client, every 5th a 404 "
           "(%d x 200, %d x 404)\n",
           calls, ok, not_found);
    printf("   connections the server accepted: %llu (reconnects after the first: %llu)\n",
           accepted, accepted ? accepted - 1 : 0);
    printf("   threads started: %lu; getaddrinfo calls: %lu (base URL %s)\n", threads, lookups,
           base_url);
    reconnects = accepted ? accepted - 1 : 0;
    per_call_threads = threads;
    per_call_lookups = lookups;

    /* the same with a host name: the resolver's cache */
    char host_url[128];
    snprintf(host_url, sizeof host_url, "http://localhost:%d", port);
    int n2 = calls / 10;
    before = server_accepted();
    th0 = atomic_load(&pthread_create_calls);
    dns0 = atomic_load(&getaddrinfo_calls);
    c = camb_make(host_url);
    for (int i = 0; i < n2; i++) {
        camb_call(c, TASK_OK);
    }
    threads = atomic_load(&pthread_create_calls) - th0;
    lookups = atomic_load(&getaddrinfo_calls) - dns0;
    accepted = server_accepted() - before;
    camb_client_free(c);
    printf("   with base URL %s (IPv4 only), %d calls: getaddrinfo calls %lu, threads started %lu,"
           " connections %llu\n",
           host_url, n2, lookups, threads, accepted);
    per_call_threads += threads > 1 ? threads : 0;
    per_call_lookups += lookups > 1 ? lookups : 0;
}

/* ---------------------------------------------------------------- 6. batch */

static double batch_ratio;

static void batch(int count, int reps) {
    char **ids = malloc(sizeof(char *) * (size_t)count);
    for (int i = 0; i < count; i++) {
        ids[i] = malloc(16);
        snprintf(ids[i], 16, "t%d", i);
    }
    camb_client *c = camb_make(base_url);
    double tb[16], tl[16];
    unsigned long long acc0 = 0;
    unsigned long th0 = 0;
    for (int r = -1; r < reps; r++) { /* r == -1: warm-up, not counted */
        if (r == 0) {
            acc0 = server_accepted();
            th0 = atomic_load(&pthread_create_calls);
        }
        double batch_ns = 0, loop_ns = 0;
        for (int part = 0; part < 2; part++) {
            /* the order alternates, so neither always runs first */
            bool do_batch = (part == 0) == (r % 2 == 0);
            uint64_t t0 = now_ns();
            if (do_batch) {
                camb_task_list *list = NULL;
                if (camb_client_get_task_statuses(c, (const char *const *)ids, (size_t)count, 8,
                                                  NULL, &list) != CAMB_RESULT_OK) {
                    die("camb_client_get_task_statuses", camb_last_error());
                }
                uint64_t t1 = now_ns();
                if (camb_task_list_len(list) != (size_t)count) {
                    die("batch", "the list does not hold one task per id");
                }
                for (int i = 0; i < count; i++) {
                    const camb_task *task = camb_task_list_get(list, (size_t)i);
                    int64_t run_id = 0;
                    if (camb_task_result(task) != CAMB_RESULT_OK ||
                        !camb_task_run_id(task, &run_id) || run_id != 4242) {
                        const char *error = camb_task_error(task, NULL);
                        die("batch entry", error != NULL ? error : "unexpected status");
                    }
                }
                /* Timed like the loop, which frees each task: the call and the free,
                 * not the checks between them. */
                uint64_t t2 = now_ns();
                camb_task_list_free(list);
                batch_ns = (double)(t1 - t0) + (double)(now_ns() - t2);
            } else {
                for (int i = 0; i < count; i++) {
                    camb_call(c, ids[i]);
                }
                loop_ns = (double)(now_ns() - t0);
            }
        }
        if (r >= 0) {
            tb[r] = (double)count / (batch_ns / 1e9);
            tl[r] = (double)count / (loop_ns / 1e9);
        }
    }
    unsigned long long accepted = server_accepted() - acc0;
    unsigned long threads = atomic_load(&pthread_create_calls) - th0;
    double mb = median_d(tb, (size_t)reps), ml = median_d(tl, (size_t)reps);
    batch_ratio = mb / ml;
    printf("== 6. batch: camb_client_get_task_statuses(%d ids, max_connections 8) vs a loop of %d\n"
           "      camb_client_get_task_status calls on one thread, one client; median of %d "
           "runs (order alternates)\n",
           count, count, reps);
    printf("   batch %8.0f statuses/s   loop %8.0f statuses/s   batch/loop %.2fx\n", mb, ml,
           batch_ratio);
    printf("   over the %d measured batches and loops: connections accepted %llu, threads started "
           "%lu (%.1f per batch call)\n",
           reps, accepted, threads, (double)threads / reps);
    camb_client_free(c);
    for (int i = 0; i < count; i++) {
        free(ids[i]);
    }
    free(ids);
}

/* ---------------------------------------------------------------- syscalls */

/* What the system calls that ureq makes on every call beyond the send and the
 * receive (strace: two probes of the pooled connection in TcpTransport::is_open,
 * each ioctl(FIONBIO) on, a recv that fails with EAGAIN, ioctl(FIONBIO) off; two
 * setsockopt for SO_RCVTIMEO and SO_SNDTIMEO, as the time left changes) cost here,
 * each timed alone on an idle keep-alive socket, median of `n`; and a one-syscall
 * probe, recv(MSG_PEEK | MSG_DONTWAIT), for comparison: what a change proposed to
 * ureq would save. */
static void syscall_costs(int n) {
    struct raw_client *r = malloc(sizeof *r);
    raw_init(r, TASK_OK);
    raw_call(r); /* the connection is established and idle */
    uint64_t *s = malloc(sizeof(uint64_t) * (size_t)n);
    const char *names[5] = {"ioctl(FIONBIO)", "recv on an empty socket (EAGAIN)",
                            "setsockopt(SO_RCVTIMEO)", "recv(MSG_PEEK|MSG_DONTWAIT) (EAGAIN)",
                            "clock pair (no syscall)"};
    double med[5];
    for (int v = 0; v < 5; v++) {
        for (int i = 0; i < n; i++) {
            int on = i & 1;
            char byte;
            struct timeval tv = {.tv_sec = 60, .tv_usec = i % 1000};
            uint64_t t0 = now_ns();
            switch (v) {
            case 0: ioctl(r->fd, FIONBIO, &on); break;
            case 1:
                if (!on) { /* only while non-blocking */
                    on = 1;
                    ioctl(r->fd, FIONBIO, &on);
                    t0 = now_ns();
                }
                if (recv(r->fd, &byte, 1, 0) >= 0) {
                    die("syscalls", "unexpected bytes");
                }
                break;
            case 2: setsockopt(r->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv); break;
            case 3:
                if (recv(r->fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT) >= 0) {
                    die("syscalls", "unexpected bytes");
                }
                break;
            default: break;
            }
            s[i] = now_ns() - t0;
        }
        med[v] = summarize(s, (size_t)n).p50;
    }
    printf("   system call costs on an idle loopback socket, median of %d, ns (clock pair "
           "included):\n",
           n);
    for (int v = 0; v < 5; v++) {
        printf("     %-40s %6.0f\n", names[v], med[v]);
    }
    printf("   ureq's probes and timeouts per call (2 x (2 ioctl + recv) + 2 setsockopt): ~%.0f ns;"
           " one MSG_PEEK recv as the only probe would be ~%.0f ns\n",
           2 * (2 * med[0] + med[1]) + 2 * med[2] - 8 * med[4], med[3] - med[4]);
    close(r->fd);
    free(r);
    free(s);
}

/* ---------------------------------------------------------------- main */

static const char *verdict(bool met) {
    return met ? "met" : "MISSED";
}

int main(int argc, char **argv) {
    const char *url = NULL;
    const char *only = NULL;
    const char *kv_path = NULL;
    int calls = 20000;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--url") == 0 && i + 1 < argc) {
            url = argv[++i];
        } else if (strcmp(argv[i], "--calls") == 0 && i + 1 < argc) {
            calls = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc) {
            only = argv[++i];
        } else if (strcmp(argv[i], "--kv") == 0 && i + 1 < argc) {
            kv_path = argv[++i];
        } else {
            url = NULL;
            break;
        }
    }
    if (url == NULL || sscanf(url, "http://127.0.0.1:%d", &port) != 1 || port <= 0 ||
        port > 65535 || calls < 20 || calls > 1000000 || (only && strcmp(only, "camb") != 0 && strcmp(only, "curl") != 0 &&
                                strcmp(only, "raw") != 0 && strcmp(only, "syscalls") != 0 &&
                                strcmp(only, "create") != 0 && strcmp(only, "batch") != 0 &&
                                strcmp(only, "latency") != 0)) {
        fprintf(stderr, "usage: %s --url http://127.0.0.1:PORT [--calls N] [--only camb|curl|raw|create|batch|latency|syscalls] "
                        "[--kv FILE]\n", argv[0]);
        return 2;
    }
    snprintf(base_url, sizeof base_url, "http://127.0.0.1:%d", port);
    if (kv_path) {
        kv = fopen(kv_path, "a");
    }
    pin_to_cpu1();
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (only && strcmp(only, "create") == 0) { /* camb_client_new + free alone */
        uint64_t *s = malloc(sizeof(uint64_t) * (size_t)calls);
        for (int i = 0; i < calls; i++) {
            uint64_t t0 = now_ns();
            camb_client *c = NULL;
            if (camb_client_new(API_KEY, &c) != CAMB_RESULT_OK) {
                die("camb_client_new", camb_last_error());
            }
            camb_client_free(c);
            s[i] = now_ns() - t0;
        }
        printf("   camb_client_new(key) + camb_client_free alone: median %.0f ns of %d\n",
               summarize(s, (size_t)calls).p50, calls);
        free(s);
        return 0;
    }
    if (only && strcmp(only, "latency") == 0) {
        curl_global_init(CURL_GLOBAL_DEFAULT);
        latency(calls, -1);
        return 0;
    }
    if (only && strcmp(only, "batch") == 0) {
        batch(1000, 9);
        return 0;
    }
    if (only && strcmp(only, "syscalls") == 0) {
        syscall_costs(calls);
        return 0;
    }
    if (only) {
        curl_global_init(CURL_GLOBAL_DEFAULT);
        latency(calls, strcmp(only, "camb") == 0 ? 3 : strcmp(only, "curl") == 0 ? 1 : 0);
        return 0;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    printf("libcamb %s, %s; server %s (CPU 0), this process on CPU 1\n", camb_version(),
           curl_version(), base_url);
    uint64_t t0 = now_ns();
    latency(calls, -1);
    first_call(200);
    create_free(10000);
    threads_bench(16000, 3);
    connections(calls);
    batch(1000, 9);
    printf("   (bench sections 1-6 took %.1f s)\n", (double)(now_ns() - t0) / 1e9);

    double p50_curl = lat[3].p50 / lat[1].p50, p99_curl = lat[3].p99 / lat[1].p99;
    printf("== targets measured by this program (BENCHMARKS.md)\n");
    printf("   status p50 <= 1.0x libcurl's:          %.2fx  %s\n", p50_curl,
           verdict(p50_curl <= 1.0));
    printf("   status p99 <= 1.2x libcurl's p99:      %.2fx  %s\n", p99_curl,
           verdict(p99_curl <= 1.2));
    printf("   8 threads, one client >= libcurl:      %.2fx  %s\n", eight_thread_ratio,
           verdict(eight_thread_ratio >= 1.0));
    printf("   zero reconnects (404s mixed in):       %llu  %s\n", reconnects,
           verdict(reconnects == 0));
    printf("   no thread, no lookup per call:         %lu threads, %lu lookups beyond the first  "
           "%s\n",
           per_call_threads, per_call_lookups,
           verdict(per_call_threads == 0 && per_call_lookups == 0));
    printf("   create+free <= 2 us:                   %.0f ns  %s\n", create_free_ns,
           verdict(create_free_ns <= 2000));
    if (kv) {
        fprintf(kv, "main_camb_p50_ns=%.0f\n", lat[3].p50);
        /* For the summary of targets at the end of scripts/bench.sh's report. */
        fprintf(kv,
                "main_curl_p50_ns=%.0f\nmain_camb_p99_ns=%.0f\nmain_curl_p99_ns=%.0f\n"
                "eight_camb_cps=%.0f\neight_curl_cps=%.0f\n",
                lat[1].p50, lat[3].p99, lat[1].p99, eight_camb_cps, eight_curl_cps);
        fclose(kv);
    }
    curl_global_cleanup();
    return 0;
}
