// camb_h_as_cpp: camb.h itself, compiled as C++17 and linked against libcamb. The
// include is the line that matters: without camb.h's `extern "C"` guards the names
// below would be mangled and the link would fail. main() calls into the library so
// that the link checks them. Exit status 0. Built and run by tests/cpp/CMakeLists.txt.
#include "camb.h"

int main() {
    return camb_status_is_final(CAMB_STATUS_SUCCESS) && camb_version() != nullptr ? 0 : 1;
}
