# Runs examples/ddp_gan on 2 processes for 2 short epochs and checks what it
# wrote:
#   cmake -DDDP_GAN=<exe> -DCHECK_IMAGES=<exe> -DOUT=<dir> -P check_ddp_gan.cmake
# sheets/epoch_00{1,2}.png: rank 0's sheet of the 25 fixed samples spread
# over both ranks (13 + 12), a 5x5 grid of 16x16 samples with padding 2
# (92x92 RGB); fid/00000.png ... 00049.png: every index once, 16x16 RGB.
foreach(var DDP_GAN CHECK_IMAGES OUT)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "check_ddp_gan.cmake: -D${var}=... is required")
  endif()
endforeach()
file(REMOVE_RECURSE "${OUT}")
execute_process(COMMAND "${DDP_GAN}" --world-size 2 --epochs 2 --out "${OUT}"
                RESULT_VARIABLE rc TIMEOUT 240)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "ddp_gan failed: ${rc}")
endif()
execute_process(COMMAND "${CHECK_IMAGES}" 92 92 3 "${OUT}/sheets/epoch_001.png"
                "${OUT}/sheets/epoch_002.png" RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "the sheets are not 92x92 RGB images")
endif()
set(expected "")
foreach(i RANGE 49)
  string(LENGTH "${i}" n)
  math(EXPR zeros "5 - ${n}")
  string(REPEAT "0" ${zeros} pad)
  list(APPEND expected "${pad}${i}.png")
endforeach()
file(GLOB written RELATIVE "${OUT}/fid" "${OUT}/fid/*")
list(SORT written)
if(NOT written STREQUAL expected)
  message(FATAL_ERROR "fid/ holds ${written}; expected 00000.png ... 00049.png, each once")
endif()
list(TRANSFORM written PREPEND "${OUT}/fid/")
execute_process(COMMAND "${CHECK_IMAGES}" 16 16 3 ${written} RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "fid/ files are not 16x16 RGB images")
endif()
