/*
 * bench/jobs.c: libcamb's jobs (camb_client_job_*, camb_job_submit) against the emulator
 * started with --delay-ms (every API reply held that long), for section 13 of
 * scripts/bench.sh.
 *
 *   usage: jobs --url http://127.0.0.1:PORT --part statuses [--count N] [--threads T]
 *               [--delay-ms MS] [--kv FILE] [--tag NAME] [--no-target]
 *          jobs --url http://127.0.0.1:PORT --part batch [--count N] [--connections C]
 *               [--delay-ms MS] [--kv FILE] [--tag NAME]
 *          jobs --url http://127.0.0.1:PORT --part waits --dir DIR [--count N]
 *               [--generates G] [--threads T] [--kv FILE]
 *
 * Each part is one process, so that its thread count and CPU time are its own.
 *
 * statuses (targets 1 and 2 of BENCHMARKS.md's Jobs section): a client with T job
 *   threads (8) makes and submits N status jobs (1000) for the task demo-success all at
 *   once, to ONE queue; the loop waits on the queue's descriptor with poll(2), takes
 *   every finished job with camb_queue_pop, checks it (OK, SUCCESS) and frees it.
 *   Wall time from the first start to the last job taken, against the ideal
 *   ceil(N/T) x MS; the process's CPU time (getrusage RUSAGE_SELF: every thread, the
 *   pool's included) over the same span; the emulator's request and connection counts
 *   (GET /_emulator/stats) before and after. Target 1 (wall <= 1.05x the ideal) is
 *   printed unless --no-target (the runs at other thread counts have none).
 *
 * batch: ONE camb_client_job_get_task_statuses job of the N ids (1000 x demo-success)
 *   with max_connections C (32; at most 32), on a client with the default 4 job
 *   threads, submitted to one queue and taken off it as above; its list is checked
 *   (N tasks, each OK and SUCCESS). Wall time from making the job (the ids are copied
 *   then) to taking it, against the ideal ceil(N/C) x MS; CPU time and the emulator's
 *   counts as for statuses. No target: reported beside the SDK at the same concurrency.
 *
 * --tag NAME names the KEY=VALUE lines of statuses and batch: jobs_NAME_wall_s, ...
 *   (default: "status" for statuses, "batch" for batch).
 *
 * waits (targets 3 and 4): a client with a pool of T threads (4); the thread count
 *   (/proc/self/task) is read before the client's first job. Four status jobs warm
 *   the pool up (threads started, connections open); then the RSS (/proc/self/statm)
 *   is the baseline. G generate jobs (20; prompts with [pending_ms:15000], audio saved
 *   under DIR) and N wait jobs (1000) for demo-pending, which never finishes (their
 *   pause after the first poll is 60 s), all on one queue. While they run, every
 *   10 ms, the loop reads the thread count and the RSS (their peaks are reported), and
 *   threads created are counted (pthread_create is interposed). Once every wait has
 *   polled once and sits on the timer and every generation is delivered, all N waits
 *   are cancelled: the time from the first camb_job_cancel to the last cancelled job
 *   taken off the queue.
 *
 * Figures go to stdout, each target with "met" or "MISSED"; with --kv, KEY=VALUE lines
 * are appended to FILE. Exit 1 when a job does not come back as it should (a failed
 * status, a wait delivered early, a missing WAV, a bound passed), not for a missed
 * target. Only 127.0.0.1 is accepted; every loop is bounded by a count and a deadline.
 */
#define _GNU_SOURCE

#include <arpa/inet.h>
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "camb.h"

#define API_KEY "camb-emulator-key"

/* ---------------------------------------------------------------- interposer */

static atomic_ulong pthread_create_calls;

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

static char base_url[64];
static int port;
static FILE *kv;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, const char *detail) {
    fprintf(stderr, "jobs: %s: %s\n", what, detail ? detail : "");
    exit(1);
}

static void check(camb_result r, const char *what) {
    if (r != CAMB_RESULT_OK) {
        fprintf(stderr, "jobs: %s: %s: %s\n", what, camb_result_name(r), camb_last_error());
        exit(1);
    }
}

