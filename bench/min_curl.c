/*
 * bench/min_curl.c: the same minimal status program with libcurl (one GET with the
 * same headers, body discarded), for comparison with min_status.c. Prints peak RSS
 * (ru_maxrss, KiB) at exit.
 *
 *   usage: min_curl BASE_URL
 */
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include <curl/curl.h>

static size_t sink(char *data, size_t size, size_t nmemb, void *user) {
    (void)data;
    (void)user;
    return size * nmemb;
}

int main(int argc, char **argv) {
    if (argc != 2 || strlen(argv[1]) > 200) {
        fprintf(stderr, "usage: %s BASE_URL\n", argv[0]);
        return 2;
    }
    char url[256];
    snprintf(url, sizeof url, "%s/text-to-sound/t1", argv[1]);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    CURL *h = curl_easy_init();
    struct curl_slist *headers = curl_slist_append(NULL, "x-api-key: bench-api-key-0123456789");
    headers = curl_slist_append(headers, "Accept: application/json");
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(h, CURLOPT_PROXY, "");
    CURLcode rc = curl_easy_perform(h);
    long code = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_cleanup(h);
    curl_slist_free_all(headers);
    curl_global_cleanup();
    if (rc != CURLE_OK || code != 200) {
        fprintf(stderr, "curl: %s, HTTP %ld\n", curl_easy_strerror(rc), code);
        return 1;
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("%ld\n", ru.ru_maxrss);
    return 0;
}
