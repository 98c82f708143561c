/*
 * load: many status calls on ONE client, watching the process's memory and file
 * descriptors, to show that they stay flat (no leak per call, no connection or
 * socket left behind).
 *
 *   usage: load BASE_URL [--calls N] [--task ID] [--max-rss-growth-kb N]
 *                        [--max-connections N]
 *
 * The API key is read from CAMB_API_KEY. BASE_URL is normally a camb-emulator's
 * URL (task demo-success by default); for an http:// URL the emulator's
 * connections_accepted is read from its control API at the end.
 *
 * Every tenth of the calls it prints a row: calls so far, seconds, microseconds
 * per call over the last block, RSS (VmRSS from /proc/self/status) and the number
 * of open file descriptors (/proc/self/fd). Verdict, after the last row:
 *   - every call succeeded;
 *   - RSS grew by at most --max-rss-growth-kb (default 2048) from the first row
 *     (after a tenth of the calls: warmed up) to the last;
 *   - the descriptor count is the same at every row (flat);
 *   - the emulator accepted at most --max-connections connections during the run
 *     (default 10; 0: not checked): keep-alive connections are reused. (Its
 *     counter is read before and after; this program's own two stats requests
 *     are not counted.)
 * Exit status: 0 when the verdict holds, 1 when not, 2 on bad usage or setup failure.
 */
#define _POSIX_C_SOURCE 200809L

#include <arpa/inet.h>
#include <dirent.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "camb.h"

enum { ROWS = 10 };

static long rss_kb(void) {
    FILE *status = fopen("/proc/self/status", "r");
    if (status == NULL) {
        return -1;
    }
    char line[256];
    long kb = -1;
    while (fgets(line, sizeof line, status) != NULL) {
        if (strncmp(line, "VmRSS:", 6) == 0) {
            kb = strtol(line + 6, NULL, 10);
            break;
        }
    }
    fclose(status);
    return kb;
}

static int open_fds(void) {
    DIR *dir = opendir("/proc/self/fd");
    if (dir == NULL) {
        return -1;
    }
    int count = 0;
    struct dirent *entry;
    while ((entry = readdir(dir)) != NULL) {
        if (entry->d_name[0] != '.') {
            count++;
        }
    }
    closedir(dir);
    return count - 1; /* the directory's own descriptor */
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * Reads the emulator's connections_accepted from GET /_emulator/stats, over a
 * plain socket (http://127.0.0.1:PORT only). Returns -1 when it cannot.
 */
static long emulator_connections(const char *base_url) {
    unsigned a, b, c, d, port;
    char rest;
    int fields = sscanf(base_url, "http://%u.%u.%u.%u:%u%c", &a, &b, &c, &d, &port, &rest);
    if ((fields != 5 && !(fields == 6 && rest == '/')) || a > 255 || b > 255 || c > 255 ||
        d > 255 || port == 0 || port > 65535) {
        return -1;
    }
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)port);
    addr.sin_addr.s_addr = htonl((a << 24) | (b << 16) | (c << 8) | d);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) {
        return -1;
    }
    long connections = -1;
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) == 0) {
        char request[128];
        int n = snprintf(request, sizeof request,
                         "GET /_emulator/stats HTTP/1.0\r\nHost: %u.%u.%u.%u:%u\r\n\r\n", a, b, c,
                         d, port);
        /* The reply lists up to 1000 recent requests; only the first field is needed. */
        char reply[8192];
        size_t got = 0;
        if (n > 0 && send(fd, request, (size_t)n, 0) == (ssize_t)n) {
            ssize_t r;
            while (got < sizeof reply - 1 &&
                   (r = recv(fd, reply + got, sizeof reply - 1 - got, 0)) > 0) {
                got += (size_t)r;
            }
        }
        reply[got] = '\0';
        const char *field = strstr(reply, "\"connections_accepted\":");
        if (field != NULL) {
            connections = strtol(field + strlen("\"connections_accepted\":"), NULL, 10);
        }
    }
    close(fd);
    return connections;
}

static long parse_number(const char *flag, const char *text, long min) {
    char *end = NULL;
    long value = strtol(text, &end, 10);
    if (end == text || *end != '\0' || value < min) {
        fprintf(stderr, "load: %s needs a number >= %ld, not \"%s\"\n", flag, min, text);
        exit(2);
    }
    return value;
}