static double cpu_s(const struct rusage *ru, bool user) {
    const struct timeval *tv = user ? &ru->ru_utime : &ru->ru_stime;
    return (double)tv->tv_sec + (double)tv->tv_usec / 1e6;
}

/* Threads of this process: the entries of /proc/self/task. */
static int threads_now(void) {
    DIR *dir = opendir("/proc/self/task");
    if (dir == NULL) {
        die("opendir /proc/self/task", strerror(errno));
    }
    int n = 0;
    struct dirent *entry;
    while ((entry = readdir(dir)) != NULL) {
        if (entry->d_name[0] != '.') {
            n++;
        }
    }
    closedir(dir);
    return n;
}

/* Resident set size in KiB, from /proc/self/statm (its second field, in pages). */
static long rss_kib(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    if (f == NULL) {
        die("fopen /proc/self/statm", strerror(errno));
    }
    long size = 0, resident = 0;
    int got = fscanf(f, "%ld %ld", &size, &resident);
    fclose(f);
    if (got != 2) {
        die("/proc/self/statm", "unreadable");
    }
    return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

/* GET /_emulator/stats on a connection of its own (Connection: close): the emulator's
 * accepted-connection and request counters (this connection is counted too). */
struct stats {
    uint64_t connections, requests;
};

static uint64_t json_u64(const char *body, const char *key) {
    const char *at = strstr(body, key);
    if (at == NULL) {
        die("emulator stats: no field", key);
    }
    return strtoull(at + strlen(key), NULL, 10);
}

static struct stats emulator_stats(void) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        die("socket", strerror(errno));
    }
    struct timeval tv = {.tv_sec = 10};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        die("connect to the emulator", strerror(errno));
    }
    char req[160];
    int req_len = snprintf(req, sizeof req,
                           "GET /_emulator/stats HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                           "Connection: close\r\n\r\n",
                           port);
    if (write(fd, req, (size_t)req_len) != req_len) {
        die("write to the emulator", strerror(errno));
    }
    size_t cap = 1 << 20, len = 0;
    char *buf = malloc(cap);
    if (buf == NULL) {
        die("malloc", "out of memory");
    }
    for (int reads = 0; reads < 100000; reads++) {
        if (len + 1 == cap) {
            if (cap >= (64u << 20)) {
                die("emulator stats", "reply over 64 MiB");
            }
            cap *= 2;
            char *bigger = realloc(buf, cap);
            if (bigger == NULL) {
                die("realloc", "out of memory");
            }
            buf = bigger;
        }
        ssize_t n = read(fd, buf + len, cap - 1 - len);
        if (n < 0) {
            die("read from the emulator", strerror(errno));
        }
        if (n == 0) {
            break;
        }
        len += (size_t)n;
    }
    close(fd);
    buf[len] = '\0';
    if (strncmp(buf, "HTTP/1.1 200", 12) != 0) {
        die("emulator stats", "not a 200 reply");
    }
    const char *body = strstr(buf, "\r\n\r\n");
    if (body == NULL) {
        die("emulator stats", "no body");
    }
    struct stats s = {
        .connections = json_u64(body, "\"connections_accepted\":"),
        .requests = json_u64(body, "\"requests_total\":"),
    };
    free(buf);
    return s;
}

static camb_client *make_client(uint32_t threads) {
    camb_client_builder *b = camb_client_builder_new();
    check(camb_client_builder_set_api_key(b, API_KEY), "set_api_key");
    check(camb_client_builder_set_base_url(b, base_url), "set_base_url");
    check(camb_client_builder_set_job_threads(b, threads), "set_job_threads");
    camb_client *client = NULL;
    check(camb_client_builder_build(b, &client), "build");
    return client;
}

/* Waits up to `ms` for the queue's descriptor to be readable. */
static void wait_readable(int fd, int ms) {
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int r = poll(&p, 1, ms);
    if (r < 0 && errno != EINTR) {
        die("poll", strerror(errno));
    }
}

static const char *verdict(bool met) {
    return met ? "met" : "MISSED";
}

