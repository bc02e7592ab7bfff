# cocoon_layer(NAME SOURCES ... DEPS ... [LIBS ...])
#
# Builds src/NAME as the static library co_NAME. Its headers are exported through
# ${CMAKE_BINARY_DIR}/inc/NAME/NAME -> src/NAME, so a consumer writes
# #include "NAME/module.h" and sees only the layers it (transitively) depends on.
function(cocoon_layer name)
  cmake_parse_arguments(L "" "" "SOURCES;DEPS;LIBS" ${ARGN})
  set(inc "${CMAKE_BINARY_DIR}/inc/${name}")
  file(MAKE_DIRECTORY "${inc}")
  if(NOT EXISTS "${inc}/${name}")
    file(CREATE_LINK "${CMAKE_CURRENT_SOURCE_DIR}" "${inc}/${name}" SYMBOLIC)
  endif()
  add_library(co_${name} STATIC ${L_SOURCES})
  target_include_directories(co_${name} PUBLIC "${inc}")
  set(deps "")
  foreach(d IN LISTS L_DEPS)
    list(APPEND deps co_${d})
  endforeach()
  target_link_libraries(co_${name} PUBLIC ${deps} ${L_LIBS})
endfunction()
