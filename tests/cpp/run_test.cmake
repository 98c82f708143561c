# Runs one program of tests/cpp for ctest (see CMakeLists.txt), against the emulator
# that CAMB_BASE_URL and CAMB_API_KEY name (read when the test runs, not when CMake
# configures):
#   cmake -DPROGRAM=PATH -DKIND=checks|demo -DWORK_DIR=DIR -P run_test.cmake
# KIND checks: PROGRAM BASE_URL API_KEY WORK_DIR, with CAMB_API_KEY unset (the
#              programs check what happens without a key); exit status 0 expected.
# KIND demo:   PROGRAM BASE_URL WORK_DIR/demo.wav, the key in CAMB_API_KEY; exit
#              status 0 and both WAV files (demo.wav, demo.wav.generated.wav) expected.
# WORK_DIR is emptied first. The program's output goes to ctest as it is.
cmake_minimum_required(VERSION 3.16)

foreach(setting IN ITEMS PROGRAM KIND WORK_DIR)
  if("${${setting}}" STREQUAL "")
    message(FATAL_ERROR "run_test.cmake: -D${setting}=... is missing")
  endif()
endforeach()

set(url "$ENV{CAMB_BASE_URL}")
set(key "$ENV{CAMB_API_KEY}")
if(url STREQUAL "" OR key STREQUAL "")
  message(FATAL_ERROR
    "CAMB_BASE_URL and CAMB_API_KEY must name a running camb-emulator and its key "
    "(tests/cpp.rs sets both; see tests/cpp/CMakeLists.txt to run ctest by hand)")
endif()
# Only ever a local emulator: never the real service, whatever key is around.
if(NOT url MATCHES "^http://(127\\.0\\.0\\.1|localhost|\\[::1\\])(:[0-9]+)?(/.*)?$")
  message(FATAL_ERROR "CAMB_BASE_URL is ${url}: these tests run against a local emulator only")
endif()

file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")

if(KIND STREQUAL "checks")
  unset(ENV{CAMB_API_KEY})
  execute_process(COMMAND "${PROGRAM}" "${url}" "${key}" "${WORK_DIR}"
                  RESULT_VARIABLE status TIMEOUT 280)
  if(NOT status STREQUAL "0")
    message(FATAL_ERROR "${PROGRAM} failed: ${status}")
  endif()
elseif(KIND STREQUAL "demo")
  set(wav "${WORK_DIR}/demo.wav")
  execute_process(COMMAND "${PROGRAM}" "${url}" "${wav}" RESULT_VARIABLE status TIMEOUT 280)
  if(NOT status STREQUAL "0")
    message(FATAL_ERROR "${PROGRAM} failed: ${status}")
  endif()
  foreach(file IN ITEMS "${wav}" "${wav}.generated.wav")
    if(NOT EXISTS "${file}")
      message(FATAL_ERROR "${PROGRAM} did not save a WAV file at ${file}")
    endif()
    file(SIZE "${file}" size)
    if(size LESS_EQUAL 44)
      message(FATAL_ERROR "${file} has ${size} bytes: no audio after the WAV header")
    endif()
  endforeach()
else()
  message(FATAL_ERROR "run_test.cmake: KIND is checks or demo, not ${KIND}")
endif()