/* Submits a job just made (`made`: the camb_client_job_* call's result) to `queue`. */
static void submit(camb_result made, camb_job *job, camb_queue *queue, const char *what) {
    check(made, what);
    check(camb_job_submit(job, queue, NULL), "camb_job_submit");
}

/* Takes the next finished job off the queue, or NULL when none is waiting. */
static camb_job *pop_done(const camb_queue *queue) {
    camb_event event = 0;
    camb_job *job = NULL;
    if (camb_queue_pop(queue, &event, &job) != CAMB_RESULT_OK) {
        return NULL;
    }
    if (event != CAMB_EVENT_JOB_DONE) {
        die("camb_queue_pop", "an event other than JOB_DONE");
    }
    return job;
}

/* ---------------------------------------------------------------- statuses */

/* The KEY=VALUE lines of one statuses or batch run, under jobs_TAG_. */
static void kv_run(const char *tag, double wall, double cpu, double ideal, uint64_t requests,
                   uint64_t connections, size_t ok) {
    if (kv) {
        fprintf(kv,
                "jobs_%s_wall_s=%.6f\njobs_%s_cpu_s=%.6f\njobs_%s_ideal_s=%.6f\n"
                "jobs_%s_requests=%" PRIu64 "\njobs_%s_connections=%" PRIu64 "\njobs_%s_ok=%zu\n",
                tag, wall, tag, cpu, tag, ideal, tag, requests, tag, connections, tag, ok);
        fflush(kv);
    }
}

static int part_statuses(size_t count, uint32_t threads, double delay_ms, const char *tag,
                         bool target) {
    camb_job **jobs = calloc(count, sizeof *jobs);
    if (jobs == NULL) {
        die("calloc", "out of memory");
    }
    struct stats before = emulator_stats();
    camb_client *client = make_client(threads);
    camb_queue *queue = NULL;
    check(camb_queue_new(&queue), "camb_queue_new");
    int fd = (int)camb_queue_fd(queue);

    struct rusage ru0, ru1;
    getrusage(RUSAGE_SELF, &ru0);
    double t0 = now_s();
    for (size_t i = 0; i < count; i++) {
        camb_result made = camb_client_job_get_task_status(client, "demo-success", &jobs[i]);
        submit(made, jobs[i], queue, "camb_client_job_get_task_status");
    }
    double started = now_s();
    size_t taken = 0, ok = 0, wakeups = 0;
    const double deadline = t0 + 120.0;
    char first_error[256] = "";
    while (taken < count && now_s() < deadline) {
        wait_readable(fd, 1000);
        wakeups++;
        camb_job *job = NULL;
        while (taken < count && (job = pop_done(queue)) != NULL) {
            taken++;
            const camb_task *task = camb_job_task(job);
            if (camb_job_result(job) == CAMB_RESULT_OK &&
                camb_task_status(task) == CAMB_STATUS_SUCCESS) {
                ok++;
            } else if (first_error[0] == '\0') {
                const char *e = camb_job_error(job, NULL);
                snprintf(first_error, sizeof first_error, "%s: %s",
                         camb_result_name(camb_job_result(job)), e ? e : "(status not SUCCESS)");
            }
            camb_job_free(job);
        }
    }
    double t1 = now_s();
    getrusage(RUSAGE_SELF, &ru1);
    struct stats after = emulator_stats();
    int threads_at_end = threads_now();
    camb_queue_free(queue);
    camb_client_free(client);

    double wall = t1 - t0;
    double user = cpu_s(&ru1, true) - cpu_s(&ru0, true);
    double sys = cpu_s(&ru1, false) - cpu_s(&ru0, false);
    double ideal = (double)((count + threads - 1) / threads) * delay_ms / 1e3;
    uint64_t requests = after.requests - before.requests;
    /* The second stats call's connection is counted in `after`. */
    uint64_t connections = after.connections - before.connections - 1;

    printf("   %zu status jobs (demo-success), %u job threads, one completion queue, poll(2) on its fd\n",
           count, threads);
    printf("   starting all %zu took %.1f ms; %zu poll wakeups; %zu/%zu OK and SUCCESS\n", count,
           (started - t0) * 1e3, wakeups, ok, count);
    printf("   emulator: %" PRIu64 " requests received, on %" PRIu64 " connections\n", requests,
           connections);
    printf("   wall %.3f s (%.3f ms per job); ideal ceil(%zu/%u) x %g ms = %.3f s; %.3fx the ideal\n",
           wall, wall / (double)count * 1e3, count, threads, delay_ms, ideal, wall / ideal);
    printf("   cpu  %.3f s (user %.3f, system %.3f; %.0f us per job, %.1f%% of wall), %d threads at the end\n",
           user + sys, user, sys, (user + sys) / (double)count * 1e6, (user + sys) / wall * 100,
           threads_at_end);
    if (target) {
        printf("   target 1: wall <= 1.05x the ideal:  %.3fx  %s\n", wall / ideal,
               verdict(wall <= 1.05 * ideal));
    }
    kv_run(tag, wall, user + sys, ideal, requests, connections, ok);
    free(jobs);
    if (first_error[0] != '\0') {
        fprintf(stderr, "jobs: a status job failed: %s\n", first_error);
    }
    if (taken != count || ok != count || requests != count) {
        fprintf(stderr, "jobs: FAILED: %zu taken, %zu OK, %" PRIu64 " requests, of %zu\n", taken,
                ok, requests, count);
        return 1;
    }
    return 0;
}

