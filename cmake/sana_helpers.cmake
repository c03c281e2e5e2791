# sana_add_test(<name> SOURCES ... [LIBS ...] [LABELS ...])
#   A Catch2 test executable whose test cases are registered with CTest and carry LABELS.
function(sana_add_test name)
  cmake_parse_arguments(ARG "" "" "SOURCES;LIBS;LABELS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE sana_catch_main sana::sana ${ARG_LIBS})
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}/tests)
  target_compile_definitions(${name} PRIVATE SANA_TEST_DATA_DIR="${PROJECT_SOURCE_DIR}/tests/data")
  # --warn NoTests: a registered name that matches no test case (a name cut at ";") fails instead of passing.
  catch_discover_tests(${name} EXTRA_ARGS --warn NoTests PROPERTIES LABELS "${ARG_LABELS}" DISCOVERY_TIMEOUT 60)
endfunction()

# sana_add_bench(<name> SOURCES ... [LIBS ...])
function(sana_add_bench name)
  cmake_parse_arguments(ARG "" "" "SOURCES;LIBS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE benchmark::benchmark sana::sana ${ARG_LIBS})
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}/bench)
endfunction()
