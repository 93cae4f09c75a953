# auditq_add_test(name SOURCES a.cc b.cc LIBS lib... LABELS unit|integration [TIMEOUT s])
# One GoogleTest binary; every test case in it is registered with CTest on its own
# (gtest_discover_tests), so `ctest -R Suite.Case` runs one case and the suite reports real
# counts. Each case gets the hard timeout, so a hung server never hangs CI.
find_package(GTest REQUIRED)
include(GoogleTest)

function(auditq_add_test name)
  cmake_parse_arguments(T "" "TIMEOUT" "SOURCES;LIBS;LABELS" ${ARGN})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 120)
  endif()
  add_executable(${name} ${T_SOURCES})
  target_link_libraries(${name} PRIVATE ${T_LIBS} GTest::gtest GTest::gtest_main)
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}/src ${PROJECT_SOURCE_DIR}/tests)
  gtest_discover_tests(${name}
    EXTRA_ARGS --gtest_color=no
    DISCOVERY_TIMEOUT 60
    PROPERTIES TIMEOUT ${T_TIMEOUT} LABELS "${T_LABELS}")
endfunction()