/* ---------------------------------------------------------------- batch */

static int part_batch(size_t count, uint32_t connections_max, double delay_ms, const char *tag) {
    const char **ids = calloc(count, sizeof *ids);
    if (ids == NULL) {
        die("calloc", "out of memory");
    }
    for (size_t i = 0; i < count; i++) {
        ids[i] = "demo-success";
    }
    struct stats before = emulator_stats();
    camb_client *client = make_client(4); /* the default; the batch holds one of them */
    camb_queue *queue = NULL;
    check(camb_queue_new(&queue), "camb_queue_new");
    int fd = (int)camb_queue_fd(queue);

    struct rusage ru0, ru1;
    getrusage(RUSAGE_SELF, &ru0);
    double t0 = now_s();
    camb_job *job = NULL;
    camb_result made =
        camb_client_job_get_task_statuses(client, ids, count, connections_max, &job);
    submit(made, job, queue, "camb_client_job_get_task_statuses");
    double started = now_s();
    camb_job *done = NULL;
    size_t wakeups = 0;
    const double deadline = t0 + 120.0;
    while (done == NULL && now_s() < deadline) {
        wait_readable(fd, 1000);
        wakeups++;
        done = pop_done(queue);
    }
    double t1 = now_s();
    getrusage(RUSAGE_SELF, &ru1);
    struct stats after = emulator_stats();
    int threads_at_end = threads_now();

    size_t ok = 0, len = 0;
    char first_error[256] = "";
    camb_result result = CAMB_RESULT_TIMEOUT;
    if (done != NULL) {
        if (done != job) {
            die("camb_queue_pop", "a job other than the batch");
        }
        result = camb_job_result(done);
        const camb_task_list *list = camb_job_task_list(done);
        len = list ? camb_task_list_len(list) : 0;
        for (size_t i = 0; i < len; i++) {
            const camb_task *task = camb_task_list_get(list, i);
            if (camb_task_result(task) == CAMB_RESULT_OK &&
                camb_task_status(task) == CAMB_STATUS_SUCCESS) {
                ok++;
            } else if (first_error[0] == '\0') {
                const char *e = camb_task_error(task, NULL);
                snprintf(first_error, sizeof first_error, "task %zu: %s: %s", i,
                         camb_result_name(camb_task_result(task)),
                         e ? e : "(status not SUCCESS)");
            }
        }
        if (result != CAMB_RESULT_OK && first_error[0] == '\0') {
            const char *e = camb_job_error(done, NULL);
            snprintf(first_error, sizeof first_error, "the job: %s: %s", camb_result_name(result),
                     e ? e : "");
        }
        camb_job_free(done);
    }
    camb_queue_free(queue);
    camb_client_free(client);
    free(ids);

    double wall = t1 - t0;
    double user = cpu_s(&ru1, true) - cpu_s(&ru0, true);
    double sys = cpu_s(&ru1, false) - cpu_s(&ru0, false);
    uint32_t lanes = connections_max == 0 ? 8 : connections_max;
    double ideal = (double)((count + lanes - 1) / lanes) * delay_ms / 1e3;
    uint64_t requests = after.requests - before.requests;
    uint64_t connections = after.connections - before.connections - 1;

    printf("   1 batch job (camb_client_job_get_task_statuses) of %zu ids (demo-success),\n"
           "   max_connections %u, client with 4 job threads, one completion queue, poll(2) on its fd\n",
           count, connections_max);
    printf("   making and submitting it took %.1f ms; %zu poll wakeups; %s, %zu/%zu tasks OK and "
           "SUCCESS\n",
           (started - t0) * 1e3, wakeups, camb_result_name(result), ok, count);
    printf("   emulator: %" PRIu64 " requests received, on %" PRIu64 " connections\n", requests,
           connections);
    printf("   wall %.3f s (%.3f ms per status); ideal ceil(%zu/%u) x %g ms = %.3f s; %.3fx the ideal\n",
           wall, wall / (double)count * 1e3, count, lanes, delay_ms, ideal, wall / ideal);
    printf("   cpu  %.3f s (user %.3f, system %.3f; %.0f us per status, %.1f%% of wall), %d threads at the end\n",
           user + sys, user, sys, (user + sys) / (double)count * 1e6, (user + sys) / wall * 100,
           threads_at_end);
    kv_run(tag, wall, user + sys, ideal, requests, connections, ok);
    if (first_error[0] != '\0') {
        fprintf(stderr, "jobs: the batch failed: %s\n", first_error);
    }
    if (done == NULL || result != CAMB_RESULT_OK || len != count || ok != count ||
        requests != count) {
        fprintf(stderr, "jobs: FAILED: batch %s, %zu tasks, %zu OK, %" PRIu64 " requests, of %zu\n",
                done ? camb_result_name(result) : "not delivered", len, ok, requests, count);
        return 1;
    }
    return 0;
}

