# Package config for consumers that install minigemm standalone (find_package(minigemm)).
get_filename_component(_minigemm_prefix "${CMAKE_CURRENT_LIST_DIR}/.." ABSOLUTE)
if(NOT TARGET minigemm::headers)
  add_library(minigemm::headers INTERFACE IMPORTED)
  set_target_properties(minigemm::headers PROPERTIES
    INTERFACE_INCLUDE_DIRECTORIES "${_minigemm_prefix}/include")
endif()
unset(_minigemm_prefix)