int main(int argc, char **argv) {
    long calls = 100000, max_growth_kb = 2048, max_connections = 10;
    const char *task_id = "demo-success";
    if (argc < 2 || argv[1][0] == '-') {
        fprintf(stderr,
                "usage: %s BASE_URL [--calls N] [--task ID] [--max-rss-growth-kb N] "
                "[--max-connections N]\n(the API key is read from CAMB_API_KEY)\n",
                argv[0]);
        return 2;
    }
    const char *base_url = argv[1];
    for (int i = 2; i < argc; i += 2) {
        if (i + 1 >= argc) {
            fprintf(stderr, "load: %s needs a value\n", argv[i]);
            return 2;
        }
        if (strcmp(argv[i], "--calls") == 0) {
            calls = parse_number(argv[i], argv[i + 1], ROWS);
        } else if (strcmp(argv[i], "--task") == 0) {
            task_id = argv[i + 1];
        } else if (strcmp(argv[i], "--max-rss-growth-kb") == 0) {
            max_growth_kb = parse_number(argv[i], argv[i + 1], 0);
        } else if (strcmp(argv[i], "--max-connections") == 0) {
            max_connections = parse_number(argv[i], argv[i + 1], 0);
        } else {
            fprintf(stderr, "load: unknown option %s\n", argv[i]);
            return 2;
        }
    }

    long connections_before = emulator_connections(base_url);
    long rss_start = rss_kb();
    int fds_start = open_fds();
    camb_client_builder *builder = camb_client_builder_new();
    if (builder == NULL) {
        fprintf(stderr, "load: out of memory\n");
        return 2;
    }
    camb_result r = camb_client_builder_set_base_url(builder, base_url);
    if (r != CAMB_RESULT_OK) {
        fprintf(stderr, "load: base URL: %s: %s\n", camb_result_name(r), camb_last_error());
        camb_client_builder_free(builder);
        return 2;
    }
    camb_client *client = NULL;
    r = camb_client_builder_build(builder, &client);
    if (r != CAMB_RESULT_OK) {
        fprintf(stderr, "load: creating the client: %s: %s\n", camb_result_name(r),
                camb_last_error());
        return 2;
    }

    printf("load: %ld status calls of %s on one client, %s\n", calls, task_id, base_url);
    printf("before the client: RSS %ld kB, %d fds\n", rss_start, fds_start);
    printf("%10s %9s %9s %10s %5s\n", "calls", "seconds", "us/call", "RSS kB", "fds");

    long failures = 0;
    long rss_first = -1, rss_last = -1;
    int fds_min = 0, fds_max = 0;
    long block = calls / ROWS;
    double started = now_s(), block_started = started;
    for (long i = 1; i <= calls; i++) {
        camb_task *task = NULL;
        r = camb_client_get_task_status(client, task_id, NULL, &task);
        /* Freed at once: a leak of one task per call would show in the RSS rows. */
        camb_task_free(task);
        if (r != CAMB_RESULT_OK) {
            if (failures < 5) {
                fprintf(stderr, "load: call %ld: %s: %s\n", i, camb_result_name(r),
                        camb_last_error());
            }
            failures++;
        }
        if (i % block == 0 || i == calls) {
            double t = now_s();
            long rss = rss_kb();
            int fds = open_fds();
            long in_block = i % block == 0 ? block : i % block;
            printf("%10ld %9.2f %9.1f %10ld %5d\n", i, t - started,
                   (t - block_started) * 1e6 / (double)in_block, rss, fds);
            fflush(stdout);
            block_started = t;
            if (rss_first < 0) {
                rss_first = rss;
                fds_min = fds_max = fds;
            }
            rss_last = rss;
            fds_min = fds < fds_min ? fds : fds_min;
            fds_max = fds > fds_max ? fds : fds_max;
        }
    }
    double elapsed = now_s() - started;
    camb_client_free(client);
    printf("after camb_client_free: RSS %ld kB, %d fds\n", rss_kb(), open_fds());

    long connections_after = emulator_connections(base_url);
    long connections = -1;
    if (connections_before >= 0 && connections_after >= 0) {
        /* The emulator counts a connection when it accepts it, so the stats request
         * before the run is in connections_before; the one after is the 1 here. */
        connections = connections_after - connections_before - 1;
        printf("emulator connections_accepted: %ld at the end, %ld before the run: %ld during "
               "the run\n",
               connections_after, connections_before, connections);
    } else {
        printf("emulator connections_accepted: unavailable\n");
    }

    long growth = rss_last - rss_first;
    bool calls_ok = failures == 0;
    bool rss_ok = rss_first >= 0 && growth <= max_growth_kb;
    bool fds_ok = fds_min == fds_max;
    bool connections_ok = max_connections == 0 || (connections >= 0 && connections <= max_connections);
    printf("verdict: %ld calls in %.2f s (%.1f us/call), %ld failed; RSS %+ld kB from the "
           "first row to the last (limit %ld): %s; fds %d..%d: %s; connections %ld (limit %ld): "
           "%s => %s\n",
           calls, elapsed, elapsed * 1e6 / (double)calls, failures, growth, max_growth_kb,
           rss_ok ? "flat" : "GREW", fds_min, fds_max, fds_ok ? "flat" : "CHANGED", connections,
           max_connections, max_connections == 0 ? "not checked" : connections_ok ? "ok" : "TOO MANY",
           calls_ok && rss_ok && fds_ok && connections_ok ? "PASS" : "FAIL");
    return calls_ok && rss_ok && fds_ok && connections_ok ? 0 : 1;
}