/* ---------------------------------------------------------------- waits */

struct sampler {
    int threads_peak;
    long rss_peak;
};

static void sample(struct sampler *s) {
    int t = threads_now();
    long r = rss_kib();
    if (t > s->threads_peak) {
        s->threads_peak = t;
    }
    if (r > s->rss_peak) {
        s->rss_peak = r;
    }
}

/* The index of `job` in `set`, or n when it is not there. */
static size_t index_in(const camb_job *job, camb_job **set, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (set[i] == job) {
            return i;
        }
    }
    return n;
}

static int part_waits(size_t count, size_t generates, uint32_t threads, const char *dir) {
    int failures = 0;
    camb_job **waits = calloc(count, sizeof *waits);
    camb_job **gens = calloc(generates, sizeof *gens);
    char (*paths)[512] = calloc(generates, sizeof *paths);
    bool *gen_delivered = calloc(generates + 1, sizeof *gen_delivered);
    if (waits == NULL || gens == NULL || paths == NULL || gen_delivered == NULL) {
        die("calloc", "out of memory");
    }
    int threads_before = threads_now();
    camb_client *client = make_client(threads);
    camb_queue *queue = NULL;
    check(camb_queue_new(&queue), "camb_queue_new");
    int fd = (int)camb_queue_fd(queue);

    /* Warm-up: the pool's threads start, connections open. */
    enum { WARM = 4 };
    for (int i = 0; i < WARM; i++) {
        camb_job *job = NULL;
        camb_result made = camb_client_job_get_task_status(client, "demo-success", &job);
        submit(made, job, queue, "warm-up job");
    }
    for (int got = 0, rounds = 0; got < WARM && rounds < 100; rounds++) {
        wait_readable(fd, 100);
        camb_job *job = NULL;
        while ((job = pop_done(queue)) != NULL) {
            check(camb_job_result(job), "warm-up job");
            camb_job_free(job);
            got++;
        }
    }
    int threads_warm = threads_now();
    long rss_base = rss_kib();
    unsigned long created_before = atomic_load(&pthread_create_calls);

    camb_create_options create = camb_create_options_default();
    create.duration_s = 2.0;
    camb_wait_options gen_wait = camb_wait_options_default();
    gen_wait.initial_interval_ms = 1000;
    gen_wait.backoff_factor = 1.5;
    gen_wait.max_interval_ms = 2000;
    gen_wait.deadline_ms = 120000;
    camb_wait_options wait = camb_wait_options_default();
    wait.initial_interval_ms = 60000;
    wait.backoff_factor = 1.0;
    wait.max_interval_ms = 60000;

    double t0 = now_s();
    for (size_t i = 0; i < generates; i++) {
        char prompt[128];
        snprintf(prompt, sizeof prompt, "bench generation %zu [pending_ms:15000]", i);
        snprintf(paths[i], sizeof paths[i], "%s/gen-%zu.wav", dir, i);
        camb_result made =
            camb_client_job_generate(client, prompt, &create, &gen_wait, paths[i], &gens[i]);
        submit(made, gens[i], queue, "camb_client_job_generate");
    }
    for (size_t i = 0; i < count; i++) {
        camb_result made = camb_client_job_wait_for_task(client, "demo-pending", &wait, &waits[i]);
        submit(made, waits[i], queue, "camb_client_job_wait_for_task");
    }
    double started = now_s();

    struct sampler s = {.threads_peak = threads_warm, .rss_peak = rss_base};
    size_t gens_done = 0, gens_ok = 0, early = 0, samples = 0;
    uint64_t gen_bytes = 0;
    double all_waiting_at = 0;
    long rss_all_waiting = 0;
    size_t alive_all_waiting = 0;
    char first_error[256] = "";
    const double deadline = t0 + 120.0;
    while ((gens_done < generates || all_waiting_at == 0) && now_s() < deadline) {
        wait_readable(fd, 10);
        sample(&s);
        samples++;
        camb_job *job = NULL;
        while ((job = pop_done(queue)) != NULL) {
            size_t gen = index_in(job, gens, generates);
            if (gen == generates) {
                early++; /* a wait delivered before any cancel: kept, freed at the end */
                continue;
            }
            gen_delivered[gen] = true;
            gens_done++;
            if (camb_job_result(job) == CAMB_RESULT_OK && camb_job_bytes(job) > 0) {
                gens_ok++;
                gen_bytes += camb_job_bytes(job);
            } else if (first_error[0] == '\0') {
                const char *e = camb_job_error(job, NULL);
                snprintf(first_error, sizeof first_error, "%s: %s",
                         camb_result_name(camb_job_result(job)), e ? e : "");
            }
        }
        if (all_waiting_at == 0) {
            size_t waiting = 0;
            for (size_t i = 0; i < count; i++) {
                waiting += camb_job_get_state(waits[i]) == CAMB_JOB_STATE_WAITING;
            }
            if (waiting == count) {
                all_waiting_at = now_s();
                rss_all_waiting = rss_kib();
                alive_all_waiting = count + generates - gens_done;
            }
        }
    }
    double jobs_end = now_s();
    sample(&s);
    unsigned long created = atomic_load(&pthread_create_calls) - created_before;

    uint64_t polls = 0;
    for (size_t i = 0; i < count; i++) {
        polls += camb_job_polls(waits[i]);
    }

    /* Target 4: cancel every wait; time from the first cancel to the last one taken. */
    size_t cancelled = 0, taken = 0;
    double c0 = 0, c_loop = 0, c_last = 0;
    bool cancel_ran = gens_done == generates && all_waiting_at != 0 && early == 0;
    if (cancel_ran) {
        c0 = now_s();
        for (size_t i = 0; i < count; i++) {
            check(camb_job_cancel(waits[i]), "camb_job_cancel");
        }
        c_loop = now_s();
        const double cancel_deadline = c0 + 10.0;
        while (taken < count && now_s() < cancel_deadline) {
            wait_readable(fd, 100);
            camb_job *job = NULL;
            while (taken < count && (job = pop_done(queue)) != NULL) {
                taken++;
                cancelled += camb_job_result(job) == CAMB_RESULT_CANCELLED;
            }
            c_last = now_s();
        }
    }
    int threads_end = threads_now();

    /* The WAV files: each as big as its job said (read only once it was delivered). */
    size_t files_ok = 0;
    for (size_t i = 0; i < generates; i++) {
        struct stat st;
        if (gen_delivered[i] && stat(paths[i], &st) == 0 &&
            (uint64_t)st.st_size == camb_job_bytes(gens[i]) && st.st_size > 44) {
            files_ok++;
        }
        unlink(paths[i]);
    }
    /* Delivered jobs are freed; one still in flight (a run that went wrong) is only
     * cancelled, and freeing the queue frees it when it ends. */
    for (size_t i = 0; i < generates; i++) {
        camb_job_free(gens[i]);
    }
    for (size_t i = 0; i < count; i++) {
        camb_job_free(waits[i]);
    }
    camb_queue_free(queue);
    camb_client_free(client);

    size_t jobs = count + generates;
    long delta = s.rss_peak - rss_base;
    int added = s.threads_peak - threads_before;
    printf("   %zu wait jobs (demo-pending, 60 s between polls) and %zu generate jobs ([pending_ms:15000],\n"
           "   2 s WAV each) on one queue, pool of %u threads; started in %.1f ms; the loop samples every 10 ms\n",
           count, generates, threads, (started - t0) * 1e3);
    printf("   all %zu waits on the timer after %.2f s (%zu jobs alive then; %" PRIu64 " polls in all before\n"
           "   the cancel); generations: %zu/%zu OK, %" PRIu64 " bytes, %zu/%zu files as big as their job\n"
           "   says, the last after %.2f s; %zu samples\n",
           count, all_waiting_at > 0 ? all_waiting_at - t0 : -1.0, alive_all_waiting, polls, gens_ok,
           generates, gen_bytes, files_ok, generates, jobs_end - t0, samples);
    printf("   threads (/proc/self/task): before the client %d, after warm-up %d, peak while the jobs ran %d\n"
           "   (added %d); threads created while they ran: %lu\n",
           threads_before, threads_warm, s.threads_peak, added, created);
    printf("   RSS: %ld KiB after warm-up, %ld KiB with every wait on the timer, peak %ld KiB;\n"
           "   peak - baseline %ld KiB over %zu jobs = %.2f KiB per job\n",
           rss_base, rss_all_waiting, s.rss_peak, delta, jobs, (double)delta / (double)jobs);
    printf("   target 3: threads added <= pool + 2 (%u):  %d  %s\n", threads + 2, added,
           verdict(added <= (int)threads + 2));
    if (cancel_ran) {
        printf("   cancel: %zu camb_job_cancel calls took %.2f ms; %zu/%zu taken, %zu CANCELLED;\n"
               "   threads at the end %d\n",
               count, (c_loop - c0) * 1e3, taken, count, cancelled, threads_end);
        printf("   target 4: first cancel to last delivery <= 100 ms:  %.2f ms  %s\n",
               (c_last - c0) * 1e3, verdict(taken == count && c_last - c0 <= 0.1));
    } else {
        printf("   target 4: not measured (the jobs above did not all come back as expected)\n");
    }
    if (kv) {
        fprintf(kv, "jobs_threads_before=%d\njobs_threads_peak=%d\njobs_rss_per_job_kib=%.3f\n",
                threads_before, s.threads_peak, (double)delta / (double)jobs);
        if (cancel_ran) {
            fprintf(kv, "jobs_cancel_ms=%.3f\n", (c_last - c0) * 1e3);
        }
    }
    if (first_error[0] != '\0') {
        fprintf(stderr, "jobs: a generation failed: %s\n", first_error);
    }
    if (!cancel_ran || gens_ok != generates || files_ok != generates || taken != count ||
        cancelled != count || polls != count) {
        fprintf(stderr, "jobs: FAILED: generations %zu/%zu OK, files %zu, early waits %zu, "
                        "polls %" PRIu64 " (one per wait expected), cancelled %zu/%zu\n",
                gens_ok, generates, files_ok, early, polls, cancelled, count);
        failures++;
    }
    free(waits);
    free(gens);
    free(paths);
    free(gen_delivered);
    return failures ? 1 : 0;
}

