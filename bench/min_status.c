/*
 * bench/min_status.c: the minimal C status program whose peak RSS BENCHMARKS.md bounds:
 * create a client, make one status call, free it, and report this process's peak
 * resident set size (getrusage ru_maxrss, in KiB on Linux) at exit.
 *
 *   usage: min_status BASE_URL        (the bench server: http://127.0.0.1:PORT)
 */
#include <stdio.h>
#include <sys/resource.h>

#include "camb.h"

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s BASE_URL\n", argv[0]);
        return 2;
    }
    camb_client_builder *b = camb_client_builder_new();
    camb_client *client = NULL;
    if (b == NULL || camb_client_builder_set_api_key(b, "bench-api-key-0123456789") != 0 ||
        camb_client_builder_set_base_url(b, argv[1]) != 0 ||
        camb_client_builder_build(b, &client) != 0) {
        fprintf(stderr, "client: %s\n", camb_last_error());
        return 1;
    }
    camb_task *task = NULL;
    camb_result r = camb_client_get_task_status(client, "t1", NULL, &task);
    bool success = r == CAMB_RESULT_OK && camb_task_status(task) == CAMB_STATUS_SUCCESS;
    camb_task_free(task);
    camb_client_free(client);
    if (!success) {
        fprintf(stderr, "status: %s\n", r != CAMB_RESULT_OK ? camb_last_error() : "not SUCCESS");
        return 1;
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("%ld\n", ru.ru_maxrss);
    return 0;
}
