# Whether a program of this build may construct a c10d ProcessGroupGloo:
# its header (ProcessGroupGloo.hpp) includes gloo's. Debian's libtorch links
# the system's gloo (libgloo.so.0), whose headers are libgloo-dev. pip's torch
# ships no gloo headers and carries its own gloo inside libtorch_cpu, whose
# version Debian's headers need not match. So TORCHIMAGE_SYSTEM_GLOO is TRUE,
# and the target torchimage_system_gloo (gloo's headers and library) defined,
# only where LibTorch links the system's gloo: there test_distributed,
# consumer_distributed and examples/ddp_gan are built. (The library's own
# src/distributed/ includes only ProcessGroup.hpp and Backend.hpp and is
# compiled against every LibTorch with c10d.)
find_path(TORCHIMAGE_GLOO_INCLUDE gloo/config.h)
find_library(TORCHIMAGE_GLOO_LIBRARY gloo)
set(TORCHIMAGE_SYSTEM_GLOO FALSE)
if(TORCHIMAGE_GLOO_INCLUDE AND TORCHIMAGE_GLOO_LIBRARY AND TARGET torch_cpu)
  get_target_property(_torch_cpu_location torch_cpu IMPORTED_LOCATION)
  get_target_property(_torch_cpu_configs torch_cpu IMPORTED_CONFIGURATIONS)
  foreach(_config IN LISTS _torch_cpu_configs)
    if(NOT _torch_cpu_location)
      get_target_property(_torch_cpu_location torch_cpu IMPORTED_LOCATION_${_config})
    endif()
  endforeach()
  find_program(TORCHIMAGE_READELF readelf)
  if(_torch_cpu_location AND TORCHIMAGE_READELF)
    execute_process(COMMAND ${TORCHIMAGE_READELF} -d ${_torch_cpu_location}
      OUTPUT_VARIABLE _torch_cpu_dynamic ERROR_QUIET)
    if(_torch_cpu_dynamic MATCHES "libgloo")
      set(TORCHIMAGE_SYSTEM_GLOO TRUE)
    endif()
  endif()
endif()
if(TORCHIMAGE_SYSTEM_GLOO)
  add_library(torchimage_system_gloo INTERFACE)
  target_include_directories(torchimage_system_gloo INTERFACE ${TORCHIMAGE_GLOO_INCLUDE})
  target_link_libraries(torchimage_system_gloo INTERFACE ${TORCHIMAGE_GLOO_LIBRARY})
else()
  message(STATUS "torchimage: test_distributed, consumer_distributed and ddp_gan not built: this "
                 "LibTorch does not link the system's gloo (libgloo-dev)")
endif()
