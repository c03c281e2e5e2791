# ctest driver for `sana generate` / `sana info` on the tiny fixture folder: one good run (PNG written), then
# every bad input of issue 7 item 5 — each must exit non-zero with a one-line message naming the problem and
# leave no output file.
#   cmake -DSANA=<sana> -DMODEL=<tests/data/pipeline/tiny_sana> -DWORK=<scratch dir> -P test_cli_generate.cmake
file(REMOVE_RECURSE ${WORK})
file(MAKE_DIRECTORY ${WORK}/out)

execute_process(COMMAND ${SANA} generate -p "a cat" --model ${MODEL} --steps 2 -o ${WORK}/out/good.png
                RESULT_VARIABLE rc ERROR_VARIABLE err)
if(NOT rc EQUAL 0 OR NOT EXISTS ${WORK}/out/good.png)
  message(FATAL_ERROR "good run failed (${rc}): ${err}")
endif()
file(REMOVE ${WORK}/out/good.png)
execute_process(COMMAND ${SANA} info ${MODEL} RESULT_VARIABLE rc OUTPUT_VARIABLE out)
if(NOT rc EQUAL 0 OR NOT out MATCHES "parameters: 17192")
  message(FATAL_ERROR "sana info failed (${rc}):\n${out}")
endif()

# Broken copies of the folder.
file(COPY ${MODEL}/ DESTINATION ${WORK}/no_vae)
file(REMOVE_RECURSE ${WORK}/no_vae/vae)
file(COPY ${MODEL}/ DESTINATION ${WORK}/bad_sched)
file(READ ${MODEL}/scheduler/scheduler_config.json s)
string(REPLACE "DPMSolverMultistepScheduler" "MysteryScheduler" s "${s}")
file(WRITE ${WORK}/bad_sched/scheduler/scheduler_config.json "${s}")
file(COPY ${MODEL}/ DESTINATION ${WORK}/bad_shape)
file(READ ${MODEL}/transformer/config.json s)
string(REPLACE "\"caption_channels\": 32" "\"caption_channels\": 48" s "${s}")
file(WRITE ${WORK}/bad_shape/transformer/config.json "${s}")
file(WRITE ${WORK}/broken.json "[{\"prompt\": \"a cat\"}, {\"prompt\": 3}]")

set(base "generate^-p^a cat^--steps^2")  # ^ separates arguments inside one case
# name | expected exit | message regex | arguments
set(cases
  "missing-vae|1|vae|${base}^--model^${WORK}/no_vae^-o^${WORK}/out/a.png"
  "unknown-scheduler|1|MysteryScheduler|${base}^--model^${WORK}/bad_sched^-o^${WORK}/out/b.png"
  "wrong-shape|1|caption|${base}^--model^${WORK}/bad_shape^-o^${WORK}/out/c.png"
  "size|2|multiples of 32|${base}^--model^${MODEL}^-W^100^-o^${WORK}/out/d.png"
  "prompt-file|1|broken.json|generate^--json-file^${WORK}/broken.json^--model^${MODEL}^--steps^2^-o^${WORK}/out/e.png"
  "unwritable|1|does not exist|${base}^--model^${MODEL}^-o^${WORK}/nowhere/f.png"
  "sampler|2|unknown sampler|${base}^--model^${MODEL}^--sampler^ddim^-o^${WORK}/out/g.png"
  "missing-model|1|does not exist|${base}^--model^${WORK}/absent^-o^${WORK}/out/h.png")
foreach(c IN LISTS cases)
  string(REPLACE "|" ";" parts "${c}")
  list(GET parts 0 name)
  list(GET parts 1 want_rc)
  list(GET parts 2 want_msg)
  list(GET parts 3 args)
  string(REPLACE "^" ";" args "${args}")
  execute_process(COMMAND ${SANA} ${args} RESULT_VARIABLE rc OUTPUT_VARIABLE o ERROR_VARIABLE e)
  string(STRIP "${e}" e)
  if(NOT rc EQUAL want_rc)
    message(FATAL_ERROR "${name}: expected exit ${want_rc}, got ${rc}: ${e}")
  endif()
  if(NOT e MATCHES "${want_msg}" OR e MATCHES "\n")
    message(FATAL_ERROR "${name}: expected one line naming '${want_msg}', got:\n${e}")
  endif()
  file(GLOB left ${WORK}/out/* ${WORK}/out/.*)
  if(left)
    message(FATAL_ERROR "${name}: left files behind: ${left}")
  endif()
  message(STATUS "${name}: exit ${rc}: ${e}")
endforeach()