/* ---------------------------------------------------------------- main */

int main(int argc, char **argv) {
    const char *url = NULL, *part = NULL, *dir = NULL, *kv_path = NULL, *tag = NULL;
    long count = 1000, generates = 20, threads = 0, connections = 32;
    bool target = true;
    double delay_ms = 50;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool has = i + 1 < argc;
        if (strcmp(a, "--url") == 0 && has) {
            url = argv[++i];
        } else if (strcmp(a, "--part") == 0 && has) {
            part = argv[++i];
        } else if (strcmp(a, "--dir") == 0 && has) {
            dir = argv[++i];
        } else if (strcmp(a, "--kv") == 0 && has) {
            kv_path = argv[++i];
        } else if (strcmp(a, "--count") == 0 && has) {
            count = strtol(argv[++i], NULL, 10);
        } else if (strcmp(a, "--generates") == 0 && has) {
            generates = strtol(argv[++i], NULL, 10);
        } else if (strcmp(a, "--threads") == 0 && has) {
            threads = strtol(argv[++i], NULL, 10);
        } else if (strcmp(a, "--connections") == 0 && has) {
            connections = strtol(argv[++i], NULL, 10);
        } else if (strcmp(a, "--tag") == 0 && has) {
            tag = argv[++i];
        } else if (strcmp(a, "--no-target") == 0) {
            target = false;
        } else if (strcmp(a, "--delay-ms") == 0 && has) {
            delay_ms = strtod(argv[++i], NULL);
        } else {
            part = NULL;
            break;
        }
    }
    bool statuses = part && strcmp(part, "statuses") == 0;
    bool waits = part && strcmp(part, "waits") == 0;
    bool batch = part && strcmp(part, "batch") == 0;
    if (threads == 0) {
        threads = statuses ? 8 : 4;
    }
    if (tag == NULL) {
        tag = batch ? "batch" : "status";
    }
    /* The tag names KEY=VALUE lines: lower-case letters, digits and '_' only. */
    bool tag_ok = tag[0] != '\0' && strlen(tag) <= 32 &&
                  strspn(tag, "abcdefghijklmnopqrstuvwxyz0123456789_") == strlen(tag);
    if (url == NULL || sscanf(url, "http://127.0.0.1:%d", &port) != 1 || port <= 0 ||
        port > 65535 || (!statuses && !waits && !batch) || (waits && dir == NULL) ||
        count < 1 || count > 100000 || generates < 0 || generates > 1000 || threads < 1 ||
        threads > 64 || connections < 1 || connections > 32 || !tag_ok || !(delay_ms > 0)) {
        fprintf(stderr,
                "usage: %s --url http://127.0.0.1:PORT --part statuses [--count N] [--threads T] "
                "[--delay-ms MS] [--kv FILE] [--tag NAME] [--no-target]\n"
                "       %s --url http://127.0.0.1:PORT --part batch [--count N] [--connections C] "
                "[--delay-ms MS] [--kv FILE] [--tag NAME]\n"
                "       %s --url http://127.0.0.1:PORT --part waits --dir DIR [--count N] "
                "[--generates G] [--threads T] [--kv FILE]\n",
                argv[0], argv[0], argv[0]);
        return 2;
    }
    snprintf(base_url, sizeof base_url, "http://127.0.0.1:%d", port);
    if (kv_path) {
        kv = fopen(kv_path, "a");
        if (kv == NULL) {
            die(kv_path, strerror(errno));
        }
    }
    int status =
        statuses ? part_statuses((size_t)count, (uint32_t)threads, delay_ms, tag, target)
        : batch  ? part_batch((size_t)count, (uint32_t)connections, delay_ms, tag)
                 : part_waits((size_t)count, (size_t)generates, (uint32_t)threads, dir);
    if (kv) {
        fclose(kv);
    }
    return status;
}
