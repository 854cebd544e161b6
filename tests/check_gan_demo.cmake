# Runs gan_demo for one short epoch and checks what it wrote:
#   cmake -DGAN_DEMO=<exe> -DCHECK_IMAGES=<exe> -DOUT=<dir> -P check_gan_demo.cmake
# epoch_001.png is an 8x8 grid of 32x32 samples with padding 2 (274x274 RGB);
# samples/00000.png ... 00015.png are one 32x32 RGB sample each.
foreach(var GAN_DEMO CHECK_IMAGES OUT)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "check_gan_demo.cmake: -D${var}=... is required")
  endif()
endforeach()

set(samples 16)
file(REMOVE_RECURSE "${OUT}")

execute_process(
  COMMAND "${GAN_DEMO}" --epochs 1 --batches-per-epoch 3 --samples ${samples} --out "${OUT}"
  RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "gan_demo failed: ${rc}")
endif()

file(GLOB events "${OUT}/runs/events.out.tfevents.*")
if(NOT events)
  message(FATAL_ERROR "gan_demo wrote no TensorBoard event file in ${OUT}/runs")
endif()
if(NOT EXISTS "${OUT}/epoch_001.png")
  message(FATAL_ERROR "gan_demo wrote no ${OUT}/epoch_001.png")
endif()
execute_process(COMMAND "${CHECK_IMAGES}" 274 274 3 "${OUT}/epoch_001.png" RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "epoch_001.png is not a 274x274 RGB image")
endif()

# progress.png: an APNG of the epochs' sheets, whose default image (what
# libpng reads) is the first.
execute_process(COMMAND "${CHECK_IMAGES}" 274 274 3 "${OUT}/progress.png" RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "progress.png is not a 274x274 RGB image")
endif()

file(GLOB written RELATIVE "${OUT}/samples" "${OUT}/samples/*")
list(SORT written)
set(expected "")
math(EXPR last "${samples} - 1")
foreach(i RANGE ${last})
  string(LENGTH "${i}" len)
  math(EXPR zeros "5 - ${len}")
  string(REPEAT "0" ${zeros} pad)
  list(APPEND expected "${pad}${i}.png")
endforeach()
if(NOT written STREQUAL expected)
  message(FATAL_ERROR "samples/ holds [${written}], expected [${expected}]")
endif()
list(TRANSFORM written PREPEND "${OUT}/samples/")
execute_process(COMMAND "${CHECK_IMAGES}" 32 32 3 ${written} RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "the per-sample files are not 32x32 RGB images")
endif()
